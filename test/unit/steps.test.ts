/**
 * The step server (src/session/steps.ts), run for real with each `sh` a debug image may have, under mindbg-init (as in
 * a Docker sidecar or a pod with a writable /tmp) and without it (timeout(1) keeps the deadline): outputs byte-exact
 * and apart, exit codes, argv verbatim, deadlines, orphans, markers cut at every byte, a step's output never taken for
 * a marker.
 */
import {spawn} from 'node:child_process'
import {createHash} from 'node:crypto'
import {existsSync, readFileSync} from 'node:fs'
import {arch} from 'node:os'
import {PassThrough, Transform, Writable} from 'node:stream'

import {describe, expect, it} from 'vitest'

import {Collect} from './fixtures.js'
import {STEP_COMMAND, StepChannel} from '../../src/session/steps.js'

const INIT = new URL(`../../dist/init/mindbg-init-${arch() === 'arm64' ? 'arm64' : 'amd64'}`, import.meta.url).pathname
const SHELLS: Array<[string, string]> = [
  ['busybox sh', '/bin/busybox'],
  ['dash', '/usr/bin/dash'],
  ['bash', '/usr/bin/bash'],
]

/** Cuts everything into `size`-byte chunks, so that markers arrive split at every possible place. */
const chopper = (size: number): Transform =>
  new Transform({
    transform(chunk: Buffer, _e, cb) {
      for (let i = 0; i < chunk.length; i += size) this.push(chunk.subarray(i, i + size))
      cb()
    },
  })

function server(shell: string, options: {init: boolean; chop?: number; path?: string}) {
  if (!existsSync(shell)) throw new Error(`${shell} is missing: npm test provisions busybox-static (dash and bash come with Debian)`)
  const argv = shell.endsWith('busybox') ? [shell, ...STEP_COMMAND] : [shell, ...STEP_COMMAND.slice(1)]
  const [command, ...args] = options.init ? [INIT, ...argv] : argv
  const child = spawn(command!, args, {stdio: ['pipe', 'pipe', 'pipe'], env: {PATH: options.path ?? process.env.PATH, HOME: '/nonexistent'}})
  const channel = new StepChannel()
  channel.io.stdin!.pipe(child.stdin)
  const chopped = (from: NodeJS.ReadableStream): NodeJS.ReadableStream => (options.chop ? from.pipe(chopper(options.chop)) : from)
  chopped(child.stdout).pipe(channel.io.stdout)
  chopped(child.stderr).pipe(channel.io.stderr)
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  const step = async (argv: string[], timeoutMs = 10_000) => {
    const stdout = new Collect()
    const stderr = new Collect()
    const started = Date.now()
    const end = await channel.run(argv, timeoutMs, {stdout, stderr})
    return {...end, stdout: stdout.text, stderr: stderr.text, bytes: stdout.bytes, ms: Date.now() - started}
  }
  return {channel, step, exited, child}
}

describe.each(SHELLS)('the step server with %s', (_name, shell) => {
  for (const init of [true, false]) {
    describe(init ? 'under mindbg-init' : 'without mindbg-init', () => {
      it('keeps each step\'s stdout, stderr and exit code apart, byte for byte', async () => {
        const s = server(shell, {init})
        const a = await s.step(['sh', '-c', 'echo out; echo err >&2; exit 3'])
        expect(a).toMatchObject({exitCode: 3, stdout: 'out\n', stderr: 'err\n'})
        const b = await s.step(['sh', '-c', 'printf "no newline"'])
        expect(b).toMatchObject({exitCode: 0, stdout: 'no newline', stderr: ''})
        const c = await s.step(['sh', '-c', 'printf "\\n\\n"; printf "\\n" >&2'])
        expect(c).toMatchObject({stdout: '\n\n', stderr: '\n'})
        s.channel.end()
        expect(await s.exited).toBe(0)
      })

      it('passes argv verbatim: quotes, newlines, dollars, empty words', async () => {
        const s = server(shell, {init})
        const words = ["it's", 'two\nlines', '$HOME `id` $(id)', '', '"\\\'', ' spaced ']
        const r = await s.step(['sh', '-c', 'for w in "$@"; do printf "[%s]" "$w"; done', 'x', ...words])
        expect(r.stdout).toBe(words.map((w) => `[${w}]`).join(''))
        s.channel.end()
        await s.exited
      })

      it('kills a step at its deadline and runs the next one', async () => {
        const s = server(shell, {init})
        const slow = await s.step(['sh', '-c', 'echo started; sleep 30; echo never'], 700)
        expect(slow.stdout).toBe('started\n')
        expect([124, 137]).toContain(slow.exitCode)
        // timeout(1) counts whole seconds.
        expect(slow.ms).toBeLessThan(init ? 5000 : 6000)
        const next = await s.step(['echo', 'next'])
        expect(next).toMatchObject({exitCode: 0, stdout: 'next\n'})
        s.channel.end()
        expect(await s.exited).toBe(0)
      })

      it('a command that does not exist is exit 127 and the server goes on', async () => {
        const s = server(shell, {init})
        const r = await s.step(['no-such-command-here'])
        expect(r.exitCode).toBe(127)
        expect(r.stderr).toMatch(/no-such-command-here/)
        expect((await s.step(['true'])).exitCode).toBe(0)
        s.channel.end()
        await s.exited
      })
    })
  }

  it('markers cut into 1- and 3-byte chunks still end each step exactly', async () => {
    for (const chop of [1, 3]) {
      const s = server(shell, {init: true, chop})
      for (let n = 0; n < 5; n++) {
        const r = await s.step(['sh', '-c', `printf 'step %s' ${n}; printf 'e%s' ${n} >&2; exit ${n}`])
        expect(r).toMatchObject({exitCode: n, stdout: `step ${n}`, stderr: `e${n}`})
      }
      s.channel.end()
      await s.exited
    }
  })

  it('binary output, and output that prints what looks like a marker without the token', async () => {
    const s = server(shell, {init: true})
    const r = await s.step(['sh', '-c', 'head -c 3000000 /dev/urandom | tee /tmp/.mindbg-steps-$$ | cat; sha256sum /tmp/.mindbg-steps-$$ >&2; rm /tmp/.mindbg-steps-$$'])
    expect(createHash('sha256').update(r.bytes).digest('hex')).toBe(r.stderr.split(' ')[0])
    const fake = await s.step(['sh', '-c', 'printf "\\n0123456789abcdef0123456789abcdef:0\\n"; printf "\\nabc\\n" >&2'])
    expect(fake.stdout).toBe('\n0123456789abcdef0123456789abcdef:0\n')
    s.channel.end()
    await s.exited
  })

  it('under mindbg-init, what a step leaves running is gone when it ends', async () => {
    const s = server(shell, {init: true})
    const r = await s.step(['sh', '-c', '(sleep 41 &) ; sleep 42 & echo $!'])
    const pid = Number(r.stdout.trim())
    expect(existsSync(`/proc/${pid}`) && readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2] !== 'Z').toBe(false)
    s.channel.end()
    await s.exited
  })

  it('without timeout(1) or mindbg-init the step runs with no deadline inside (mindbg keeps it)', async () => {
    // A PATH with sh only: no timeout applet to be found.
    const s = server(shell, {init: false, path: '/nonexistent'})
    const r = await s.step(['/bin/sh', '-c', 'echo ok'], 500)
    expect(r).toMatchObject({exitCode: 0, stdout: 'ok\n'})
    s.channel.end()
    await s.exited
  })
})

it('a step is sent only when the one before has ended', async () => {
  const channel = new StepChannel('t0ken')
  const sink = {stdout: new PassThrough(), stderr: new PassThrough()}
  void channel.run(['true'], 1000, sink)
  expect(() => channel.run(['true'], 1000, sink)).toThrow(/still running/)
})
