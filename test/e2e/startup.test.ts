import {spawn, spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {BIN, ROOT, sharedTarget, testEnv} from './helpers.js'

const tracer = join(ROOT, 'test/support/trace-modules.mjs')

/** Runs the CLI and returns the modules it loaded. */
function loadedModules(args: string[], env: Record<string, string | undefined> = {}): {modules: string[]; status: number | null; stdout: string} {
  const file = join(mkdtempSync(join(tmpdir(), 'mindbg-trace-')), 'modules.txt')
  const r = spawnSync(process.execPath, ['--import', tracer, BIN, ...args], {env: testEnv({MINDBG_TRACE_FILE: file, ...env}), encoding: 'utf8'})
  return {modules: readFileSync(file, 'utf8').split('\n'), status: r.status, stdout: r.stdout}
}

// The heavy libraries as published and as bundled by build/vendor.mjs.
const DOCKERODE = ['/node_modules/dockerode/', '/dist/vendor/dockerode.cjs']
const KUBERNETES = ['/node_modules/@kubernetes/client-node/', '/dist/vendor/k8s-client.cjs']
const OCLIF = ['/node_modules/@oclif/', '/dist/vendor/oclif-core']
const heavy = [...DOCKERODE, ...KUBERNETES, '/node_modules/ssh2/', '/node_modules/@grpc/', '/node_modules/ora/']
const loadedAny = (modules: string[], paths: string[]): string[] => modules.filter((m) => paths.some((p) => m.includes(p)))

describe('an older Node.js', () => {
  // The machines ship Node 20 as /usr/bin/node (scripts/provision.sh puts a newer one first on PATH for the tests).
  const old = '/usr/bin/node'
  const version = spawnSync(old, ['--version'], {encoding: 'utf8'}).stdout?.trim() ?? ''
  it.runIf(/^v(1\d|20|21|22\.(\d|1[0-8]))\./.test(version))(`is told in a line that it is too old, by every entry (${version || 'no /usr/bin/node'})`, () => {
    for (const entry of ['bin/run.js', 'bin/kubectl-mindbg.js', 'bin/docker-mindbg.js']) {
      const r = spawnSync(old, [join(ROOT, entry), '--version'], {env: testEnv(), encoding: 'utf8'})
      expect({entry, status: r.status, stderr: r.stderr}).toEqual({entry, status: 1, stderr: `mindbg: Node.js ${version} is too old: mindbg needs 22.19 or newer\nHint: install a newer Node.js, or use mindbg's single executable, which carries its own.\n`})
    }
  })
})

describe('start-up loads only what the command needs', () => {
  it.each([['--help'], ['--version'], ['attach', '--help'], ['ls', '--help']])('mindbg %s loads neither dockerode nor client-node', (...args) => {
    const {modules, status, stdout} = loadedModules(args)
    expect(status).toBe(0)
    expect(stdout).toMatch(/mindbg/)
    for (const h of heavy) expect(modules.filter((m) => m.includes(h)), h).toEqual([])
  })

  it('--help ends quietly with 141 when its reader goes away (mindbg --help | head -1)', async () => {
    const child = spawn(process.execPath, [BIN, '--help'], {env: testEnv(), stdio: ['ignore', 'pipe', 'pipe']})
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d))
    // The reader is gone before mindbg writes anything: its first write fails with EPIPE.
    child.stdout.destroy()
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
    expect(stderr).toBe('')
    expect(code).toBe(141)
  })

  it('--version does not even load oclif', () => {
    const {modules, stdout} = loadedModules(['--version'])
    expect(stdout).toMatch(/^mindbg\/\d+\.\d+\.\d+ linux-\w+ node-v\d+/)
    expect(loadedAny(modules, OCLIF)).toEqual([])
  })

  it.each([['--help'], ['-h']])('mindbg %s, rendered at build time, prints the very bytes oclif prints, without loading oclif', (flag) => {
    // Wherever vitest runs, not a terminal and none of the variables that change oclif's rendering.
    const plain = {FORCE_COLOR: undefined, OCLIF_COLUMNS: undefined, NEXT_RUNTIME: undefined, pm_id: undefined}
    const fast = loadedModules([flag], plain)
    expect(fast.status).toBe(0)
    expect(loadedAny(fast.modules, OCLIF)).toEqual([])
    // The same help through oclif: told not to use the rendered text, and with FORCE_COLOR=0 (colours off, which
    // also makes bin/run.js leave it to oclif).
    for (const env of [{MINDBG_HELP_CACHE: '0'}, {FORCE_COLOR: '0'}]) {
      const slow = loadedModules([flag], {...plain, ...env})
      expect(slow.status).toBe(0)
      expect(loadedAny(slow.modules, OCLIF)).not.toEqual([])
      expect(fast.stdout).toBe(slow.stdout)
    }
    expect(fast.stdout).toMatch(/^VERSION\n {2}mindbg\/\d+\.\d+\.\d+ linux-\w+ node-v\d+/m)
  })

  describe('a one-shot attach', () => {
    const web = sharedTarget()

    it('on a local socket: neither oclif nor dockerode, ssh2, gRPC, ora (stderr no TTY) or client-node', () => {
      const {modules, status} = loadedModules(['attach', web(), '--', 'true'])
      expect(status).toBe(0)
      for (const h of [...OCLIF, ...DOCKERODE, '/node_modules/ssh2/', '/node_modules/@grpc/', '/node_modules/ora/', ...KUBERNETES]) {
        expect(modules.filter((m) => m.includes(h)), h).toEqual([])
      }
    })

    it("attach without oclif (bin/run.js's fast path) says and exits what attach through oclif does", () => {
      const run = (args: string[], env: Record<string, string>): {status: number | null; stdout: string; stderr: string} => {
        const r = spawnSync(process.execPath, [BIN, ...args], {env: testEnv(env), encoding: 'utf8'})
        // A dry run's spec says when it was made.
        return {status: r.status, stdout: r.stdout.replace(/"org\.mindbg\.started":"[^"]*"/, '"org.mindbg.started":"-"'), stderr: r.stderr}
      }
      for (const args of [
        ['attach', web(), '-q', '--', 'sh', '-c', 'echo out; echo err >&2; exit 3'],
        ['attach', '-e', 'A=1', '--env', 'B=2', web(), '--', 'sh', '-c', 'echo $A$B'],
        ['attach', 'mindbg-no-such-container', '--', 'true'],
        ['attach', web(), '--record-input', '--', 'true'],
        ['attach', web(), '--chroot', '--dry-run', '--name', 'mindbg-fixed-name'],
        ['attach', web(), 'words', '--', 'true'],
      ]) {
        const fast = run(args, {})
        expect(run(args, {MINDBG_FAST_ATTACH: '0'}), args.join(' ')).toEqual(fast)
      }
    })
  })

  describe('shell completion', () => {
    const web = sharedTarget()

    it('mindbg __complete lists the running containers without oclif, dockerode or client-node', () => {
      // Time enough for a busy machine: what is checked here is what gets loaded (test/e2e/completion.test.ts: the budget).
      const {modules, status, stdout} = loadedModules(['__complete', 'attach', ''], {MINDBG_COMPLETE_TIMEOUT_MS: '10000'})
      expect(status).toBe(0)
      expect(stdout.split('\n')).toContainEqual(expect.stringMatching(new RegExp(`^${web()}\t`)))
      for (const h of [...heavy, ...OCLIF]) expect(modules.filter((m) => m.includes(h)), h).toEqual([])
    })
  })
})
