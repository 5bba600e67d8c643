/**
 * End-to-end helpers: the built CLI runs as a subprocess against the real Docker engine. There is no mock engine:
 * if Docker is unreachable these tests fail (scripts/test.sh provisions and starts it).
 *
 * The vitest project "podman" runs the Docker backend's files again with MINDBG_ENGINE=podman and DOCKER_HOST at
 * Podman's Docker-compatible service (vitest.config.ts): mindbg and these helpers' own docker CLI calls both go
 * there. ENGINE tells a test which engine it checks, for what Podman genuinely does differently.
 */
import {execFileSync, spawn, type ChildProcess} from 'node:child_process'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {afterAll, beforeAll, expect} from 'vitest'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const BIN = `${ROOT}bin/run.js`
export const BUSYBOX = 'mindbg-fixture/busybox:local'
export const DISTROLESS = 'mindbg-fixture/distroless-web:local'
/** Debian's dash and a few GNU tools: sleep keeps a target of it running. */
export const DASH = 'mindbg-fixture/dash:local'
export const MARKER = 'distroless-marker-7f3a'

export type Engine = 'docker' | 'podman'
export const ENGINE: Engine = process.env.MINDBG_ENGINE === 'podman' ? 'podman' : 'docker'
/** The engine's own CLI, as mindbg's hints name it. */
export const ENGINE_CLI = ENGINE

export function docker(...args: string[]): string {
  return execFileSync('docker', args, {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']}).trim()
}

export function dockerOk(...args: string[]): boolean {
  try {
    docker(...args)
    return true
  } catch {
    return false
  }
}

/** Fails loudly, with what to do, when the engine or the fixture images are missing. */
export function requireEngine(): void {
  const where = ENGINE === 'podman' ? `Podman service at ${process.env.DOCKER_HOST}` : 'Docker engine'
  if (!dockerOk('info', '--format', '{{.ServerVersion}}')) {
    throw new Error(`No ${where} answers. Run the tests with "npm test", which provisions and starts it (see README).`)
  }
  for (const image of [BUSYBOX, DISTROLESS]) {
    if (!dockerOk('image', 'inspect', image)) throw new Error(`Fixture image ${image} is missing on the ${where}: scripts/provision.sh builds and loads it (npm test does).`)
  }
}

export interface RunResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

export interface RunOptions {
  input?: string | Buffer
  env?: Record<string, string | undefined>
  timeoutMs?: number
}

/** The audit log of this test process's mindbg runs: never the user's own. */
export const AUDIT_LOG = join(tmpdir(), `mindbg-test-audit-${process.pid}.jsonl`)

export const testEnv = (extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {...process.env, MINDBG_IMAGE: BUSYBOX, MINDBG_AUDIT_LOG: AUDIT_LOG, ...extra}
  for (const [k, v] of Object.entries(extra)) if (v === undefined) delete env[k]
  return env
}

/**
 * The command line that runs mindbg with `args`: `node bin/run.js ARGS`, or, when MINDBG_TEST_BIN names an
 * executable (the single executable: test/e2e/sea.test.ts, or any e2e file run with it set), that executable.
 */
export function mindbgCommand(args: string[]): [string, string[]] {
  const bin = process.env.MINDBG_TEST_BIN
  return bin ? [bin, args] : [process.execPath, [BIN, ...args]]
}

export function startMindbg(args: string[], options: RunOptions = {}): ChildProcess {
  const [command, argv] = mindbgCommand(args)
  const child = spawn(command, argv, {env: testEnv(options.env), stdio: ['pipe', 'pipe', 'pipe']})
  // A command that exits before reading all of its input closes the pipe on the rest: not the test's error.
  child.stdin!.on('error', () => {})
  if (options.input !== undefined) child.stdin!.end(options.input)
  else child.stdin!.end()
  return child
}

export function collect(child: ChildProcess, timeoutMs = 60_000): Promise<RunResult> {
  const out: Buffer[] = []
  const err: Buffer[] = []
  child.stdout!.on('data', (d: Buffer) => out.push(d))
  child.stderr!.on('data', (d: Buffer) => err.push(d))
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`mindbg did not finish within ${timeoutMs} ms; stderr: ${Buffer.concat(err).toString()}`))
    }, timeoutMs)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({code, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString()})
    })
  })
}

export function mindbg(args: string[], options: RunOptions = {}): Promise<RunResult> {
  return collect(startMindbg(args, options), options.timeoutMs)
}

let counter = 0
const started: string[] = []

/** A distroless-like target (uid 65532, no shell, HTTP on 127.0.0.1:8080). Removed by removeTargets(). */
export function startTarget(extra: string[] = [], image = DISTROLESS, args: string[] = []): string {
  const name = `mindbg-e2e-${process.pid}-${++counter}`
  docker('run', '-d', '--name', name, '--network', 'none', ...extra, image, ...args)
  started.push(name)
  return name
}

export function createdName(): string {
  const name = `mindbg-e2e-${process.pid}-${++counter}`
  started.push(name)
  return name
}

/**
 * What a session changed in a container's filesystem (`docker diff`), less what Podman itself puts into every
 * container before it runs: /etc, where it mounts hosts, hostname and resolv.conf, and on a read-only root /var/tmp,
 * a tmpfs. A file a session writes there still shows (A /etc/x).
 */
export function changesIn(container: string): string {
  const engineOwn = ENGINE === 'podman' ? ['C /etc', 'A /var', 'A /var/tmp'] : []
  return docker('diff', container)
    .split('\n')
    .filter((line) => line && !engineOwn.includes(line))
    .join('\n')
}

export function removeTargets(): void {
  let names = started.splice(0)
  // Podman removes no container that another joined ("has dependent containers"), and the sidecar of a session that
  // just ended is removed by its AutoRemove up to ~0.5 s later (README, "What a script can rely on"): try again a
  // moment later, for 5 s at most, instead of leaving the target running (as every whole Podman run did).
  for (let tries = 0; names.length > 0 && !dockerOk('rm', '-f', ...names) && tries < 50; tries++) {
    names = names.filter((name) => dockerOk('inspect', '--format', '{{.Id}}', name))
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100)
  }
}

/**
 * One running distroless target for the enclosing file or describe block: started (engine checked) before its
 * tests, removed after. Returns its name, read once the tests run.
 */
export function sharedTarget(): () => string {
  let name = ''
  beforeAll(() => {
    requireEngine()
    name = startTarget()
  })
  afterAll(removeTargets)
  return () => name
}

/** Every container (any state) that is a mindbg sidecar of `target`. */
export function sidecarsOf(target: string): string[] {
  const id = docker('inspect', '--format', '{{.Id}}', target)
  const out = docker('ps', '-a', '-q', '--filter', `label=org.mindbg.target=${id}`)
  return out ? out.split('\n') : []
}

/** Running sidecars of `target` (what `docker ps` lists), by name. */
export function runningSidecarsOf(target: string): string[] {
  const id = docker('inspect', '--format', '{{.Id}}', target)
  const out = docker('ps', '-q', '--filter', `label=org.mindbg.target=${id}`)
  return out ? out.split('\n') : []
}

/**
 * How long the engine may take to remove a sidecar whose command has ended, after mindbg has exited (AutoRemove:
 * mindbg exits on the exit code, README "What a script can rely on"). Typically 60-160 ms on Docker and 130-500 ms
 * on Podman on the 2-core CI VM under load.
 */
export const REMOVAL_MS = 2000

/**
 * What a script can rely on once mindbg has exited: no sidecar of `target` runs any more (`docker ps`), at once; none
 * is left in any state (`docker ps -a`) moments later.
 */
export async function expectSidecarsGone(target: string): Promise<void> {
  expect(runningSidecarsOf(target)).toEqual([])
  await waitFor(`no sidecar of ${target} left`, () => sidecarsOf(target).length === 0, REMOVAL_MS, 20)
}

/**
 * Every container this test process is responsible for, in any state: its targets and, since a sidecar's default
 * name embeds its target's name, their sidecars. Scoped by PID so that other processes using the same engine at
 * the same time (another test run, a developer) cannot disturb the "nothing was created" checks.
 */
export function allContainerIds(): string[] {
  const out = docker('ps', '-a', '-q', '--no-trunc', '--filter', `name=mindbg-e2e-${process.pid}-`)
  return out ? out.split('\n').sort() : []
}

/**
 * The containers of allContainerIds() that were not there `before`. Not a comparison of the two lists: a sidecar of
 * an earlier session may still be finishing its removal when `before` is taken (mindbg does not wait for it).
 */
export function createdSince(before: string[]): string[] {
  return allContainerIds().filter((id) => !before.includes(id))
}

export async function waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs = 10_000, stepMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = probe()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, stepMs))
  }
}

/** The single sidecar of `target` once it runs, by name. */
export function waitForSidecar(target: string, timeoutMs = 15_000): Promise<string> {
  return waitFor(`a running sidecar of ${target}`, () => {
    const id = docker('inspect', '--format', '{{.Id}}', target)
    const out = docker('ps', '--filter', `label=org.mindbg.target=${id}`, '--format', '{{.Names}}')
    return out ? out.split('\n')[0] : undefined
  }, timeoutMs)
}

/** Polls an async probe (a kubectl call, an HTTP request) until it returns something truthy. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 15_000, stepMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, stepMs))
  }
}
