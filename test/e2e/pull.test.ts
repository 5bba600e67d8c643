/**
 * Pulling the debug image (--pull always|missing|never) against a real registry: test/support/registry.ts serves
 * images from the local engine over the Registry HTTP API V2 on 127.0.0.1 (an insecure registry by default, so the
 * daemon talks plain HTTP to it). Nothing leaves the machine.
 *
 * The served image is a unique copy of the busybox fixture (same layer, new config, hence a new image ID): Docker
 * skips a pull entirely when the image ID is already present, so a copy of the fixture itself would never be fetched.
 *
 * The registry runs in this process: never call a synchronous docker command (helpers' docker()) while mindbg or
 * docker is pulling from it, or the registry cannot answer.
 *
 * mindbg runs with an empty DOCKER_CONFIG and XDG_CONFIG_HOME, so that no registry credentials and no mindbg config
 * file of this machine's user play a part; the test that needs credentials writes its own Docker config.
 */
import {execFile, execFileSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import pty from '@lydell/node-pty'
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'

import {readTar} from '../../src/domain/tar.js'
import {type Registry, startRegistry, uniqueImage} from '../support/registry.js'
import {BIN, BUSYBOX, DISTROLESS, docker, dockerOk, mindbg, removeTargets, requireEngine, ROOT, sidecarsOf, startTarget, testEnv} from './helpers.js'

const REPO = 'mindbg-test/pull/busybox' // nested on purpose
const TAGS = ['missing', 'always', 'never', 'quiet', 'pty'] as const
const AUTH = {username: 'mindbg', password: 's3cret'}

let registry: Registry
let authRegistry: Registry
let source: string
let web: string
/** The target's platform (os/arch[/variant]): mindbg pulls for it and may say so in its "Pulling" line. */
let platform: string
let home: string
const pulled = new Set<string>()

/** mindbg's environment: nothing from this machine's Docker or mindbg configuration. */
const isolated = (extra: Record<string, string | undefined> = {}): Record<string, string | undefined> => ({
  DOCKER_CONFIG: path.join(home, 'docker'),
  XDG_CONFIG_HOME: path.join(home, 'config'),
  MINDBG_CONFIG: undefined,
  ...extra,
})
const run = (args: string[], env: Record<string, string | undefined> = {}): ReturnType<typeof mindbg> => mindbg(args, {env: isolated(env)})

/** The first progress line: "Pulling REF", or "Pulling REF (PLATFORM)" with the target's platform. */
const pullingLine = (image: string): RegExp => new RegExp(`^Pulling ${escape(image)}(?: \\(${escape(platform)}\\))?$`)

/** The registry reference of a tag; remembered for clean-up. */
function ref(tag: string, reg: Registry = registry): string {
  const r = `${reg.host}/${REPO}:${tag}`
  pulled.add(r)
  return r
}

/** `docker` without blocking the event loop (the registry lives in this process). */
function dockerAsync(...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('docker', args, {encoding: 'utf8'}, (error, stdout, stderr) => {
      if (error) reject(new Error(`docker ${args.join(' ')}: ${stderr.trim() || error.message}`))
      else resolve(stdout.trim())
    })
  })
}

const imageId = (image: string): string | undefined => {
  try {
    return docker('image', 'inspect', '--format', '{{.Id}}', image)
  } catch {
    return undefined
  }
}

const lines = (text: string): string[] => text.trimEnd().split('\n').filter((l) => l !== '')
/** Requests that fetched something of REPO (manifests or blobs), as "METHOD /v2/..." lines. */
const repoRequests = (reg: Registry = registry): string[] => reg.requests.filter((r) => r.includes(`/v2/${REPO}/`))

beforeAll(async () => {
  requireEngine()
  home = mkdtempSync(path.join(os.tmpdir(), 'mindbg-pull-'))
  mkdirSync(path.join(home, 'docker'))
  mkdirSync(path.join(home, 'config'))
  source = await uniqueImage(BUSYBOX, 'mindbg-test/pull-source')
  ;[registry, authRegistry] = await Promise.all([
    startRegistry({images: TAGS.map((tag) => ({name: REPO, tag, from: source}))}),
    startRegistry({images: [{name: REPO, tag: 'auth', from: source}], auth: AUTH}),
  ])
  // Only the registry has the image now (its layer stays: the busybox fixture shares it).
  docker('rmi', source)
  web = startTarget()
  platform = docker('image', 'inspect', '--format', '{{.Os}}/{{.Architecture}}{{with .Variant}}/{{.}}{{end}}', DISTROLESS)
})

afterEach(() => {
  if (pulled.size > 0) dockerOk('rmi', '-f', ...pulled)
  pulled.clear()
  registry.requests.length = 0
  authRegistry.requests.length = 0
})

afterAll(async () => {
  removeTargets()
  if (source) dockerOk('rmi', '-f', source)
  await Promise.all([registry?.close(), authRegistry?.close()])
  if (home) rmSync(home, {recursive: true, force: true})
})

describe('--pull missing (the default)', () => {
  it('pulls an absent image from the registry with plain progress lines, then runs the command', async () => {
    const image = ref('missing')
    expect(imageId(image)).toBeUndefined()

    const r = await run(['attach', web, '--image', image, '--', 'ps'])
    expect(r.code, r.stderr).toBe(0)
    // stderr is a pipe: one line when the pull begins, one when it ends, nothing else.
    const progress = lines(r.stderr)
    expect(progress, r.stderr).toHaveLength(2)
    expect(progress[0]).toMatch(pullingLine(image))
    expect(progress[1]).toBe(`Pulled ${image}`)
    expect(r.stdout).toMatch(/^\s*1 \S+\s+\/app\/web\b/m)

    // The engine fetched the manifest and the config blob (the image ID is the config's digest) from our registry.
    const id = imageId(image)
    expect(id).toMatch(/^sha256:[0-9a-f]{64}$/)
    const requests = repoRequests()
    expect(requests).toContain(`GET /v2/${REPO}/manifests/${registry.manifestDigest(REPO, 'missing')}`)
    expect(requests).toContain(`GET /v2/${REPO}/blobs/${id}`)
    expect(docker('image', 'inspect', '--format', '{{json .RepoDigests}}', image)).toContain(`${registry.host}/${REPO}@${registry.manifestDigest(REPO, 'missing')}`)

    // Second run: the image is present, the registry is not contacted at all.
    registry.requests.length = 0
    const again = await run(['attach', web, '--image', image, '--', 'ps'])
    expect(again.code, again.stderr).toBe(0)
    expect(again.stderr).toBe('')
    expect(again.stdout).toMatch(/\/app\/web/)
    expect(registry.requests).toEqual([])
  })

  it('-q pulls without printing anything on stderr', async () => {
    const image = ref('quiet')
    expect(imageId(image)).toBeUndefined()
    const r = await run(['attach', '-q', web, '--image', image, '--', 'ps'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toBe('')
    expect(r.stdout).toMatch(/\/app\/web/)
    // It did pull (so the silence is -q's doing, not a skipped pull): the image appeared, and the engine asked our
    // registry for the manifest. The engine may ask with HEAD alone when it still knows the manifest's digest from an
    // earlier pull of the same content (another tag here), hence either method.
    expect(repoRequests().some((q) => /^(GET|HEAD) /.test(q) && q.includes(`/v2/${REPO}/manifests/`)), repoRequests().join('\n')).toBe(true)
    expect(imageId(image)).toBeDefined()
  })

  it('an unknown tag: exit 117 naming the image, nothing created', async () => {
    const image = `${registry.host}/${REPO}:no-such-tag`
    pulled.add(image)
    const r = await run(['attach', web, '--image', image, '--', 'ps'])
    expect(r.code, r.stderr).toBe(117)
    expect(r.stdout).toBe('')
    const out = lines(r.stderr)
    // "Pulling X", "Pulling X failed", then the error: one message line and one hint line, no stack.
    expect(out, r.stderr).toHaveLength(4)
    expect(out[0]).toMatch(pullingLine(image))
    expect(out[1]).toBe(`Pulling ${image} failed`)
    expect(out.at(-2)).toMatch(/^mindbg: cannot pull /)
    expect(out.at(-2)).toContain(image)
    expect(out.at(-2)).toMatch(/not found|manifest unknown/)
    expect(out.at(-1)).toMatch(/^Hint: \S/)
    expect(r.stderr).not.toMatch(/\n\s+at /)
    // The registry was asked, and answered MANIFEST_UNKNOWN.
    expect(repoRequests().some((q) => q.endsWith(`/v2/${REPO}/manifests/no-such-tag`))).toBe(true)
    expect(sidecarsOf(web)).toEqual([])
    expect(imageId(image)).toBeUndefined()
  })
})

describe('--pull always', () => {
  it('contacts the registry although the image is present', async () => {
    const image = ref('always')
    await dockerAsync('pull', image)
    expect(imageId(image)).toBeDefined()
    registry.requests.length = 0

    const r = await run(['attach', web, '--pull', 'always', '--image', image, '--', 'ps'])
    expect(r.code, r.stderr).toBe(0)
    const progress = lines(r.stderr)
    expect(progress, r.stderr).toHaveLength(2)
    expect(progress[0]).toMatch(pullingLine(image))
    expect(progress[1]).toBe(`Pulled ${image}`)
    expect(r.stdout).toMatch(/\/app\/web/)
    // The engine re-resolves the tag (HEAD, or GET, of the manifest) even though nothing needs downloading.
    expect(repoRequests().some((q) => /^(HEAD|GET) /.test(q) && q.includes(`/v2/${REPO}/manifests/`))).toBe(true)
  })
})

describe('--pull never', () => {
  it('an absent image: exit 117 with a message and a hint, and no registry request', async () => {
    const image = ref('never')
    expect(imageId(image)).toBeUndefined()
    const r = await run(['attach', web, '--pull', 'never', '--image', image, '--', 'ps'])
    expect(r.code, r.stderr).toBe(117)
    expect(r.stdout).toBe('')
    const out = lines(r.stderr)
    expect(out, r.stderr).toHaveLength(2)
    expect(out[0]).toBe(`mindbg: image ${image} is not present and --pull never forbids pulling it`)
    expect(out[1]).toMatch(/^Hint: \S/)
    expect(registry.requests).toEqual([])
    expect(sidecarsOf(web)).toEqual([])
    expect(imageId(image)).toBeUndefined()
  })
})

describe('a registry that wants credentials', () => {
  it('without credentials: exit 117 naming the image, nothing pulled or created', async () => {
    const image = ref('auth', authRegistry)
    const r = await run(['attach', web, '--image', image, '--', 'ps'])
    expect(r.code, r.stderr).toBe(117)
    expect(r.stdout).toBe('')
    const out = lines(r.stderr)
    expect(out.at(-2)).toMatch(/^mindbg: cannot pull /)
    expect(out.at(-2)).toContain(image)
    // The daemon's own words (HTTP 500 from POST /images/create), and what to do about them.
    expect(out.at(-2)).toMatch(/no basic auth credentials$/)
    expect(out.at(-1)).toBe(`Hint: Log in to the registry (docker login ${authRegistry.host}) or configure a credential helper.`)
    expect(r.stderr).not.toMatch(/\n\s+at /)
    // The engine was refused at /v2/ and fetched nothing.
    expect(authRegistry.requests).toContain('GET /v2/')
    expect(authRegistry.requests.filter((q) => /\/(manifests|blobs)\//.test(q) && q.startsWith('GET'))).toEqual([])
    expect(sidecarsOf(web)).toEqual([])
    expect(imageId(image)).toBeUndefined()
  })

  it('with credentials in the Docker config: pulls and runs', async () => {
    const image = ref('auth', authRegistry)
    const auth = Buffer.from(`${AUTH.username}:${AUTH.password}`).toString('base64')
    const dockerConfig = path.join(home, 'docker-with-auth')
    mkdirSync(dockerConfig, {recursive: true})
    writeFileSync(path.join(dockerConfig, 'config.json'), JSON.stringify({auths: {[authRegistry.host]: {auth}}}))
    const r = await run(['attach', web, '--image', image, '--', 'ps'], {DOCKER_CONFIG: dockerConfig})
    expect(r.code, r.stderr).toBe(0)
    expect(lines(r.stderr).at(-1)).toBe(`Pulled ${image}`)
    expect(r.stdout).toMatch(/\/app\/web/)
    expect(authRegistry.requests.some((q) => q.startsWith(`GET /v2/${REPO}/manifests/`))).toBe(true)
    expect(imageId(image)).toBeDefined()
  })
})

describe('under a terminal', () => {
  it('shows an ora spinner, then the success line, then the command output', async () => {
    const image = ref('pty')
    expect(imageId(image)).toBeUndefined()
    // CI in the environment would turn ora's animation off: this test is about the animated form.
    const env = testEnv(isolated({CI: undefined, TERM: 'xterm'})) as Record<string, string>
    const term = pty.spawn(process.execPath, [BIN, 'attach', web, '--image', image, '--', 'ps'], {name: 'xterm', cols: 120, rows: 30, env, cwd: ROOT})
    let output = ''
    term.onData((data) => (output += data))
    const exit = await new Promise<{exitCode: number; signal?: number}>((resolve, reject) => {
      const timer = setTimeout(() => {
        term.kill('SIGKILL')
        reject(new Error(`mindbg under a pty did not finish in 30 s; output: ${JSON.stringify(output)}`))
      }, 30_000)
      term.onExit((e) => {
        clearTimeout(timer)
        resolve(e)
      })
    })
    const shown = JSON.stringify(output)
    expect(exit.exitCode, shown).toBe(0)

    // ora animates (it hid the cursor) and drew a spinner frame (dots with Unicode, -\|/ without) before the text,
    // then the success symbol and text. Without animation (CI set, TERM=dumb) it would print "- Pulling ..." only.
    const hidden = output.indexOf('\u001b[?25l')
    expect(hidden, shown).toBeGreaterThanOrEqual(0)
    const frame = output.search(new RegExp(`[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏|/\\\\-](?:\\u001b\\[\\d*m)* Pulling ${escape(image)}`))
    expect(frame, shown).toBeGreaterThan(hidden)
    const success = output.search(new RegExp(`[✔√](?:\\u001b\\[\\d*m)* Pulled ${escape(image)}\\r?\\n`))
    expect(success, shown).toBeGreaterThan(frame)
    // The command's output comes after the spinner has finished, on lines of its own.
    const ps = output.search(/\n\s*1 \S+\s+\/app\/web\b/)
    expect(ps, shown).toBeGreaterThan(success)
    expect(output).not.toMatch(/failed/)
    expect(imageId(image)).toBeDefined()
  })
})

describe('the test registry itself', () => {
  it('speaks the Registry API V2: version header, manifest digest, blobs, errors, basic auth', async () => {
    const base = `http://${registry.host}`
    const root = await fetch(`${base}/v2/`)
    expect(root.status).toBe(200)
    expect(root.headers.get('docker-distribution-api-version')).toBe('registry/2.0')

    const manifestUrl = `${base}/v2/${REPO}/manifests/missing`
    const head = await fetch(manifestUrl, {method: 'HEAD'})
    const get = await fetch(manifestUrl)
    const body = Buffer.from(await get.arrayBuffer())
    const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`
    expect(get.headers.get('content-type')).toBe('application/vnd.docker.distribution.manifest.v2+json')
    expect(get.headers.get('docker-content-digest')).toBe(digest)
    expect(Number(get.headers.get('content-length'))).toBe(body.length)
    expect(head.status).toBe(200)
    expect(head.headers.get('docker-content-digest')).toBe(digest)
    expect(head.headers.get('content-length')).toBe(get.headers.get('content-length'))
    expect((await fetch(`${base}/v2/${REPO}/manifests/${digest}`)).status).toBe(200)

    const manifest = JSON.parse(body.toString()) as {config: {digest: string; size: number}; layers: Array<{digest: string; size: number; mediaType: string}>}
    expect(manifest.layers.map((l) => l.mediaType)).toEqual(['application/vnd.docker.image.rootfs.diff.tar'])
    for (const blob of [manifest.config, ...manifest.layers]) {
      const res = await fetch(`${base}/v2/${REPO}/blobs/${blob.digest}`)
      const data = Buffer.from(await res.arrayBuffer())
      expect(data.length).toBe(blob.size)
      expect(`sha256:${createHash('sha256').update(data).digest('hex')}`).toBe(blob.digest)
    }
    // The layer is a plain tar of the busybox fixture.
    const layer = Buffer.from(await (await fetch(`${base}/v2/${REPO}/blobs/${manifest.layers[0]!.digest}`)).arrayBuffer())
    expect(readTar(layer).map((e) => e.path)).toContain('bin/busybox')

    const code = async (url: string): Promise<[number, string]> => {
      const res = await fetch(url)
      return [res.status, ((await res.json()) as {errors: Array<{code: string}>}).errors[0]!.code]
    }
    expect(await code(`${base}/v2/${REPO}/manifests/nope`)).toEqual([404, 'MANIFEST_UNKNOWN'])
    expect(await code(`${base}/v2/${REPO}/blobs/sha256:${'0'.repeat(64)}`)).toEqual([404, 'BLOB_UNKNOWN'])
    expect(await code(`${base}/v2/no/such/repo/manifests/missing`)).toEqual([404, 'NAME_UNKNOWN'])

    const authBase = `http://${authRegistry.host}`
    const denied = await fetch(`${authBase}/v2/`)
    expect(denied.status).toBe(401)
    expect(denied.headers.get('www-authenticate')).toBe('Basic realm="mindbg-test"')
    const wrong = await fetch(`${authBase}/v2/`, {headers: {authorization: `Basic ${Buffer.from('mindbg:nope').toString('base64')}`}})
    expect(wrong.status).toBe(401)
    const authorization = `Basic ${Buffer.from('mindbg:s3cret').toString('base64')}`
    expect((await fetch(`${authBase}/v2/`, {headers: {authorization}})).status).toBe(200)
    expect((await fetch(`${authBase}/v2/${REPO}/manifests/auth`, {headers: {authorization}})).status).toBe(200)
  })

  it('reads PAX and GNU long names in tar archives', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mindbg-tar-'))
    try {
      const long = `${'d'.repeat(120)}/${'f'.repeat(130)}.txt`
      mkdirSync(path.join(dir, 'src', path.dirname(long)), {recursive: true})
      writeFileSync(path.join(dir, 'src', long), 'long\n')
      writeFileSync(path.join(dir, 'src', 'short'), 'x'.repeat(1000))
      for (const format of ['gnu', 'pax', 'ustar']) {
        const archive = path.join(dir, `${format}.tar`)
        const files = format === 'ustar' ? ['short'] : ['short', long]
        execFileSync('tar', ['-C', path.join(dir, 'src'), `--format=${format}`, '-cf', archive, ...files])
        const entries = readTar(readFileSync(archive))
        expect(entries.map((e) => e.path), format).toEqual(files)
        expect(entries[0]!.data.toString()).toBe('x'.repeat(1000))
        if (format !== 'ustar') expect(entries[1]!.data.toString()).toBe('long\n')
      }
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })
})

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
}
