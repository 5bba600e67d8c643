/**
 * The single executable (build/sea.mjs, `npm run build:sea`; scripts/test.sh builds it): the core end-to-end cases
 * run against dist/sea/mindbg-linux-<this CPU> instead of `node bin/run.js`, through the same helpers
 * (MINDBG_TEST_BIN; any e2e file can be run so). The other CPU's executable is run under qemu-user.
 */
import {spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {existsSync, mkdtempSync, readdirSync, readFileSync, symlinkSync} from 'node:fs'
import {arch, tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it, vi} from 'vitest'

import {PtySession} from '../support/pty.js'
import {collect, expectSidecarsGone, MARKER, mindbg, ROOT, sharedTarget, sidecarsOf, startMindbg, testEnv, waitFor, waitForSidecar} from './helpers.js'

const executable = (cpu: string): string => join(ROOT, `dist/sea/mindbg-linux-${cpu}`)
const NATIVE = executable(arch())
const FOREIGN = arch() === 'x64' ? {cpu: 'arm64', qemu: ['qemu-aarch64-static', '-L', '/usr/aarch64-linux-gnu']} : {cpu: 'x64', qemu: ['qemu-x86_64-static', '-L', '/usr/x86_64-linux-gnu']}
const VERSION = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string
const versionLine = (cpu: string): RegExp => new RegExp(`^mindbg/${VERSION.replaceAll('.', '\\.')} linux-${cpu} node-v\\d+\\.\\d+\\.\\d+\n$`)

beforeAll(() => {
  if (!existsSync(NATIVE)) throw new Error(`${NATIVE} is missing: run "npm run build:sea" (npm test does).`)
  vi.stubEnv('MINDBG_TEST_BIN', NATIVE)
})
afterAll(() => {
  vi.unstubAllEnvs()
})

/**
 * The bundled modules the executable evaluated while running `args`: V8's coverage (NODE_V8_COVERAGE) names each
 * module's body after its path in the bundle (esbuild), with how often it ran.
 */
function evaluatedModules(args: string[], env: Record<string, string> = {}): {modules: string[]; status: number | null; stdout: string} {
  const dir = mkdtempSync(join(tmpdir(), 'mindbg-sea-coverage-'))
  const r = spawnSync(NATIVE, args, {env: testEnv({NODE_V8_COVERAGE: dir, ...env}), encoding: 'utf8'})
  type Coverage = {result: Array<{url: string; functions: Array<{functionName: string; ranges: Array<{count: number}>}>}>}
  const scripts = readdirSync(dir).flatMap((f) => (JSON.parse(readFileSync(join(dir, f), 'utf8')) as Coverage).result)
  const bundle = scripts.filter((s) => s.url.endsWith('/dist/sea/mindbg.cjs'))
  expect(bundle, 'the bundle is in the coverage').toHaveLength(1)
  const modules = bundle[0]!.functions.filter((f) => /\.(c?js|ts|json)$/.test(f.functionName) && f.ranges[0]!.count > 0).map((f) => f.functionName)
  return {modules, status: r.status, stdout: r.stdout}
}
const HEAVY = /vendor\/(dockerode|k8s-client|js-yaml|ws|yaml)\.cjs|node_modules\/(ora|ws|yaml)\//
const OCLIF = /vendor\/oclif-core\.cjs/

describe('the single executable', () => {
  const web = sharedTarget()

  it('runs a command next to a distroless target: its processes and filesystem, the exit code passed on', async () => {
    const r = await mindbg(['attach', web(), '--', 'sh', '-c', 'ps; cat /proc/1/root/app/config.txt; exit 7'])
    expect(r.stderr).toBe('')
    expect(r.stdout).toMatch(/^\s*1 nonroot\s+\/app\/web 8080$/m)
    // mindbg-init, from the executable's assets, is the debugger's first process.
    expect(r.stdout).toMatch(/\/\.mindbg-init sh -c/)
    expect(r.stdout).toContain(MARKER)
    expect(r.code).toBe(7)
    await expectSidecarsGone(web())
  })

  it('opens an interactive shell on a terminal: typed commands run, its exit code is passed on', async () => {
    const s = PtySession.mindbg(['attach', web()])
    try {
      await s.expect(/\/ # /, 15_000)
      // Typed before mindbg put the terminal in raw mode, a line still arrives whole (cooked).
      s.send('echo $((6 * 7)); exit 5\r')
      await s.expect(/\n42\r/)
      expect(await s.waitExit()).toEqual({exitCode: 5, signal: undefined})
    } finally {
      await s.close()
    }
    await expectSidecarsGone(web())
  })

  it('pipes stdin through a command and back unchanged', async () => {
    const data = Buffer.alloc(2 * 2 ** 20, 'mindbg-sea\n')
    const r = await mindbg(['attach', web(), '--', 'md5sum'], {input: data})
    expect(r.code).toBe(0)
    expect(r.stdout.split(' ')[0]).toBe(createHash('md5').update(data).digest('hex'))
  })

  it('SIGKILL of mindbg: the executable, started again as the reaper, removes the sidecar within 10 s', async () => {
    const child = startMindbg(['attach', web(), '--', 'sleep', '60'])
    const done = collect(child)
    await waitForSidecar(web())
    child.kill('SIGKILL')
    await done
    await waitFor('the sidecar to be removed', () => sidecarsOf(web()).length === 0, 10_000)
  })

  it('answers the shell\'s TAB (__complete) from the manifest built into it, without oclif: flags, running containers', () => {
    const flags = evaluatedModules(['__complete', 'attach', '--pro'])
    expect(flags.stdout).toBe('--profile\tSecurity profile, as in kubectl debug.\n:4\n')
    expect(flags.modules.filter((m) => OCLIF.test(m) || HEAVY.test(m))).toEqual([])
    const names = spawnSync(NATIVE, ['__complete', 'attach', web().slice(0, -1)], {env: testEnv(), encoding: 'utf8'})
    expect(names.stdout.split('\n').map((line) => line.split('\t')[0])).toContain(web())
    expect(names.stderr).toBe('')
  })

  it('linked as docker-mindbg (by its own install command) and kubectl_complete-mindbg, it is those plugins', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mindbg-sea-plugins-'))
    const config = join(dir, 'docker-config')
    const installed = spawnSync(NATIVE, ['install', 'docker-plugin'], {env: testEnv({DOCKER_CONFIG: config}), encoding: 'utf8'})
    expect(installed.stdout).toBe(`installed: ${join(config, 'cli-plugins', 'docker-mindbg')} -> ${NATIVE}\n`)
    const metadata = spawnSync(join(config, 'cli-plugins', 'docker-mindbg'), ['docker-cli-plugin-metadata'], {encoding: 'utf8'})
    expect(JSON.parse(metadata.stdout)).toMatchObject({SchemaVersion: '0.1.0', Vendor: 'mindbg', Version: VERSION})
    // Through the real docker CLI, which finds the plugin by its name and passes its own name first.
    const viaDocker = spawnSync('docker', ['mindbg', 'attach', web(), '--', 'sh', '-c', 'cat "$MINDBG_TARGET_ROOT/app/config.txt"; exit 6'], {env: testEnv({DOCKER_CONFIG: config}), encoding: 'utf8'})
    expect(viaDocker.stdout, viaDocker.stderr).toBe(`${MARKER}\n`)
    expect(viaDocker.status).toBe(6)
    symlinkSync(NATIVE, join(dir, 'kubectl_complete-mindbg'))
    const complete = spawnSync(join(dir, 'kubectl_complete-mindbg'), ['attach', '--pro'], {encoding: 'utf8'})
    expect(complete.stdout).toBe('--profile\tSecurity profile, as in kubectl debug.\n:4\n')
  })

  it('a usage error: exit 2, the message and its hint, nothing on stdout', async () => {
    const r = await mindbg(['attach'])
    expect(r.code).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(/^mindbg: missing target\nHint: /)
  })

  it.each(['--help', 'attach --help'])('mindbg %s evaluates neither dockerode, the Kubernetes client nor ora', (line) => {
    const {modules, status, stdout} = evaluatedModules(line.split(' '))
    expect(status).toBe(0)
    expect(stdout).toMatch(/\$ mindbg /)
    expect(modules.filter((m) => HEAVY.test(m))).toEqual([])
  })

  it('--version evaluates not even oclif', () => {
    const {modules, stdout} = evaluatedModules(['--version'])
    expect(stdout).toMatch(versionLine(arch()))
    expect(modules.filter((m) => OCLIF.test(m) || HEAVY.test(m))).toEqual([])
  })

  it('a one-shot attach evaluates neither dockerode (its init bind-mounted from the cache directory) nor the Kubernetes client; ls evaluates dockerode (the checks can fail)', () => {
    const cache = mkdtempSync(join(tmpdir(), 'mindbg-sea-cache-'))
    const attach = evaluatedModules(['attach', web(), '--', 'true'], {XDG_CACHE_HOME: cache})
    expect(attach.status).toBe(0)
    expect(attach.modules.filter((m) => /dockerode\.cjs|k8s-client\.cjs|node_modules\/ora\//.test(m))).toEqual([])
    // The init the sidecar ran, written out under its content's name.
    expect(readdirSync(join(cache, 'mindbg', 'init'))).toEqual([expect.stringMatching(/^mindbg-init-(amd64|arm64)-[0-9a-f]{16}$/)])
    const ls = evaluatedModules(['ls'])
    expect(ls.status).toBe(0)
    expect(ls.modules.filter((m) => /dockerode\.cjs/.test(m))).not.toEqual([])
  })
})

describe(`the ${FOREIGN.cpu} executable, under qemu-user`, () => {
  const run = (...args: string[]) => {
    const [qemu, ...options] = FOREIGN.qemu
    return spawnSync(qemu!, [...options, executable(FOREIGN.cpu), ...args], {env: testEnv(), encoding: 'utf8', timeout: 60_000})
  }

  // build/sea.mjs ran its --version and --help already.
  it('prints its version, and a usage error with exit 2', () => {
    expect(existsSync(executable(FOREIGN.cpu)), `${executable(FOREIGN.cpu)}, built by build:sea when qemu-user is there (provision.sh)`).toBe(true)
    expect(run('--version').stdout).toMatch(versionLine(FOREIGN.cpu))
    const usage = run('attach')
    expect(usage.status).toBe(2)
    expect(usage.stderr).toMatch(/^mindbg: missing target\nHint: /)
  })
})
