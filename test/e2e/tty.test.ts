/**
 * Interactive sessions under a real pseudo-terminal (@lydell/node-pty): prompt, window size, raw mode and its
 * restoration, Ctrl-C, detach/re-attach, and every way a session can end (exit, signals, terminal closed, target
 * killed), each checked for zero residue. Matching is on the raw terminal output (nothing is stripped).
 */
import {execFileSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {COLS, delay, describeExit, type Exit, mindbgChildren, PtySession, ROWS, signal} from '../support/pty.js'
import {BIN, changesIn, docker, dockerOk, MARKER, removeTargets, requireEngine, ROOT, sidecarsOf, startTarget, testEnv, waitFor} from './helpers.js'

/** busybox ash's prompt for root (followed on the wire by a cursor-position query, ESC[6n). */
const PROMPT = /\/ # /
/** The notice mindbg prints once the sidecar exists: "mindbg: <id> (<name>) is next to <target>; ...". */
const NOTICE = /mindbg: [0-9a-f]{12} \(([\w.-]+)\) is next to /
const DETACHED = /mindbg attach --session ([\w.-]+)/
const TEST_TIMEOUT = 20_000

function stty(ptsName: string, format: '-a' | '-g'): string {
  return execFileSync('stty', ['-F', ptsName, format], {encoding: 'utf8'}).trim()
}

/** Whether an `stty -a` listing has `flag` set (true), cleared (false, "-flag"). */
function flagOf(listing: string, flag: string): boolean {
  const words = listing.split(/[\s;]+/)
  if (words.includes(flag)) return true
  if (words.includes(`-${flag}`)) return false
  throw new Error(`stty -a shows no ${flag}: ${listing}`)
}

const targets: string[] = []

function newTarget(): string {
  const name = startTarget()
  targets.push(name)
  return name
}

const targetId = (target: string): string => docker('inspect', '--format', '{{.Id}}', target)

/** Running (not just existing) sidecars of `target`, by name. */
function runningSidecarNames(target: string): string[] {
  const out = docker('ps', '--filter', `label=org.mindbg.target=${targetId(target)}`, '--format', '{{.Names}}')
  return out ? out.split('\n') : []
}

async function expectNoSidecar(target: string, withinMs: number): Promise<number> {
  const t0 = Date.now()
  await waitFor(`no sidecar of ${target} left`, () => sidecarsOf(target).length === 0, withinMs, 50)
  return Date.now() - t0
}

const rawLags: number[] = []

/**
 * Waits until mindbg has put the terminal in raw mode (read from outside with stty -F). mindbg does that only after
 * the engine answered the start request, which can come after the shell's prompt is already on the screen; keys
 * sent before would meet the cooked line discipline (local echo, ctrl-q eaten as XON, ctrl-c a SIGINT for mindbg).
 */
async function waitRaw(s: PtySession, timeoutMs = 3000): Promise<void> {
  const t0 = Date.now()
  await waitFor('the terminal in raw mode', () => !s.hasExited && !flagOf(stty(s.ptsName, '-a'), 'icanon'), timeoutMs, 10)
  rawLags.push(Date.now() - t0)
}

/** Starts `mindbg attach <args>`, waits for the prompt and raw mode; returns the session and the sidecar's name. */
async function attachShell(args: string[]): Promise<{s: PtySession; sidecar: string}> {
  const s = PtySession.mindbg(['attach', ...args])
  const [, sidecar] = await s.expect(NOTICE, 15_000)
  await s.expect(PROMPT)
  await waitRaw(s)
  return {s, sidecar: sidecar!}
}

/** A line of command output: what the shell prints after it echoed the command line ("\r\r\n" with ONLCR). */
const outputLine = (text: string): RegExp => new RegExp(`\\n${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\r`)

const timings: string[] = []

beforeAll(() => {
  requireEngine()
})

afterAll(() => {
  // Sidecars a failed test may have left behind (e.g. after a detach), then the targets.
  for (const target of targets) {
    try {
      const ids = sidecarsOf(target)
      if (ids.length > 0) dockerOk('rm', '-f', ...ids)
    } catch {
      // target already gone
    }
  }
  removeTargets()
  if (rawLags.length > 0) timings.push(`prompt on screen -> terminal raw (max over ${rawLags.length} sessions): ${Math.max(...rawLags)} ms`)
  if (timings.length > 0) console.log(`tty e2e timings:\n  ${timings.join('\n  ')}`)
})

describe('mindbg attach under a pseudo-terminal', () => {
  it('gives an interactive shell next to the target, passes its exit code and leaves nothing behind', {timeout: TEST_TIMEOUT}, async () => {
    const target = newTarget()
    const {s} = await attachShell([target])
    try {
      s.send('ps\r')
      await s.expect(/\/app\/web/) // the target's PID 1, visible through the shared PID namespace
      await s.expect(PROMPT)
      s.send('exit 4\r')
      const exit = await s.waitExit()
      expect(exit).toEqual({exitCode: 4, signal: undefined})
      await expectNoSidecar(target, 3000)
      expect(changesIn(target)).toBe('')
    } finally {
      await s.close()
    }
  })

  it('propagates the initial window size and later resizes', {timeout: TEST_TIMEOUT}, async () => {
    const target = newTarget()
    const {s} = await attachShell([target])
    try {
      s.send('stty size\r')
      const [, size] = await s.expect(/\n(\d+ \d+)\r/)
      expect(size).toBe(`${ROWS} ${COLS}`)
      await s.expect(PROMPT)

      s.term.resize(120, 40)
      // The resize travels as its own API call, racing the next keystrokes: ask until it shows, for at most 3 s.
      const deadline = Date.now() + 3000
      let seen = ''
      for (;;) {
        s.send('stty size\r')
        seen = (await s.expect(/\n(\d+ \d+)\r/))[1]!
        await s.expect(PROMPT)
        if (seen === '40 120' || Date.now() > deadline) break
      }
      expect(seen).toBe('40 120')
      s.send('exit\r')
      expect(await s.waitExit()).toEqual({exitCode: 0, signal: undefined})
    } finally {
      await s.close()
    }
  })

  describe('terminal settings', () => {
    // sh -c 'stty -g > BEFORE.g; stty -a > BEFORE.a; node BIN attach TARGET; rc=$?; stty -g > AFTER.g; stty -a > AFTER.a; echo RC=$rc'
    const WRAPPER = 'stty -g > "$1.g"; stty -a > "$1.a"; "$2" "$3" attach "$4"; rc=$?; stty -g > "$5.g"; stty -a > "$5.a"; echo "RC=$rc"'
    const modes = (listing: string): Record<string, boolean> => ({
      icanon: flagOf(listing, 'icanon'),
      echo: flagOf(listing, 'echo'),
      isig: flagOf(listing, 'isig'),
    })
    const COOKED = {icanon: true, echo: true, isig: true}
    const RAW = {icanon: false, echo: false, isig: false}

    async function wrapped(end: (s: PtySession, mindbgPid: number) => void, expectedRc: number): Promise<void> {
      const target = newTarget()
      const dir = mkdtempSync(path.join(os.tmpdir(), 'mindbg-tty-'))
      const before = path.join(dir, 'before')
      const after = path.join(dir, 'after')
      const s = new PtySession('/bin/sh', ['-c', WRAPPER, 'sh', before, process.execPath, BIN, target, after])
      try {
        await s.expect(NOTICE, 15_000)
        await s.expect(PROMPT)
        const saved = readFileSync(`${before}.g`, 'utf8').trim()
        expect(saved).toMatch(/^[0-9a-f:]+$/)
        expect(modes(readFileSync(`${before}.a`, 'utf8'))).toEqual(COOKED)
        // During the session the terminal is raw (no line editing, no echo, no signal keys), seen from outside.
        await waitRaw(s)
        expect(modes(stty(s.ptsName, '-a'))).toEqual(RAW)
        expect(stty(s.ptsName, '-g')).not.toBe(saved)

        const [mindbgPid, ...others] = mindbgChildren(s.pid)
        expect(mindbgPid, 'the mindbg process under the wrapper shell').toBeDefined()
        expect(others).toEqual([])
        end(s, mindbgPid!)

        const [, rc] = await s.expect(/RC=(\d+)/)
        expect(Number(rc)).toBe(expectedRc)
        await s.waitExit()
        expect(readFileSync(`${after}.g`, 'utf8').trim()).toBe(saved)
        expect(modes(readFileSync(`${after}.a`, 'utf8'))).toEqual(COOKED)
        await expectNoSidecar(target, 3000)
      } finally {
        await s.close()
        rmSync(dir, {recursive: true, force: true})
      }
    }

    it('are raw during the session and restored after a normal exit', {timeout: TEST_TIMEOUT}, async () => {
      await wrapped((s) => s.send('exit 0\r'), 0)
    })

    it('are restored when mindbg is ended by SIGTERM mid-session (exit 143)', {timeout: TEST_TIMEOUT}, async () => {
      await wrapped((_, pid) => process.kill(pid, 'SIGTERM'), 143)
    })
  })

  it('sends Ctrl-C to the shell in the sidecar, not to mindbg', {timeout: TEST_TIMEOUT}, async () => {
    const target = newTarget()
    const {s, sidecar} = await attachShell([target])
    try {
      s.send('sleep 30\r')
      await s.expect(/sleep 30\r/)
      // Ctrl-C must find sleep in the foreground, else it would only interrupt the prompt.
      await waitFor('sleep 30 running in the sidecar', () => docker('top', sidecar).includes('sleep 30'), 5000, 50)
      s.send('\x03')
      s.send('echo alive\r')
      // If Ctrl-C did not reach sleep, "alive" would come only after 30 s.
      await s.expect(outputLine('alive'), 5000)
      expect(s.hasExited).toBe(false)
      expect(docker('top', sidecar)).not.toContain('sleep 30')
      await s.expect(PROMPT)
      s.send('exit\r')
      expect(await s.waitExit()).toEqual({exitCode: 0, signal: undefined})
      await expectNoSidecar(target, 3000)
    } finally {
      await s.close()
    }
  })

  describe('detach', () => {
    it.each([
      {how: '--session NAME', args: (_target: string, session: string) => ['--session', session], code: 3},
      {how: '--reuse next to the target', args: (target: string) => ['--reuse', target], code: 4},
    ])('ctrl-p,ctrl-q leaves the sidecar running; $how re-attaches (no new sidecar) and the exit code passes through', {timeout: TEST_TIMEOUT}, async ({args, code}) => {
      const target = newTarget()
      const {s, sidecar} = await attachShell([target])
      let again: PtySession | undefined
      try {
        s.send('\x10\x11')
        const [, session] = await s.expect(DETACHED)
        expect(session).toBe(sidecar)
        expect(await s.waitExit()).toEqual({exitCode: 0, signal: undefined})
        expect(runningSidecarNames(target)).toEqual([sidecar])

        again = PtySession.mindbg(['attach', ...args(target, session!)])
        await again.expect(new RegExp(`re-attached to ${sidecar}`), 15_000)
        expect(runningSidecarNames(target)).toEqual([sidecar])
        await waitRaw(again)
        again.send('\r')
        await again.expect(PROMPT)
        again.send('echo back\r')
        await again.expect(outputLine('back'))
        await again.expect(PROMPT)
        again.send(`exit ${code}\r`)
        expect(await again.waitExit()).toEqual({exitCode: code, signal: undefined})
        await expectNoSidecar(target, 3000)
      } finally {
        await s.close()
        await again?.close()
      }
    })

    it('--detach-keys ctrl-a,x detaches with that sequence', {timeout: TEST_TIMEOUT}, async () => {
      const target = newTarget()
      const s = PtySession.mindbg(['attach', '--detach-keys', 'ctrl-a,x', target])
      try {
        const [, sidecar] = await s.expect(NOTICE, 15_000)
        await s.expect(/detach with ctrl-a,x/)
        await s.expect(PROMPT)
        await waitRaw(s)
        s.send('\x01x')
        const [, session] = await s.expect(DETACHED)
        expect(session).toBe(sidecar)
        expect(await s.waitExit()).toEqual({exitCode: 0, signal: undefined})
        expect(runningSidecarNames(target)).toEqual([sidecar])
        docker('rm', '-f', sidecar!)
        await expectNoSidecar(target, 3000)
      } finally {
        await s.close()
      }
    })

    it('with --detach-keys ctrl-a,x, ctrl-p,ctrl-q is ordinary input and the session goes on', {timeout: TEST_TIMEOUT}, async () => {
      const target = newTarget()
      const {s, sidecar} = await attachShell(['--detach-keys', 'ctrl-a,x', target])
      try {
        s.send('\x10\x11')
        s.send('echo still\r')
        await s.expect(outputLine('still'), 5000)
        await s.expect(PROMPT)
        expect(s.hasExited).toBe(false)
        s.send('\x01x')
        await s.expect(DETACHED)
        expect(await s.waitExit()).toEqual({exitCode: 0, signal: undefined})
        expect(runningSidecarNames(target)).toEqual([sidecar])
      } finally {
        await s.close()
      }
    })
  })

  describe('mindbg ended from outside', () => {
    it('SIGKILL: the watchdog removes the sidecar within 10 s', {timeout: TEST_TIMEOUT}, async () => {
      const target = newTarget()
      const {s} = await attachShell([target])
      try {
        expect(sidecarsOf(target)).toHaveLength(1)
        const t0 = Date.now()
        process.kill(s.pid, 'SIGKILL')
        await waitFor(`no sidecar of ${target} left`, () => sidecarsOf(target).length === 0, 10_000, 50)
        const took = Date.now() - t0
        timings.push(`SIGKILL of mindbg -> sidecar removed: ${took} ms`)
        console.log(`SIGKILL of mindbg -> sidecar removed after ${took} ms`)
        expect((await s.waitExit()).signal).toBe(9)
      } finally {
        await s.close()
      }
    })

    it('SIGHUP (terminal hung up): sidecar removed within 3 s, exit code 129', {timeout: TEST_TIMEOUT}, async () => {
      const target = newTarget()
      const {s} = await attachShell([target])
      try {
        s.term.kill('SIGHUP')
        const took = await expectNoSidecar(target, 3000)
        timings.push(`SIGHUP -> sidecar removed: ${took} ms`)
        expect(await s.waitExit(5000)).toEqual({exitCode: 129, signal: undefined})
      } finally {
        await s.close()
      }
    })

    it('closing the terminal (pty master) ends the session and removes the sidecar within 3 s', {timeout: TEST_TIMEOUT}, async () => {
      const target = newTarget()
      const {s} = await attachShell([target])
      try {
        ;(s.term as unknown as {destroy(): void}).destroy()
        const took = await expectNoSidecar(target, 3000)
        timings.push(`pty closed -> sidecar removed: ${took} ms`)
        const exit = await s.waitExit(5000)
        expect(exit.signal, `mindbg should handle the hang-up itself, got ${describeExit(exit)}`).toBeUndefined()
      } finally {
        await s.close()
      }
    })
  })

  it('--chroot: the shell sees the target filesystem as / and writes nothing into it', {timeout: TEST_TIMEOUT}, async () => {
    const target = newTarget()
    const {s} = await attachShell(['--chroot', target])
    try {
      s.send('ls /app\r')
      await s.expect(/config\.txt/)
      await s.expect(/\bweb\b/)
      await s.expect(PROMPT)
      s.send('cat /app/config.txt\r')
      await s.expect(outputLine(MARKER))
      await s.expect(PROMPT)
      s.send('exit\r')
      expect(await s.waitExit()).toEqual({exitCode: 0, signal: undefined})
      await expectNoSidecar(target, 3000)
      // No shell history (or anything else) written into the target.
      expect(changesIn(target)).toBe('')
    } finally {
      await s.close()
    }
  })

  it('ends within 2 s with exit code 118 when the target is killed mid-session', {timeout: TEST_TIMEOUT}, async () => {
    const target = newTarget()
    const {s} = await attachShell([target])
    try {
      const t0 = Date.now()
      docker('kill', target)
      const exit = await s.waitExit(10_000)
      const took = Date.now() - t0
      timings.push(`docker kill target -> mindbg exited: ${took} ms`)
      console.log(`docker kill target -> mindbg exited after ${took} ms`)
      expect(exit).toEqual({exitCode: 118, signal: undefined})
      expect(s.output).toMatch(new RegExp(`mindbg: target ${target} stopped`))
      expect(took).toBeLessThan(2000)
      await expectNoSidecar(target, 3000)
    } finally {
      await s.close()
    }
  })
})

describe('attach --record', () => {
  const castDir = mkdtempSync(path.join(os.tmpdir(), 'mindbg-cast-'))
  const castOf = (file: string): {header: Record<string, unknown>; events: Array<[number, string, string]>} => {
    const [header, ...events] = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l))
    return {header, events}
  }

  it('writes asciicast v2: the header with the terminal size, the output, no input unless asked', async () => {
    for (const input of [false, true]) {
      const file = path.join(castDir, `s-${input}.cast`)
      const {s} = await attachShell([...(input ? ['--record-input'] : []), '--record', file, newTarget()])
      s.send('echo rec-$((40+2))\r')
      await s.expect(outputLine('rec-42'))
      s.send('exit\r')
      expect((await s.waitExit(15_000)).exitCode).toBe(0)
      const {header, events} = castOf(file)
      expect(header).toMatchObject({version: 2, width: COLS, height: ROWS})
      expect(typeof header.timestamp).toBe('number')
      const output = events.filter((e) => e[1] === 'o').map((e) => e[2]).join('')
      expect(output).toContain('rec-42')
      const typed = events.filter((e) => e[1] === 'i').map((e) => e[2]).join('')
      expect(typed).toBe(input ? 'echo rec-$((40+2))\rexit\r' : '')
      // Times only go forward.
      expect(events.map((e) => e[0])).toEqual([...events.map((e) => e[0])].sort((a, b) => a - b))
    }
    rmSync(castDir, {recursive: true, force: true})
  }, 60_000)
})

describe('mindbg run on a terminal', () => {
  it('one live line per target, redrawn in place, ending with each target\'s outcome', async () => {
    const a = newTarget()
    const b = newTarget()
    const s = PtySession.mindbg(['run', 'triage', a, b])
    expect((await s.waitExit(60_000)).exitCode).toBe(0)
    const out = s.output
    // The block of live lines is redrawn: cursor up and erase below, then one line per target.
    expect(out).toMatch(/\x1b\[2A\x1b\[0J/)
    expect(out).toMatch(new RegExp(`${a}\\s+\\[\\d+/10\\] \\S+…`))
    expect(out).toMatch(new RegExp(`${a}\\s+ok in \\d`))
    expect(out).toMatch(new RegExp(`${b}\\s+ok in \\d`))
    expect(out).toContain('# Runbook triage: 2 targets')
  }, 60_000)
})
