/**
 * The shell wrappers of Kubernetes debuggers, run for real with each `sh` a debug image may have: busybox (the
 * default debug image's), dash (/bin/sh of Debian and Ubuntu images, without `read -t`) and bash. The go-ahead gate,
 * input relayed without a FIFO, and commands that stop when the session's stdin closes.
 */
import {spawn} from 'node:child_process'
import {existsSync, readdirSync, readFileSync} from 'node:fs'
import {arch} from 'node:os'

import {describe, expect, it} from 'vitest'

import {delay, PtySession} from '../support/pty.js'

import {GO_AHEAD, initAnswer, ONE_SHOT_WRAPPER, RELAY_END, RELAY_WRAPPER, relayChunk, TTY_WRAPPER} from '../../src/backends/kubernetes/spec.js'

const SHELLS: Array<[string, string[]]> = [
  ['busybox sh', ['/bin/busybox', 'sh']],
  ['dash', ['/usr/bin/dash']],
  ['bash', ['/usr/bin/bash']],
]

/** PIDs of running `sleep MARKER` processes. */
function sleeping(marker: string): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'latin1') === `sleep\0${marker}\0`
      } catch {
        return false
      }
    })
    .map(Number)
}

interface Run {
  code: number | null
  stdout: string
  ms: number
}

const INIT_BINARY = readFileSync(new URL(`../../dist/init/mindbg-init-${arch() === 'arm64' ? 'arm64' : 'amd64'}`, import.meta.url))
const INIT_REQUEST = /mindbg-init:unit:(\S+)\n|\x1b\]mindbg-init;unit;([^\x07]*)\x07/

describe.each(SHELLS)('with %s', (_name, shell) => {
/**
 * Runs `SHELL -c script mindbg ...args`, feeding stdin step by step: strings are written, numbers wait (ms), null
 * closes. After the go-ahead it answers the init request as mindbg does: with the binary, or (init: false) none.
 */
function run(script: string, args: string[], steps: Array<string | Buffer | number | null>, options: {init?: boolean} = {}): Promise<Run> {
  if (!existsSync(shell[0]!)) throw new Error(`${shell[0]} is missing: npm test provisions busybox-static (dash and bash come with Debian)`)
  const started = Date.now()
  const child = spawn(shell[0]!, [...shell.slice(1), '-c', script, 'mindbg', ...args], {stdio: ['pipe', 'pipe', 'pipe'], env: {...process.env, MINDBG_SESSION: 'unit'}})
  let stderr = ''
  let stdout = ''
  let answered: () => void = () => {}
  const answer = new Promise<void>((resolve) => (answered = resolve))
  const lookForRequest = (): void => {
    const request = INIT_REQUEST.exec(stdout + stderr)
    if (!request) return
    const arch = request[1] ?? request[2]
    if (arch !== '-') child.stdin.write(initAnswer(options.init === false ? undefined : INIT_BINARY, arch?.endsWith('+raw')))
    answered()
  }
  child.stderr.on('data', (d: Buffer) => {
    stderr += d
    lookForRequest()
  })
  child.stdout.on('data', (d: Buffer) => {
    stdout += d
    lookForRequest()
  })
  child.on('close', () => answered())
  // The wrapper may end before every step is written (that is what some tests check): no EPIPE noise.
  child.stdin.on('error', () => {})
  void (async () => {
    for (const step of steps) {
      if (step === null) child.stdin.end()
      else if (typeof step === 'number') await new Promise((r) => setTimeout(r, step))
      else child.stdin.write(step)
      if (step === GO_AHEAD) await answer
    }
  })()
  // The exit code as mindbg takes it: from the trailer when there is one (the wrapper's own status otherwise).
  return new Promise((resolve) =>
    child.on('close', (code) => {
      const trailer = /mindbg-exit:unit:(\d+)\n/.exec(stderr)
      process.stderr.write(stderr.replace(/mindbg-exit:unit:\d+\n/, '').replace(INIT_REQUEST, ''))
      // With the trailer, stdout ends with its end marker (and nothing after it).
      if (trailer) expect(stdout).toMatch(/mindbg-end:unit\n$/)
      resolve({code: trailer ? Number(trailer[1]) : code, stdout: stdout.replace(INIT_REQUEST, '').replace(/mindbg-end:unit\n$/, ''), ms: Date.now() - started})
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

  it('a command that ignores SIGTERM is killed at once under the init', async () => {
    const r = await run(ONE_SHOT_WRAPPER, ['sh', '-c', 'trap "" TERM; sleep 30'], [GO_AHEAD, 300, null])
    expect(r.code).toBe(143)
    expect(r.ms).toBeLessThan(2000)
  })

  it('without the init, a command that ignores SIGTERM is killed 2 s later', async () => {
    const r = await run(ONE_SHOT_WRAPPER, ['sh', '-c', 'trap "" TERM; sleep 30'], [GO_AHEAD, 300, null], {init: false})
    expect(r.code).toBe(137)
    expect(r.ms).toBeGreaterThan(2000)
    expect(r.ms).toBeLessThan(5000)
  })

  it.each([
    ['ONE_SHOT_WRAPPER', ONE_SHOT_WRAPPER, [GO_AHEAD, 1500, null]],
    ['RELAY_WRAPPER', RELAY_WRAPPER, [GO_AHEAD, RELAY_END, 1500, null]],
  ] as const)('%s: what the command leaves behind ends with it, the init file and its variable are gone', async (_w, wrapper, steps) => {
    // Off the output, which would stay open while they run.
    const orphans = (m: string): string => `sleep ${m} >/dev/null 2>&1 & sh -c 'sleep ${m} >/dev/null 2>&1 &'`
    // A unique sleep, so that this test finds its own orphan (a sleep that outlives its shell goes to our subreaper).
    const marker = `${37 + Math.random()}`.slice(0, 8)
    const r = await run(wrapper, ['sh', '-c', `${orphans(marker)}; env | grep -c MINDBG_INIT; ls -a /tmp | grep -c "mindbg-init.$PPID"; exit 5`], [...steps])
    expect(r).toMatchObject({code: 5, stdout: '0\n0\n'})
    expect(sleeping(marker)).toEqual([])
    // The same without the init: the orphans are still there (what the target's PID 1 would inherit).
    const without = await run(wrapper, ['sh', '-c', `${orphans(marker)}; exit 5`], [...steps], {init: false})
    expect(without.code).toBe(5)
    expect(sleeping(marker)).toHaveLength(2)
    for (const pid of sleeping(marker)) process.kill(pid, 'SIGKILL')
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

  it('copies chunks of whole 64 kB blocks, a rest, and both byte for byte, each arriving in pieces', async () => {
    const sizes = [65536, 100, 3 * 65536 + 5, 1024 * 1024, 65535]
    const data = Buffer.from(Array.from({length: sizes.reduce((a, b) => a + b)}, (_, i) => (i * 31 + (i >> 9)) % 256))
    const steps: Array<Buffer | string | number | null> = [GO_AHEAD]
    let at = 0
    for (const size of sizes) {
      const framed = relayChunk(data.subarray(at, at + size))
      at += size
      // The pipe delivers a chunk as it comes: dd must wait for its blocks to fill (fullblock), not copy short reads.
      for (let i = 0; i < framed.length; i += 40_000) steps.push(framed.subarray(i, i + 40_000))
    }
    const r = await run(RELAY_WRAPPER, ['md5sum'], [...steps, RELAY_END, 1500, null])
    const {createHash} = await import('node:crypto')
    expect(r.stdout.split(' ')[0]).toBe(createHash('md5').update(data).digest('hex'))
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
  it('on a terminal: asks for the init with echo off, and runs the program under it', async () => {
    const marker = `${37 + Math.random()}`.slice(0, 8)
    const term = new PtySession(shell[0]!, [...shell.slice(1), '-c', TTY_WRAPPER, 'mindbg', 'sh'], {...process.env, MINDBG_SESSION: 'unit', PS1: '$ '})
    try {
      // As mindbg does, once the debugger runs (and has turned the echo off).
      await delay(300)
      term.send(GO_AHEAD)
      await term.expect(/\x1b\]mindbg-init;unit;(amd64|arm64)\x07/)
      term.send(initAnswer(INIT_BINARY).toString('latin1'))
      await term.expect(/[$#] $/)
      // Not one byte of the answer was echoed; the terminal echoes again now.
      expect(term.output).not.toMatch(/\\[0-7]{3}/)
      term.send(`sleep ${marker} >/dev/null 2>&1 & sh -c 'sleep ${marker} >/dev/null 2>&1 &'; echo "[$(env | grep -c MINDBG_INIT)]"\r`)
      await term.expect(/\[0\]/)
      expect(term.output).toContain(`sleep ${marker}`)
      expect(sleeping(marker)).toHaveLength(2)
      term.send('exit 5\r')
      expect((await term.waitExit()).exitCode).toBe(5)
      expect(sleeping(marker)).toEqual([])
    } finally {
      await term.close()
    }
  })

  it('on a terminal without stty: says it wants no init, and runs the program as it is', async () => {
    const term = new PtySession(shell[0]!, [...shell.slice(1), '-c', TTY_WRAPPER.replaceAll('stty', 'no-such-stty'), 'mindbg', 'sh', '-c', 'echo ran; exit 4'], {...process.env, MINDBG_SESSION: 'unit'})
    await delay(300)
    term.send(GO_AHEAD)
    await term.expect(/\x1b\]mindbg-init;unit;-\x07/)
    await term.expect(/ran/)
    expect((await term.waitExit()).exitCode).toBe(4)
  })

  it('runs the program after the go-ahead, keeping stdin', async () => {
    const r = await run(TTY_WRAPPER, ['sh'], [GO_AHEAD, 'echo hi\nexit 3\n'])
    expect(r).toMatchObject({code: 3, stdout: 'hi\n'})
  })
})

describe('the go-ahead gate', () => {
  it('a debugger nobody attaches to exits by itself (30 s; 2 s here), whatever the shell', async () => {
    expect(TTY_WRAPPER.match(/\b30\b/g)).toHaveLength(2)
    expect(TTY_WRAPPER).toContain('timeout $fg 30 ')
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

  it('uses no FIFO and no temporary file (a file only for the init, where it can)', () => {
    expect(RELAY_WRAPPER).not.toMatch(/mkfifo|mktemp/)
    expect(RELAY_WRAPPER.replace(/(prep|fetch)_init\(\) \{[^]*?\n\}/g, '')).not.toMatch(/\/tmp/)
  })
})
})

describe.each(SHELLS)('a command the debug image lacks, with %s', (_name, shell) => {
  it.each([['ONE_SHOT_WRAPPER', ONE_SHOT_WRAPPER], ['RELAY_WRAPPER', RELAY_WRAPPER]])('%s names it as typed and exits 127 with the trailer', async (_w, wrapper) => {
    const child = spawn(shell[0]!, [...shell.slice(1), '-c', wrapper, 'mindbg', 'no-such-tool-x', 'arg'], {stdio: ['pipe', 'pipe', 'pipe'], env: {...process.env, MINDBG_SESSION: 's1'}})
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d))
    // The init's answer may come before the wrapper asks (the pipe holds it): here none, just its end.
    child.stdin.write(`${GO_AHEAD}.\n`)
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
    child.stdin.destroy()
    expect(code).toBe(127)
    expect(stderr.replace(/^mindbg-init:s1:[\w+]+\n/, '')).toBe('mindbg: no-such-tool-x: command not found in the debug image\nHint: use --image with a debug image that has it (or give its full path).\nmindbg-exit:s1:127\n')
  })
})
