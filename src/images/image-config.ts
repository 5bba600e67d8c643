import {createRequire} from 'node:module'
import type http from 'node:http'
import type https from 'node:https'

import {MindbgError} from '../domain/errors.js'
import {parseImageReference} from './reference.js'
import {registryAuth, type RegistryAuth} from './registry-auth.js'

// Through require(), not import (as src/backends/kubernetes/api.ts does): the ESM view of node:http loads undici.
const nodeRequire = createRequire(import.meta.url)
const httpModule = nodeRequire('node:http') as typeof http
const httpsModule = nodeRequire('node:https') as typeof https

/** What an image runs when the pod spec says nothing: its config's Entrypoint and Cmd. */
export interface ImageCommand {
  entrypoint: string[]
  cmd: string[]
}

const ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ')

interface Answer {
  status: number
  headers: http.IncomingHttpHeaders
  body: Buffer
}

/**
 * Reads an image's Entrypoint and Cmd from its registry (Docker Registry HTTP API V2 / OCI distribution): the
 * manifest (for a multi-platform image, the one for `platform`), then the config blob. Credentials as the docker CLI
 * finds them (./registry-auth.ts), as Basic or for a Bearer token from the registry's realm. Registries on loopback
 * are spoken to over plain HTTP, as the Docker daemon does. Fails with a MindbgError whose hint says what to do.
 */
export async function readImageCommand(image: string, platform: {os: string; architecture: string}, env: NodeJS.ProcessEnv = process.env): Promise<ImageCommand> {
  const ref = parseImageReference(image)
  const host = ref.registry === undefined || ref.registry === 'docker.io' ? 'registry-1.docker.io' : ref.registry
  const path = ref.registry === undefined && !ref.path.includes('/') ? `library/${ref.path}` : ref.path
  const loopback = /^(localhost|127\.[0-9.]+|\[::1\])(:\d+)?$/.test(host)
  const base = `${loopback ? 'http' : 'https'}://${host}/v2/${path}`
  const auth = await registryAuth(ref, env)
  let authorization: string | undefined = basic(auth)
  const failed = (why: string): MindbgError =>
    new MindbgError(
      'imageUnavailable',
      `cannot read the entrypoint of ${image} from its registry (${why})`,
      `--hold needs it: log in (docker login ${ref.registry ?? 'docker.io'}), or give the container a command in the pod spec.`,
    )

  const get = async (url: string, accept: string): Promise<Answer> => {
    let answer = await request(url, {Accept: accept, ...(authorization ? {Authorization: authorization} : {})})
    if (answer.status === 401) {
      const challenge = String(answer.headers['www-authenticate'] ?? '')
      if (/^bearer/i.test(challenge)) {
        authorization = `Bearer ${await token(challenge, auth)}`
        answer = await request(url, {Accept: accept, Authorization: authorization})
      }
    }
    if (answer.status === 401 || answer.status === 403) throw failed(`${answer.status}: not allowed${auth ? ' with your docker credentials' : ' without credentials'}`)
    if (answer.status === 404) throw failed('404: no such image or tag')
    if (answer.status >= 300) throw failed(`HTTP ${answer.status}`)
    return answer
  }

  try {
    let manifest = await get(`${base}/manifests/${ref.digest ?? ref.tag ?? 'latest'}`, ACCEPT)
    let doc = JSON.parse(manifest.body.toString('utf8')) as {manifests?: Array<{digest: string; platform?: {os?: string; architecture?: string}}>; config?: {digest: string}}
    if (doc.manifests) {
      const match = doc.manifests.find((m) => m.platform?.os === platform.os && m.platform?.architecture === platform.architecture)
      if (!match) throw failed(`no ${platform.os}/${platform.architecture} image in its index`)
      manifest = await get(`${base}/manifests/${match.digest}`, ACCEPT)
      doc = JSON.parse(manifest.body.toString('utf8')) as typeof doc
    }
    if (!doc.config?.digest) throw failed('a manifest without a config')
    const config = JSON.parse((await get(`${base}/blobs/${doc.config.digest}`, '*/*')).body.toString('utf8')) as {config?: {Entrypoint?: string[] | null; Cmd?: string[] | null}}
    return {entrypoint: config.config?.Entrypoint ?? [], cmd: config.config?.Cmd ?? []}
  } catch (error) {
    if (error instanceof MindbgError) throw error
    throw failed(`${(error as {code?: string}).code ?? (error as Error).message} from ${host}`)
  }
}

function basic(auth: RegistryAuth | undefined): string | undefined {
  if (!auth || !('username' in auth)) return undefined
  return `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`
}

/** A Bearer token from the realm of a `WWW-Authenticate: Bearer realm=...,service=...,scope=...` challenge. */
async function token(challenge: string, auth: RegistryAuth | undefined): Promise<string> {
  const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]))
  const url = new URL(params.realm ?? '')
  for (const key of ['service', 'scope']) if (params[key]) url.searchParams.set(key, params[key])
  const answer = await request(url.toString(), basic(auth) ? {Authorization: basic(auth)!} : {})
  const body = JSON.parse(answer.body.toString('utf8')) as {token?: string; access_token?: string}
  return body.token ?? body.access_token ?? ''
}

function request(url: string, headers: Record<string, string>, redirects = 3): Promise<Answer> {
  const lib = url.startsWith('https:') ? httpsModule : httpModule
  return new Promise((resolve, reject) => {
    const req = lib.get(url, {headers, timeout: 15_000}, (res) => {
      const location = res.headers.location
      // Blobs are often served from elsewhere (a CDN): follow, without our Authorization.
      if (location && res.statusCode && res.statusCode >= 300 && res.statusCode < 400 && redirects > 0) {
        res.resume()
        resolve(request(new URL(location, url).toString(), {Accept: headers.Accept ?? '*/*'}, redirects - 1))
        return
      }
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks)}))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), {code: 'ETIMEDOUT'})))
    req.on('error', reject)
  })
}
