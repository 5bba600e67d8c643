/**
 * A debug session leaves the target's process table as it found it (issue 9, item 16): the sidecar shares the
 * target's PID namespace, and a process whose parent ends first goes to the target's PID 1, which (a distroless
 * application) never reaps it. For every way a session ends, the target's namespace is read from the host before and
 * after: the same processes, and not one zombie (state Z, as `ps -o stat` shows it).
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {delay, PtySession} from '../support/pty.js'
import {describeProcesses, pidNamespaceProcesses} from '../support/processes.js'
import {collect, docker, mindbg, removeTargets, requireEngine, sidecarsOf, startMindbg, startTarget, waitFor, waitForSidecar} from './helpers.js'

beforeAll(requireEngine)
afterAll(removeTargets)
const TIMEOUT = 60_000
const PROMPT = /\/ # /

const hostPid = (target: string): number => Number(docker('inspect', '--format', '{{.State.Pid}}', target))
const table = (target: string): string[] => describeProcesses(pidNamespaceProcesses(hostPid(target)))

/** Runs `session` and checks that, once its sidecar is gone, the target's processes are exactly those of before. */
async function leavesNothing(session: (target: string) => Promise<void>): Promise<void> {
  const target = startTarget() // one per test: a failure leaves nothing for the next one to see
  const before = table(target)
  expect(before.filter((p) => / Z /.test(p))).toEqual([])
  await session(target)
  await waitFor('the sidecar to be removed', () => sidecarsOf(target).length === 0, 10_000)
  // A zombie, or a process left running, is there at once: no settling time is needed, but the removal is
  // asynchronous to what the engine reports, so give the kernel a moment.
  await delay(200)
  expect(table(target)).toEqual(before)
}

/** A command that leaves a background process and an orphaned grandchild behind, then runs `rest`. */
const LITTERING = (rest: string): string[] => ['sh', '-c', `sleep 300 & sh -c 'sleep 301 &'; ${rest}`]

describe('no zombie and no process is left in the target (Docker)', () => {
  it('a one-shot command that exits, leaving a background job and an orphan', {timeout: TIMEOUT}, async () => {
    await leavesNothing(async (target) => {
      const r = await mindbg(['attach', target, '-q', '--', ...LITTERING('echo done; exit 3')])
      expect(r.stdout).toBe('done\n')
      expect(r.code).toBe(3)
    })
  })

  it('a command that is not in the debug image (127)', {timeout: TIMEOUT}, async () => {
    await leavesNothing(async (target) => {
      const r = await mindbg(['attach', target, '-q', '--', 'no-such-tool'])
      expect(r.code).toBe(127)
      expect(r.stderr).toMatch(/no-such-tool: command not found in the debug image/)
    })
  })

  it('piped input (-i), the command reading it', {timeout: TIMEOUT}, async () => {
    await leavesNothing(async (target) => {
      const r = await mindbg(['attach', target, '-q', '-i', '--', ...LITTERING('wc -c')], {input: 'twelve bytes'})
      expect(r.stdout.trim()).toBe('12')
      expect(r.code).toBe(0)
    })
  })

  it('stdout closed early (| head)', {timeout: TIMEOUT}, async () => {
    await leavesNothing(async (target) => {
      const child = startMindbg(['attach', target, '-q', '--', ...LITTERING('yes')])
      const done = collect(child)
      await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()))
      child.stdout!.destroy()
      const r = await done
      expect(r.code).toBe(141)
    })
  })

  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const)('mindbg ended by %s (exit %i)', {timeout: TIMEOUT}, async (signal, code) => {
    await leavesNothing(async (target) => {
      const child = startMindbg(['attach', target, '-q', '--', ...LITTERING('sleep 302')])
      const done = collect(child)
      await waitForSidecar(target)
      await delay(300) // the command has started its children
      child.kill(signal)
      expect((await done).code).toBe(code)
    })
  })

  it('mindbg killed with SIGKILL: the reaper stops the sidecar', {timeout: TIMEOUT}, async () => {
    await leavesNothing(async (target) => {
      const child = startMindbg(['attach', target, '-q', '--', ...LITTERING('sleep 302')])
      const done = collect(child)
      await waitForSidecar(target)
      await delay(300)
      child.kill('SIGKILL')
      await done
    })
  })

  it('an interactive shell: a background job, a job stopped by Ctrl-Z, a foreground one ended by Ctrl-C, then exit', {timeout: TIMEOUT}, async () => {
    await leavesNothing(async (target) => {
      const s = PtySession.mindbg(['attach', target])
      try {
        await s.expect(/next to/, 15_000)
        await s.expect(PROMPT)
        s.send("sleep 300 & sh -c 'sleep 301 &'\r")
        await s.expect(PROMPT)
        s.send('sleep 303\r')
        await delay(300)
        s.send('\x1a') // Ctrl-Z: a stopped job
        await s.expect(PROMPT)
        s.send('sleep 304\r')
        await delay(300)
        s.send('\x03') // Ctrl-C
        await s.expect(PROMPT)
        s.send('exit 6\r')
        await s.expect(/You have stopped jobs/) // the shell's warning; a second exit leaves them stopped
        s.send('exit 6\r')
        expect((await s.waitExit()).exitCode).toBe(6)
      } finally {
        await s.close()
      }
    })
  })

  it('an interactive shell whose mindbg is ended by SIGTERM while a command runs', {timeout: TIMEOUT}, async () => {
    await leavesNothing(async (target) => {
      const s = PtySession.mindbg(['attach', target])
      try {
        await s.expect(/next to/, 15_000)
        await s.expect(PROMPT)
        s.send('sleep 300 & sleep 301\r')
        await delay(300)
        process.kill(s.pid, 'SIGTERM')
        expect((await s.waitExit()).exitCode).toBe(143)
      } finally {
        await s.close()
      }
    })
  })

  it('--chroot: a background job in the target\'s filesystem', {timeout: TIMEOUT}, async () => {
    await leavesNothing(async (target) => {
      const r = await mindbg(['attach', target, '-q', '--chroot', '--', 'sh', '-c', 'sleep 300 & ls /app'])
      expect(r.stdout).toMatch(/web/)
      expect(r.code).toBe(0)
    })
  })
})
