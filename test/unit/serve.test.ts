/**
 * The serving debugger's protocol (src/session/serve.ts), pure and for real: the server run under mindbg-init with
 * busybox sh, several callers writing into its one stdin at once, each getting only its own step's bytes and code;
 * markers cut at every byte; the request size bound; and how flags make a --detach plan (src/cli/attach-plan.ts) and
 * its sidecar (src/backends/docker/spec.ts).
 */
import {spawn} from 'node:child_process'
import {existsSync} from 'node:fs'
import {arch} from 'node:os'
import {PassThrough, Writable} from 'node:stream'

import {describe, expect, it} from 'vitest'

import {Collect, sidecarRequest} from './fixtures.js'

import {SERVE_ATOMIC_BYTES} from '../../src/backends/backend.js'
import {buildSidecarSpec, LABEL} from '../../src/backends/docker/spec.js'
import {type AttachInput, DEFAULT_TTL_MS, planAttach} from '../../src/cli/attach-plan.js'
import type {AttachFlags} from '../../src/cli/flag-table.js'
import {MindbgError} from '../../src/domain/errors.js'
import {ReplySplitter, SERVE_COMMAND, SERVE_END_REQUEST, SERVE_SERVER, ServedStep, serveRequest} from '../../src/session/serve.js'

const INIT = new URL(`../../dist/init/mindbg-init-${arch() === 'arm64' ? 'arm64' : 'amd64'}`, import.meta.url).pathname
const BUSYBOX = '/bin/busybox'

const TOKEN = 'a'.repeat(32)
const OTHER = 'b'.repeat(32)

describe('ReplySplitter', () => {
  const stream = (token: string, body: string, code?: number): string =>
    `\n${token}<\n${body}${code === undefined ? `\n${token}>\n` : `\n${token}:${code}\n`}`

  it.each([1, 2, 3, 7, 33, 1000])('passes only its own step, markers cut every %i bytes', async (size) => {
    const sink = new Collect()
    const markers: unknown[] = []
    const splitter = new ReplySplitter(TOKEN, sink, (m) => markers.push(m))
    const all = Buffer.from(`stray\n${stream(OTHER, 'not mine', 1)}${stream(TOKEN, `mine\n${OTHER}<\n`, 3)}${stream(OTHER, 'later', 0)}`)
    for (let i = 0; i < all.length; i += size) splitter.write(all.subarray(i, i + size))
    await new Promise<void>((resolve) => splitter.end(resolve))
    expect(sink.text).toBe(`mine\n${OTHER}<\n`)
    expect(markers).toEqual([{kind: 'begin'}, {kind: 'end', code: 3}])
  })

  it('reads the PIDs on stderr and takes their marker out of the output', async () => {
    const sink = new Collect()
    const markers: unknown[] = []
    const splitter = new ReplySplitter(TOKEN, sink, (m) => markers.push(m))
    splitter.end(`\n${TOKEN}<\nbefore\n${TOKEN}@12:34\nafter\n${TOKEN}>\n`)
    await new Promise((r) => splitter.on('finish', r))
    expect(sink.text).toBe('beforeafter')
    expect(markers).toEqual([{kind: 'begin'}, {kind: 'pids', server: 12, step: 34}, {kind: 'end', code: undefined}])
  })
})

describe('serveRequest', () => {
  it('one write of at most SERVE_ATOMIC_BYTES, else none (the caller uses an exec)', () => {
    expect(serveRequest(TOKEN, ['echo', "it's"], 0)).toBe(`${TOKEN}\n0\n'echo' 'it'\\''s'\n`)
    expect(serveRequest(TOKEN, ['echo', 'x'.repeat(SERVE_ATOMIC_BYTES)], 0)).toBeUndefined()
  })
})

describe('the serving step server, for real (busybox sh under mindbg-init)', () => {
  function serving() {
    if (!existsSync(BUSYBOX)) throw new Error(`${BUSYBOX} is missing: npm test provisions busybox-static`)
    const child = spawn(INIT, [BUSYBOX, ...SERVE_COMMAND], {stdio: ['pipe', 'pipe', 'pipe'], env: {PATH: process.env.PATH}})
    child.stdin.write(`${SERVE_SERVER}\n`)
    // Every caller sees all of the output, as every attach to a container does.
    const link = () => {
      const stdout = new PassThrough()
      const stderr = new PassThrough()
      child.stdout.pipe(stdout)
      child.stderr.pipe(stderr)
      return {stdout, stderr, input: child.stdin, close: () => {}}
    }
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
    return {child, link, exited}
  }

  const run = async (step: ServedStep, out: Collect, err: Collect) => ({code: await step.done, stdout: out.text, stderr: err.text})

  it('keeps concurrent callers apart, byte for byte, and ends on the end request', async () => {
    const s = serving()
    const steps = [1, 2, 3].map((n) => {
      const out = new Collect()
      const err = new Collect()
      const step = new ServedStep(s.link(), ['sh', '-c', `echo ${n}; printf e${n} >&2; sleep 0.0${n}; printf "no newline ${n}"; exit ${n}`], 0, {stdout: out, stderr: err})
      return run(step, out, err)
    })
    expect(await Promise.all(steps)).toEqual([1, 2, 3].map((n) => ({code: n, stdout: `${n}\nno newline ${n}`, stderr: `e${n}`})))
    const missing = new Collect()
    const step = new ServedStep(s.link(), ['no-such-command-here'], 0, {stdout: new Collect(), stderr: missing})
    expect(await step.done).toBe(127)
    expect(step.pids?.step).toBeGreaterThan(0)
    s.child.stdin.write(SERVE_END_REQUEST)
    expect(await s.exited).toBe(0)
  })

  it('a step has its deadline when one is given, and its stop leaves the server serving', async () => {
    const s = serving()
    const slow = new ServedStep(s.link(), ['sleep', '30'], 300, {stdout: new Collect(), stderr: new Collect()})
    expect(await slow.done).toBe(124)
    const next = new Collect()
    expect(await new ServedStep(s.link(), ['echo', 'next'], 0, {stdout: next, stderr: new Collect()}).done).toBe(0)
    expect(next.text).toBe('next\n')
    s.child.kill('SIGTERM')
    await s.exited
  })

  it('a server that ends mid-step fails the step', async () => {
    const s = serving()
    const step = new ServedStep(s.link(), ['sleep', '30'], 0, {stdout: new Collect(), stderr: new Collect()})
    await step.started
    s.child.kill('SIGTERM')
    await expect(step.done).rejects.toThrow(/the debugger ended during the command/)
  })
})

const flags = (over: Partial<AttachFlags> = {}): AttachFlags => ({privileged: false, chroot: false, 'detach-keys': 'ctrl-p,ctrl-q', ...over})
const input = (over: Partial<AttachInput> = {}): AttachInput => ({targetArg: 'web', command: [], flags: flags(), env: {}, stdinIsTTY: false, stdoutIsTTY: false, stdinHasData: false, ...over})
const usage = (over: Partial<AttachInput>, message: RegExp): void => {
  let error: unknown
  try {
    planAttach(input(over))
  } catch (e) {
    error = e
  }
  expect(error).toBeInstanceOf(MindbgError)
  expect((error as MindbgError).exitCode).toBe(2)
  expect((error as MindbgError).message).toMatch(message)
}

describe('planAttach: --detach, --ttl, --end, --session with a command', () => {
  it('--detach: a serving debugger with its ttl (default 1h), stdin open, no terminal', () => {
    const plan = planAttach(input({flags: flags({detach: true}), stdinIsTTY: true, stdoutIsTTY: true}))
    expect(plan).toMatchObject({kind: 'new', streams: {stdin: true, tty: false}, request: {serve: {ttlMs: DEFAULT_TTL_MS}, command: SERVE_COMMAND}})
    expect(planAttach(input({flags: flags({detach: true, ttl: '90s'})}))).toMatchObject({request: {serve: {ttlMs: 90_000}}})
  })

  it('--session S -- CMD runs a command; in a terminal with a terminal', () => {
    expect(planAttach(input({targetArg: undefined, flags: flags({session: 's'}), command: ['ps']}))).toMatchObject({kind: 'reattach', command: ['ps'], end: false, streams: {stdin: false, tty: false}})
    expect(planAttach(input({targetArg: undefined, flags: flags({session: 's'}), command: ['top'], stdinIsTTY: true, stdoutIsTTY: true}))).toMatchObject({streams: {stdin: true, tty: true}})
    expect(planAttach(input({targetArg: undefined, flags: flags({session: 's', end: true})}))).toMatchObject({kind: 'reattach', end: true})
    expect(planAttach(input({flags: flags({reuse: true}), command: ['ps']}))).toMatchObject({kind: 'new', reuse: true, request: {command: ['ps']}})
  })

  it.each([
    [{flags: flags({ttl: '1m'})}, /--ttl goes with --detach/],
    [{flags: flags({detach: true}), command: ['ps']}, /--detach .* takes none/],
    [{flags: flags({detach: true, reuse: true})}, /--reuse and --detach/],
    [{flags: flags({detach: true, ttl: '10ms'})}, /too short/],
    [{flags: flags({end: true})}, /--end goes with --session/],
    [{targetArg: undefined, flags: flags({session: 's', end: true}), command: ['ps']}, /--end takes no command/],
    [{targetArg: undefined, flags: flags({session: 's', detach: true})}, /cannot be combined with --detach/],
    [{targetArg: 'pod/web', flags: flags({detach: true})}, /--detach is not available for Kubernetes/],
    [{targetArg: 'pod/web', flags: flags({session: 's'}), command: ['ps']}, /a command \(or --end\) in a debugger left running is for Docker/],
    [{targetArg: 'pod/web', flags: flags({reuse: true}), command: ['ps']}, /is for Docker targets/],
  ] as Array<[Partial<AttachInput>, RegExp]>)('refused: %#', (over, message) => usage(over, message))
})

describe('buildSidecarSpec for a serving debugger', () => {
  it('keeps stdin open across attaches, bounds its life inside (MINDBG_TIMEOUT_MS) and says so in its labels', () => {
    const target = {runtime: 'docker' as const, id: 'abc', name: 'web', ref: 'web', image: 'i', imageId: 'i', state: 'running' as const, stateDetail: '', stateMessage: '', stateHint: '', user: '', env: [], pidMode: '', ipcMode: 'private', pid: 1, labels: {}}
    const identity = {user: 'alice@laptop', startedAt: '2026-11-27T03:00:00.000Z', version: '0.1.0', reason: undefined}
    const streams = {stdin: true, tty: false, detachKeys: [16, 17], detachKeysSpec: 'ctrl-p,ctrl-q'}
    const spec = buildSidecarSpec(target, sidecarRequest({serve: {ttlMs: 60_000}, command: SERVE_COMMAND}), streams, identity, 'docker', 'n', true)
    expect(spec).toMatchObject({OpenStdin: true, StdinOnce: false, Tty: false})
    expect(spec.Env).toContain('MINDBG_TIMEOUT_MS=60000')
    expect(spec.Labels).toMatchObject({[LABEL.serve]: '1', [LABEL.expires]: '2026-11-27T03:01:00.000Z'})
    expect(spec.Entrypoint?.slice(1)).toEqual(SERVE_COMMAND)
    expect(() => buildSidecarSpec(target, sidecarRequest({serve: {ttlMs: 60_000}, command: SERVE_COMMAND}), streams, identity, 'docker', 'n', false)).toThrow(/mindbg-init/)
  })
})
