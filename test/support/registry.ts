/**
 * A minimal, read-only Docker Registry (HTTP API V2) for tests, in plain node:http: no network, no registry image,
 * no new dependency. It serves images exported with `docker save` from the local engine:
 *
 *   GET  /v2/                                  200 and Docker-Distribution-API-Version: registry/2.0
 *   GET|HEAD /v2/<name>/manifests/<tag|digest>  a schema2 manifest (Docker-Content-Digest, Content-Type, Content-Length)
 *   GET|HEAD /v2/<name>/blobs/<digest>          the config JSON, or a layer as an uncompressed tar (Range supported)
 *
 * Anything else answers with a registry-style JSON error (MANIFEST_UNKNOWN, BLOB_UNKNOWN, NAME_UNKNOWN, ...).
 * Names may be nested (a/b/c). With `auth`, every /v2 request needs HTTP basic credentials, else 401 with
 * `WWW-Authenticate: Basic realm="mindbg-test"`.
 *
 * The Docker daemon treats registries on 127.0.0.0/8 as insecure (plain HTTP) by default, so
 * `docker pull 127.0.0.1:PORT/name:tag` works against it without any daemon configuration.
 *
 * Note for tests: Docker skips the whole download when an image with the same ID (= config digest) is already
 * present, so serve an image whose config is not in the engine (see uniqueImage()) to see blob requests.
 */
import {execFile} from 'node:child_process'
import {createHash, randomBytes, timingSafeEqual} from 'node:crypto'
import http from 'node:http'
import type {AddressInfo} from 'node:net'

import {readTar} from '../../src/domain/tar.js'

export const MEDIA_TYPE = {
  manifest: 'application/vnd.docker.distribution.manifest.v2+json',
  config: 'application/vnd.docker.container.image.v1+json',
  layer: 'application/vnd.docker.image.rootfs.diff.tar',
} as const

export interface RegistryImage {
  /** Repository name in the registry, e.g. "mindbg-test/busybox" (nested names allowed). */
  name: string
  tag: string
  /** A local image reference (name:tag or ID) to `docker save`. */
  from: string
}

export interface RegistryOptions {
  images: RegistryImage[]
  auth?: {username: string; password: string}
}

export interface Registry {
  /** "127.0.0.1:PORT": prefix image names with it, e.g. `${host}/mindbg-test/busybox:v1`. */
  host: string
  /** Every request received, as "METHOD /path" (query strings dropped), in order. Clear it with `requests.length = 0`. */
  requests: string[]
  /** The manifest digest ("sha256:...") served for name:tag. */
  manifestDigest(name: string, tag: string): string
  close(): Promise<void>
}

// ---------------------------------------------------------------------------------------------------------------
// ---------------------------------------------------------------------------------------------------------------
// Images out of `docker save`.

const sha256 = (data: Buffer): string => `sha256:${createHash('sha256').update(data).digest('hex')}`

interface SavedImage {
  config: Buffer
  layers: Buffer[]
}

function dockerSave(ref: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    execFile('docker', ['save', ref], {encoding: 'buffer', maxBuffer: 2 ** 31 - 1}, (error, stdout, stderr) => {
      if (error) reject(new Error(`docker save ${ref} failed: ${stderr.toString().trim() || error.message}`))
      else resolve(stdout)
    })
  })
}

/** The config and layer tars of the (single) image in a `docker save` archive. */
export function parseDockerSave(archive: Buffer, what = 'archive'): SavedImage {
  const files = new Map<string, Buffer>()
  // mindbg's own tar reader (the one `cp` and collect steps use).
  for (const entry of readTar(archive)) if (entry.type === 'file') files.set(entry.path.replace(/^\.\//, ''), entry.data)
  const manifestJson = files.get('manifest.json')
  if (!manifestJson) throw new Error(`${what}: no manifest.json (not a docker save archive?)`)
  const [image] = JSON.parse(manifestJson.toString('utf8')) as Array<{Config: string; Layers: string[]}>
  if (!image) throw new Error(`${what}: manifest.json lists no image`)
  const get = (name: string): Buffer => {
    const data = files.get(name)
    if (!data) throw new Error(`${what}: ${name} is listed in manifest.json but missing`)
    return data
  }
  const config = get(image.Config)
  const layers = image.Layers.map(get)
  // Docker checks each uncompressed layer against the config's diff_ids: fail here, clearly, rather than in a pull.
  const diffIds = (JSON.parse(config.toString('utf8')) as {rootfs?: {diff_ids?: string[]}}).rootfs?.diff_ids ?? []
  const digests = layers.map(sha256)
  if (diffIds.length !== digests.length || diffIds.some((d, i) => d !== digests[i])) {
    throw new Error(`${what}: layer digests ${digests.join(', ')} do not match the config's diff_ids ${diffIds.join(', ')}`)
  }
  return {config, layers}
}

// ---------------------------------------------------------------------------------------------------------------
// The HTTP server.

interface Repository {
  tags: Map<string, string> // tag -> manifest digest
  manifests: Map<string, Buffer> // digest -> manifest bytes
  blobs: Set<string>
}

const NAME = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/
const TAG = /^[\w][\w.-]{0,127}$/
const DIGEST = /^sha256:[a-f0-9]{64}$/

export async function startRegistry(options: RegistryOptions): Promise<Registry> {
  const blobs = new Map<string, Buffer>()
  const repos = new Map<string, Repository>()
  const saved = new Map<string, Promise<SavedImage>>()

  for (const image of options.images) {
    if (!NAME.test(image.name)) throw new Error(`bad repository name ${JSON.stringify(image.name)}`)
    if (!TAG.test(image.tag)) throw new Error(`bad tag ${JSON.stringify(image.tag)}`)
    let pending = saved.get(image.from)
    if (!pending) {
      pending = dockerSave(image.from).then((archive) => parseDockerSave(archive, `docker save ${image.from}`))
      saved.set(image.from, pending)
    }
    const {config, layers} = await pending
    const configDigest = sha256(config)
    const layerDigests = layers.map(sha256)
    blobs.set(configDigest, config)
    layers.forEach((layer, i) => blobs.set(layerDigests[i]!, layer))
    const manifest = Buffer.from(
      JSON.stringify(
        {
          schemaVersion: 2,
          mediaType: MEDIA_TYPE.manifest,
          config: {mediaType: MEDIA_TYPE.config, size: config.length, digest: configDigest},
          layers: layers.map((layer, i) => ({mediaType: MEDIA_TYPE.layer, size: layer.length, digest: layerDigests[i]})),
        },
        null,
        3,
      ),
    )
    const manifestDigest = sha256(manifest)
    const repo = repos.get(image.name) ?? {tags: new Map(), manifests: new Map(), blobs: new Set()}
    repos.set(image.name, repo)
    repo.tags.set(image.tag, manifestDigest)
    repo.manifests.set(manifestDigest, manifest)
    for (const digest of [configDigest, ...layerDigests]) repo.blobs.add(digest)
  }

  const requests: string[] = []
  const expectedAuth = options.auth
    ? Buffer.from(`Basic ${Buffer.from(`${options.auth.username}:${options.auth.password}`).toString('base64')}`)
    : undefined

  const server = http.createServer((req, res) => {
    const method = req.method ?? 'GET'
    const path = (req.url ?? '/').split('?')[0]!
    requests.push(`${method} ${path}`)
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0')
    const head = method === 'HEAD'

    const send = (status: number, headers: Record<string, string | number>, body: Buffer): void => {
      res.writeHead(status, {...headers, 'Content-Length': body.length})
      res.end(head ? undefined : body)
    }
    const error = (status: number, code: string, message: string, detail: unknown = null, headers: Record<string, string> = {}): void =>
      send(status, {'Content-Type': 'application/json; charset=utf-8', ...headers}, Buffer.from(JSON.stringify({errors: [{code, message, detail}]}) + '\n'))

    if (path !== '/v2' && !path.startsWith('/v2/')) return error(404, 'NOT_FOUND', 'not a registry API route', {path})

    if (expectedAuth) {
      const given = Buffer.from(req.headers.authorization ?? '')
      if (given.length !== expectedAuth.length || !timingSafeEqual(given, expectedAuth)) {
        return error(401, 'UNAUTHORIZED', 'authentication required', null, {'WWW-Authenticate': 'Basic realm="mindbg-test"'})
      }
    }

    if (path === '/v2' || path === '/v2/') {
      if (method !== 'GET' && !head) return error(405, 'UNSUPPORTED', 'the operation is unsupported', null, {Allow: 'GET, HEAD'})
      return send(200, {'Content-Type': 'application/json; charset=utf-8'}, Buffer.from('{}'))
    }

    const route = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(path)
    if (!route) return error(404, 'NAME_UNKNOWN', 'repository name not known to registry (or unsupported route)', {path})
    const [, name, kind, ref] = route as unknown as [string, string, 'manifests' | 'blobs', string]
    if (method !== 'GET' && !head) return error(405, 'UNSUPPORTED', 'this registry is read-only', null, {Allow: 'GET, HEAD'})
    const repo = repos.get(name)
    if (!repo) return error(404, 'NAME_UNKNOWN', 'repository name not known to registry', {name})

    if (kind === 'manifests') {
      const digest = DIGEST.test(ref) ? ref : repo.tags.get(ref)
      const manifest = digest === undefined ? undefined : repo.manifests.get(digest)
      if (!digest || !manifest) return error(404, 'MANIFEST_UNKNOWN', 'manifest unknown', {name, [DIGEST.test(ref) ? 'digest' : 'tag']: ref})
      return send(200, {'Content-Type': MEDIA_TYPE.manifest, 'Docker-Content-Digest': digest, ETag: `"${digest}"`}, manifest)
    }

    const blob = DIGEST.test(ref) && repo.blobs.has(ref) ? blobs.get(ref) : undefined
    if (!blob) return error(404, 'BLOB_UNKNOWN', 'blob unknown to registry', {digest: ref})
    const headers = {
      'Content-Type': 'application/octet-stream',
      'Docker-Content-Digest': ref,
      ETag: `"${ref}"`,
      'Accept-Ranges': 'bytes',
      'Cache-Control': 'max-age=31536000',
    }
    const range = req.headers.range
    if (range) {
      const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim())
      let start = m?.[1] ? Number(m[1]) : undefined
      let end = m?.[2] ? Number(m[2]) : undefined
      if (m && start === undefined && end !== undefined) [start, end] = [Math.max(0, blob.length - end), blob.length - 1] // suffix
      if (!m || start === undefined || start >= blob.length || (end !== undefined && end < start)) {
        res.writeHead(416, {...headers, 'Content-Range': `bytes */${blob.length}`, 'Content-Length': 0})
        return res.end()
      }
      const last = Math.min(end ?? blob.length - 1, blob.length - 1)
      return send(206, {...headers, 'Content-Range': `bytes ${start}-${last}/${blob.length}`}, blob.subarray(start, last + 1))
    }
    return send(200, headers, blob)
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  const {port} = server.address() as AddressInfo

  return {
    host: `127.0.0.1:${port}`,
    requests,
    manifestDigest(name, tag) {
      const digest = repos.get(name)?.tags.get(tag)
      if (!digest) throw new Error(`the registry serves no ${name}:${tag}`)
      return digest
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()))
        // The Docker daemon keeps connections alive: without this, close() would wait for them to time out.
        server.closeAllConnections()
      }),
  }
}

// ---------------------------------------------------------------------------------------------------------------

function docker(...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('docker', args, {encoding: 'utf8'}, (error, stdout, stderr) => {
      if (error) reject(new Error(`docker ${args.join(' ')} failed: ${stderr.trim() || error.message}`))
      else resolve(stdout.trim())
    })
  })
}

/**
 * A local image with the filesystem of `base` but a config (hence an image ID) that no other image has: a LABEL
 * with a random value, built offline with the legacy builder (no layer is added). Returns its tag; serve it with
 * startRegistry(), then remove it with `docker rmi` so that a pull has to fetch it.
 */
export async function uniqueImage(base: string, repository = 'mindbg-test/unique'): Promise<string> {
  const nonce = randomBytes(6).toString('hex')
  const tag = `${repository}:${nonce}`
  await new Promise<void>((resolve, reject) => {
    const child = execFile('docker', ['build', '--quiet', '--tag', tag, '-'], {env: {...process.env, DOCKER_BUILDKIT: '0'}}, (error, _stdout, stderr) => {
      if (error) reject(new Error(`docker build of ${tag} failed: ${stderr.trim() || error.message}`))
      else resolve()
    })
    child.stdin!.end(`FROM ${base}\nLABEL org.mindbg.test.nonce=${nonce}\n`)
  })
  await docker('image', 'inspect', tag)
  return tag
}
