/**
 * The shell wrappers of Kubernetes debuggers, run for real with each `sh` a debug image may have: busybox (the
 * default debug image's), dash (/bin/sh of Debian and Ubuntu images, without `read -t`) and bash. The go-ahead gate,
 * input relayed without a FIFO, and commands that stop when the session's stdin closes.
 */
import {spawn} from 'node:child_process'
import {existsSync} from 'node:fs'

import {describe, expect, it} from 'vitest'

import {GO_AHEAD, ONE_SHOT_WRAPPER, RELAY_END, RELAY_WRAPPER, relayChunk, TTY_WRAPPER} from '../../src/backends/kubernetes/spec.js'

const SHELLS: Array<[string, string[]]> = [
  ['busybox sh', ['/bin/busybox', 'sh']],
  ['dash', ['/usr/bin/dash']],
  ['bash', ['/usr/bin/bash']],
]

interface Run {
  code: number | null
  stdout: string
  ms: number
}

describe.each(SHELLS)('with %s', (_name, shell) => {
/** Runs `SHELL -c script mindbg ...args`, feeding stdin step by step: strings are written, numbers wait (ms), null closes. */
function run(script: string, args: string[], steps: Array<string | Buffer | number | null>): Promise<Run> {
  if (!existsSync(shell[0]!)) throw new Error(`${shell[0]} is missing: npm test provisions busybox-static (dash and bash come with Debian)`)
  const started = Date.now()
  const child = spawn(shell[0]!, [...shell.slice(1), '-c', script, 'mindbg', ...args], {stdio: ['pipe', 'pipe', 'pipe'], env: {...process.env, MINDBG_SESSION: 'unit'}})
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => (stderr += d))
  let stdout = ''
  child.stdout.on('data', (d: Buffer) => (stdout += d))
  // The wrapper may end before every step is written (that is what some tests check): no EPIPE noise.
  child.stdin.on('error', () => {})
  void (async () => {
    for (const step of steps) {
      if (step === null) child.stdin.end()
      else if (typeof step === 'number') await new Promise((r) => setTimeout(r, step))
      else child.stdin.write(step)
    }
  })()
  // The exit code as mindbg takes it: from the trailer when there is one (the wrapper's own status otherwise).
  return new Promise((resolve) =>
    child.on('close', (code) => {
      const trailer = /mindbg-exit:unit:(\d+)\n/.exec(stderr)
      process.stderr.write(stderr.replace(/mindbg-exit:unit:\d+\n/, ''))
      resolve({code: trailer ? Number(trailer[1]) : code, stdout, ms: Date.now() - started})
    }),
  )
}

describe('ONE_SHOT_WRAPPER', () => {
  it('runs the command after the go-ahead and exits with its code while the session lasts', async () => {
    const r = await run(ONE_SHOT_WRAPPER, ['sh', '-c', 'sleep 0.5; echo done; exit 7'], [GO_AHEAD, 1500, null])
    expect(r).toMatchObject({code: 7, stdout: 'done\n'})
  })

  it('stops the command as soon as the session ends (stdin closed)', async () => {
    const r = await run(ONE_SHOT_WRAPPER, ['sleep', '30'], [GO_AHEAD, 300, null])
    expect(r.code).toBe(143)
    expect(r.ms).toBeLessThan(3000)
  })

  it('a command that ignores SIGTERM is killed 2 s later', async () => {
    const r = await run(ONE_SHOT_WRAPPER, ['sh', '-c', 'trap "" TERM; sleep 30'], [GO_AHEAD, 300, null])
    expect(r.code).toBe(137)
    expect(r.ms).toBeLessThan(5000)
  })

  it('never runs the command when the session ended before the go-ahead', async () => {
    const r = await run(ONE_SHOT_WRAPPER, ['echo', 'ran'], [null])
    expect(r).toMatchObject({code: 0, stdout: ''})
  })

  it('keeps the command off the session stdin (it reads /dev/null, not the lifeline)', async () => {
    const r = await run(ONE_SHOT_WRAPPER, ['sh', '-c', 'cat; echo eof'], [GO_AHEAD, 3000, null])
    expect(r).toMatchObject({code: 0, stdout: 'eof\n'})
    expect(r.ms).toBeLessThan(2500)
  })
})

describe('RELAY_WRAPPER: input in chunks, stdin kept as the lifeline', () => {
  const chunk = (data: string | Buffer): Buffer => relayChunk(Buffer.from(data))

  it('hands the input to the command, which sees EOF at the end chunk', async () => {
    const r = await run(RELAY_WRAPPER, ['sh', '-c', 'tr a-z A-Z; echo eof'], [GO_AHEAD, chunk('hello\n'), chunk('wor'), chunk('ld\n'), RELAY_END, 1500, null])
    expect(r).toMatchObject({code: 0, stdout: 'HELLO\nWORLD\neof\n'})
  })

  it('passes bytes through exactly, newlines and binary included', async () => {
    const data = Buffer.from(Array.from({length: 3000}, (_, i) => (i * 7) % 256))
    const r = await run(RELAY_WRAPPER, ['md5sum'], [GO_AHEAD, chunk(data.subarray(0, 1000)), chunk(data.subarray(1000)), RELAY_END, 1500, null])
    const {createHash} = await import('node:crypto')
    expect(r.stdout.split(' ')[0]).toBe(createHash('md5').update(data).digest('hex'))
  })

  it('runs a piped script in a shell, with its exit code', async () => {
    const r = await run(RELAY_WRAPPER, ['sh'], [GO_AHEAD, chunk('echo $((6*7))\nexit 4\n'), RELAY_END, 1500, null])
    expect(r).toMatchObject({code: 4, stdout: '42\n'})
  })

  it('stops a command that ignores its input when the session ends', async () => {
    const r = await run(RELAY_WRAPPER, ['sleep', '30'], [GO_AHEAD, chunk('ignored\n'), RELAY_END, 300, null])
    expect(r.code).toBe(143)
    expect(r.ms).toBeLessThan(3000)
  })

  it('stops a piped script stuck in a long command when the session ends', async () => {
    const r = await run(RELAY_WRAPPER, ['sh'], [GO_AHEAD, chunk('sleep 30\n'), 300, null])
    expect(r.code).toBe(143)
    expect(r.ms).toBeLessThan(3000)
  })
})

describe('TTY_WRAPPER', () => {
  it('runs the program after the go-ahead, keeping stdin', async () => {
    const r = await run(TTY_WRAPPER, ['sh'], [GO_AHEAD, 'echo hi\nexit 3\n'])
    expect(r).toMatchObject({code: 3, stdout: 'hi\n'})
  })
})

describe('the go-ahead gate', () => {
  it('a debugger nobody attaches to exits by itself (30 s; 2 s here), whatever the shell', async () => {
    expect(TTY_WRAPPER.match(/\b30\b/g)).toHaveLength(2)
    const r = await run(TTY_WRAPPER.replace(/\b30\b/g, '2'), ['echo', 'ran'], [4000])
    expect(r).toMatchObject({code: 0, stdout: ''})
    expect(r.ms).toBeGreaterThan(1900)
    expect(r.ms).toBeLessThan(3500)
  })
})

describe('RELAY_WRAPPER without a writable filesystem', () => {
  it('relays 1 MB in 64 kB chunks byte for byte (head -c never reads past its chunk)', async () => {
    const data = Buffer.from(Array.from({length: 1 << 20}, (_, i) => (i * 31 + (i >> 8)) % 256))
    const chunks: Buffer[] = []
    for (let at = 0; at < data.length; at += 65536) chunks.push(relayChunk(data.subarray(at, at + 65536)))
    const r = await run(RELAY_WRAPPER, ['md5sum'], [GO_AHEAD, ...chunks, RELAY_END, 500, null])
    const {createHash} = await import('node:crypto')
    expect(r.stdout.split(' ')[0]).toBe(createHash('md5').update(data).digest('hex'))
    expect(r.code).toBe(0)
  })

  it('uses no FIFO and no temporary file', () => {
    expect(RELAY_WRAPPER).not.toMatch(/mkfifo|mktemp|\/tmp/)
  })
})
})

describe.each(SHELLS)('a command the debug image lacks, with %s', (_name, shell) => {
  it.each([['ONE_SHOT_WRAPPER', ONE_SHOT_WRAPPER], ['RELAY_WRAPPER', RELAY_WRAPPER]])('%s names it as typed and exits 127 with the trailer', async (_w, wrapper) => {
    const child = spawn(shell[0]!, [...shell.slice(1), '-c', wrapper, 'mindbg', 'no-such-tool-x', 'arg'], {stdio: ['pipe', 'pipe', 'pipe'], env: {...process.env, MINDBG_SESSION: 's1'}})
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d))
    child.stdin.write(GO_AHEAD)
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
    child.stdin.destroy()
    expect(code).toBe(127)
    expect(stderr).toBe('mindbg: no-such-tool-x: command not found in the debug image\nHint: use --image with a debug image that has it (or give its full path).\nmindbg-exit:s1:127\n')
  })
})
