/**
 * A process on a real pseudo-terminal (@lydell/node-pty) with expect-style helpers, for interactive end-to-end
 * tests of mindbg (Docker and Kubernetes sessions alike).
 */
import {execFileSync} from 'node:child_process'
import {readdirSync, readFileSync} from 'node:fs'

import pty, {type IPty} from '@lydell/node-pty'

import {BIN, mindbgCommand, ROOT, testEnv} from '../e2e/helpers.js'

export const COLS = 100
export const ROWS = 30

export interface Exit {
  exitCode: number
  signal: number | undefined
}

export const describeExit = (e: Exit): string => (e.signal ? `signal ${e.signal}` : `exit code ${e.exitCode}`)
const tail = (text: string, n = 1500): string => JSON.stringify(text.length > n ? `…${text.slice(-n)}` : text)

/**
 * A process on a pseudo-terminal with expect-style helpers. Output accumulates; `expect` waits for a regex in the
 * output that follows the previous match (so an old prompt never satisfies a new wait) and fails early, with the
 * output, on timeout or when the process has exited without printing it.
 */
export class PtySession {
  readonly term: IPty
  private out = ''
  private cursor = 0
  private ended: Exit | undefined
  private readonly waiters = new Set<() => void>()
  readonly exited: Promise<Exit>

  constructor(file: string, args: string[], env: NodeJS.ProcessEnv = testEnv()) {
    this.term = pty.spawn(file, args, {name: 'xterm', cols: COLS, rows: ROWS, env, cwd: ROOT})
    this.term.onData((data) => {
      this.out += data
      for (const waiter of [...this.waiters]) waiter()
    })
    this.exited = new Promise((resolve) => {
      // node-pty emits exit only after the terminal is drained, so all output has been seen by then.
      this.term.onExit(({exitCode, signal}) => {
        this.ended = {exitCode, signal: signal || undefined}
        for (const waiter of [...this.waiters]) waiter()
        resolve(this.ended)
      })
    })
  }

  /** mindbg itself, run directly: the pty's process is the mindbg node process. */
  static mindbg(args: string[], env?: NodeJS.ProcessEnv): PtySession {
    const [file, argv] = mindbgCommand(args)
    return new PtySession(file, argv, env)
  }

  get pid(): number {
    return this.term.pid
  }

  get ptsName(): string {
    return (this.term as unknown as {ptsName: string}).ptsName
  }

  get output(): string {
    return this.out
  }

  get hasExited(): boolean {
    return this.ended !== undefined
  }

  send(text: string): void {
    this.term.write(text)
  }

  expect(re: RegExp, timeoutMs = 10_000): Promise<RegExpExecArray> {
    if (re.global || re.sticky) throw new Error('expect() takes a non-global regex')
    return new Promise((resolve, reject) => {
      const finish = (): void => {
        clearTimeout(timer)
        this.waiters.delete(check)
      }
      const check = (): void => {
        const match = re.exec(this.out.slice(this.cursor))
        if (match) {
          finish()
          this.cursor += match.index + match[0].length
          resolve(match)
        } else if (this.ended) {
          finish()
          reject(new Error(`process ended (${describeExit(this.ended)}) before ${re} appeared; output after the last match: ${tail(this.out.slice(this.cursor))}`))
        }
      }
      const timer = setTimeout(() => {
        finish()
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${re}; output after the last match: ${tail(this.out.slice(this.cursor))}`))
      }, timeoutMs)
      this.waiters.add(check)
      check()
    })
  }

  async waitExit(timeoutMs = 10_000): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`process still running after ${timeoutMs} ms; output: ${tail(this.out)}`)), timeoutMs)
    })
    try {
      return await Promise.race([this.exited, timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  /**
   * Ends the process if it still runs: SIGHUP (mindbg then removes its sidecar), SIGKILL if that is not enough.
   * Only the pty's own process and the mindbg processes directly under it are signalled, never their descendants
   * (mindbg's watchdog is one, and must survive mindbg to do its job).
   */
  async close(): Promise<void> {
    if (this.ended) return
    for (const pid of mindbgChildren(this.pid)) signal(pid, 'SIGHUP')
    this.term.kill('SIGHUP')
    if (await Promise.race([this.exited.then(() => true), delay(3000).then(() => false)])) return
    for (const pid of mindbgChildren(this.pid)) signal(pid, 'SIGKILL')
    this.term.kill('SIGKILL')
    if (await Promise.race([this.exited.then(() => true), delay(2000).then(() => false)])) return
    ;(this.term as unknown as {destroy?: () => void}).destroy?.()
  }
}

export const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig)
  } catch {
    // already gone
  }
}

/** PIDs whose parent is `ppid`, from /proc. */
export function childrenOf(ppid: number): number[] {
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      // pid (comm) state ppid ...: comm may contain spaces and parentheses, so parse after the last ')'.
      const ppidField = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]
      if (Number(ppidField) === ppid) pids.push(Number(entry))
    } catch {
      // exited meanwhile
    }
  }
  return pids
}

/** The mindbg processes (node running bin/run.js) directly under `ppid`. */
export function mindbgChildren(ppid: number): number[] {
  return childrenOf(ppid).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(BIN)
    } catch {
      return false
    }
  })
}

/** Current settings of a terminal, read from outside (`stty -a` or `stty -g`). */
