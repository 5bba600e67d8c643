import {execFile} from 'node:child_process'
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {startRegistry, uniqueImage} from '../support/registry.js'
import {allContainerIds, createdSince, BUSYBOX, createdName, DASH, DISTROLESS, docker, dockerOk, MARKER, mindbg, removeTargets, requireEngine, startTarget} from './helpers.js'

// Local images tagged exactly like the real ones: the runtime image is the distroless-like fixture, its debug
// twin carries busybox. Nothing is pulled: every twin is present locally.
const TAGS: Array<[string, string]> = [
  [DISTROLESS, 'gcr.io/distroless/static-debian12:nonroot'],
  [BUSYBOX, 'gcr.io/distroless/static-debian12:debug-nonroot'],
  [DISTROLESS, 'cgr.dev/chainguard/static:latest'],
  [BUSYBOX, 'cgr.dev/chainguard/static:latest-dev'],
  [DISTROLESS, 'registry.local:5000/team/web:v3'],
  [BUSYBOX, 'registry.local:5000/team/web-debug:v3'],
]

const configDir = mkdtempSync(join(tmpdir(), 'mindbg-e2e-config-'))
const config = (name: string, yaml: string): string => {
  const path = join(configDir, name)
  writeFileSync(path, yaml)
  return path
}

function dockerAsync(...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('docker', args, {encoding: 'utf8'}, (error, stdout, stderr) => (error ? reject(new Error(stderr || error.message)) : resolve(stdout.trim())))
  })
}

beforeAll(() => {
  requireEngine()
  for (const [from, to] of TAGS) docker('tag', from, to)
})
afterAll(() => {
  removeTargets()
  for (const [, tag] of TAGS) dockerOk('rmi', tag)
})

describe('--sibling picks the debug twin of the target image', () => {
  it('distroless :nonroot -> :debug-nonroot, running as the target user, seeing its processes', async () => {
    const target = startTarget([], 'gcr.io/distroless/static-debian12:nonroot')
    const dry = await mindbg(['attach', '--sibling', '--dry-run', '--json', target])
    expect(JSON.parse(dry.stdout)).toMatchObject({
      image: 'gcr.io/distroless/static-debian12:debug-nonroot',
      imageReason: expect.stringContaining('nonroot -> debug-nonroot'),
      user: '65532:65532',
      imagePresent: true,
    })
    const r = await mindbg(['attach', '--sibling', target, '--', 'sh', '-c', 'id -u; ps; cat /proc/1/root/app/config.txt'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^65532\n/)
    expect(r.stdout).toMatch(/^\s*1 nonroot\s+\/app\/web/m)
    expect(r.stdout).toContain(MARKER)
  })

  it('chainguard :latest -> :latest-dev', async () => {
    const target = startTarget([], 'cgr.dev/chainguard/static:latest')
    const r = await mindbg(['attach', '--sibling', target, '--', 'ps'])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('/app/web')
    const dry = JSON.parse((await mindbg(['attach', '--sibling', '--dry-run', '--json', target])).stdout)
    expect(dry).toMatchObject({image: 'cgr.dev/chainguard/static:latest-dev', imageReason: expect.stringContaining('chainguard')})
  })

  it('a target started by image ID resolves its tag through the engine (RepoTags)', async () => {
    // An image of its own (committed from the fixture) whose only tag is a distroless one.
    const scratch = createdName()
    docker('create', '--name', scratch, DISTROLESS)
    docker('commit', scratch, 'gcr.io/distroless/cc-debian12:nonroot')
    docker('tag', BUSYBOX, 'gcr.io/distroless/cc-debian12:debug-nonroot')
    try {
      const id = docker('image', 'inspect', '--format', '{{.Id}}', 'gcr.io/distroless/cc-debian12:nonroot')
      const target = startTarget([], id)
      const dry = JSON.parse((await mindbg(['attach', '--sibling', '--dry-run', '--json', target])).stdout)
      expect(dry.target.image).toBe(id)
      expect(dry.image).toBe('gcr.io/distroless/cc-debian12:debug-nonroot')
      const r = await mindbg(['attach', '--sibling', target, '--', 'id', '-u'])
      expect(r.stdout).toBe('65532\n')
    } finally {
      removeTargets()
      dockerOk('rmi', 'gcr.io/distroless/cc-debian12:nonroot', 'gcr.io/distroless/cc-debian12:debug-nonroot')
    }
  })

  it('a target pinned by digest resolves its tag through the engine (RepoTags), then the config mapping', async () => {
    // An image of its own, known to the engine by a registry tag and that tag's digest only.
    const unique = await uniqueImage(DISTROLESS, 'mindbg-test/pinned-source')
    const registry = await startRegistry({images: [{name: 'distroless/static-debian12', tag: 'nonroot', from: unique}]})
    const tagged = `${registry.host}/distroless/static-debian12:nonroot`
    try {
      docker('rmi', unique)
      await dockerAsync('pull', tagged) // async: the registry answers from this very process
      const pinned = `${registry.host}/distroless/static-debian12@${registry.manifestDigest('distroless/static-debian12', 'nonroot')}`
      const target = startTarget([], pinned)
      const path = config('pinned.yaml', "siblings:\n  - match: '127\\.0\\.0\\.1:\\d+/distroless/(.+):nonroot'\n    replace: 'gcr.io/distroless/$1:debug-nonroot'\n")
      const dry = JSON.parse((await mindbg(['attach', '--sibling', '--dry-run', '--json', target], {env: {MINDBG_CONFIG: path}})).stdout)
      expect(dry.target.image).toBe(pinned)
      expect(dry).toMatchObject({image: 'gcr.io/distroless/static-debian12:debug-nonroot', imageReason: expect.stringContaining('config mapping'), user: '65532:65532'})
      const r = await mindbg(['attach', '--sibling', target, '--', 'id', '-u'], {env: {MINDBG_CONFIG: path}})
      expect(r.stdout).toBe('65532\n')
    } finally {
      removeTargets()
      dockerOk('rmi', '-f', tagged)
      await registry.close()
    }
  })

  it('an image without a known twin fails cleanly with a hint, creating nothing', async () => {
    // Not the distroless fixture: above it also has tags with twins, and mindbg looks at every tag of the image.
    const target = startTarget([], DASH, ['sleep', '60'])
    const before = allContainerIds()
    const r = await mindbg(['attach', '--sibling', target, '--', 'true'])
    expect(r.code).toBe(117)
    expect(r.stderr).toBe(`mindbg: no known debug twin for ${DASH}\nHint: Pass a debug image with --image, or add a sibling mapping to the config file.\n`)
    expect(createdSince(before)).toEqual([])
  })

  it('--sibling with --image is a usage error', async () => {
    const r = await mindbg(['attach', '--sibling', '--image', 'x', 'whatever'])
    expect(r.code).toBe(2)
  })
})

describe('config file', () => {
  it('user sibling mappings are checked first', async () => {
    const target = startTarget([], 'registry.local:5000/team/web:v3')
    const path = config('siblings.yaml', "siblings:\n  - match: 'registry\\.local:5000/(.+):(.+)'\n    replace: 'registry.local:5000/$1-debug:$2'\n")
    const r = await mindbg(['attach', '--sibling', target, '--', 'ps'], {env: {MINDBG_CONFIG: path}})
    expect(r.stderr).toBe('')
    expect(r.stdout).toContain('/app/web')
    const dry = JSON.parse((await mindbg(['attach', '--sibling', '--dry-run', '--json', target], {env: {MINDBG_CONFIG: path}})).stdout)
    expect(dry).toMatchObject({image: 'registry.local:5000/team/web-debug:v3', imageReason: expect.stringContaining('config mapping')})
  })

  it('flags beat environment beat config: image and profile', async () => {
    const target = startTarget()
    const path = config('defaults.yaml', `image: ${BUSYBOX}\nprofile: netadmin\npull: never\n`)
    const fromConfig = JSON.parse((await mindbg(['attach', '--dry-run', '--json', target], {env: {MINDBG_CONFIG: path, MINDBG_IMAGE: undefined}})).stdout)
    expect(fromConfig).toMatchObject({image: BUSYBOX, imageReason: `"image" in ${path}`, profile: 'netadmin', pull: 'never'})
    const fromEnv = JSON.parse((await mindbg(['attach', '--dry-run', '--json', target], {env: {MINDBG_CONFIG: path, MINDBG_IMAGE: 'env/image:1', MINDBG_PROFILE: 'baseline'}})).stdout)
    expect(fromEnv).toMatchObject({image: 'env/image:1', imageReason: 'the MINDBG_IMAGE environment variable', profile: 'baseline'})
    const fromFlags = JSON.parse(
      (await mindbg(['attach', '--dry-run', '--json', '--image', 'flag/image:1', '--profile', 'general', '--pull', 'always', target], {env: {MINDBG_CONFIG: path, MINDBG_IMAGE: 'env/image:1'}})).stdout,
    )
    expect(fromFlags).toMatchObject({image: 'flag/image:1', imageReason: '--image', profile: 'general', pull: 'always'})
  })

  it('requireReason makes --reason mandatory', async () => {
    const target = startTarget()
    const path = config('reason.yaml', 'requireReason: true\n')
    const r = await mindbg(['attach', target, '--', 'true'], {env: {MINDBG_CONFIG: path}})
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^mindbg: a --reason is required \(requireReason in .*reason.yaml\)\nHint: /)
    expect((await mindbg(['attach', '--reason', 'INC-1', target, '--', 'true'], {env: {MINDBG_CONFIG: path}})).code).toBe(0)
  })

  it('a bad config file names the key and the file', async () => {
    const path = config('bad.yaml', 'imagee: x\n')
    const r = await mindbg(['attach', 'whatever', '--', 'true'], {env: {MINDBG_CONFIG: path}})
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(`mindbg: config file ${path}: unknown key "imagee"`)
  })
})

describe('--dry-run', () => {
  it('describes the sidecar in words and creates nothing', async () => {
    const target = startTarget(['--ipc', 'shareable'])
    const before = allContainerIds()
    const r = await mindbg(['attach', '--dry-run', '--profile', 'restricted', target, '--', 'ps'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(new RegExp(`^target: +${target} \\(\\w{12}\\), image ${DISTROLESS}, user 65532:65532$`, 'm'))
    expect(r.stdout).toMatch(/^debug image: +mindbg-fixture\/busybox:local$/m)
    expect(r.stdout).toMatch(/^because: +the MINDBG_IMAGE environment variable$/m)
    expect(r.stdout).toMatch(/^user: +65532:65532$/m)
    expect(r.stdout).toMatch(/^joins: +pid, network, ipc$/m)
    expect(createdSince(before)).toEqual([])
  })

  it('a missing image is reported with the platform a pull would use (the target\'s)', async () => {
    const target = startTarget()
    const r = await mindbg(['attach', '--dry-run', '--image', 'example.invalid/none:1', target])
    expect(r.stdout).toMatch(/^present: +no: pull on start for linux\/(amd64|arm64)/m)
  })

  it('--json without --dry-run is refused', async () => {
    const name = createdName()
    const r = await mindbg(['attach', '--json', name])
    expect(r.code).toBe(2)
    expect(JSON.parse(r.stdout)).toMatchObject({error: {message: '--json goes with --dry-run'}})
  })
})
