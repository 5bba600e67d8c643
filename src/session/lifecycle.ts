import {once} from 'node:events'
import {pipeline, type Readable, type Writable} from 'node:stream'

import type {Debugger, DebuggerLink} from '../backends/backend.js'
import {relayed} from '../backends/output.js'
import {ExitCode, MindbgError, StoppedBeforeStart, toMindbgError} from '../domain/errors.js'
import type {Reporter} from '../domain/reporter.js'
import type {StreamMode} from '../domain/request.js'
import type {SessionEnding, SessionResult, StopRequest} from '../domain/session.js'
import type {Runtime} from '../domain/target.js'
import {endWithin} from '../domain/within.js'
import {DetachKeyMatcher} from './detach-keys.js'
import {TerminalGuard} from './terminal-guard.js'

export interface TerminalSize {
  rows: number
  columns: number
}

/** The terminal a session runs in, if any: the CLI hands in the process's, a runbook none. */
export interface SessionTerminal {
  size(): TerminalSize | undefined
  /** Calls `listener` on every resize; returns the unsubscribe. */
  onResize(listener: (size: TerminalSize) => void): () => void
  /** Raw mode while the session reads the terminal; returns the (idempotent) restore. */
  enterRaw(): () => void
}

/** A session's own streams: the process's, a file's, a buffer's. Nothing here is process-global. */
export interface SessionIO {
  stdin?: Readable | undefined
  stdout: Writable
  stderr: Writable
  terminal?: SessionTerminal | undefined
  /** Told what the session shows, what is typed and the resizes (attach --record). */
  record?: ((kind: 'o' | 'i' | 'r', data: Buffer | string) => void) | undefined
  /**
   * Copies stdin into `sink` (then ends it) through buffers used again once `sink`'s write callback has run, each
   * chunk shown to `on.chunk` first, a read error to `on.error` (the input ends there); returns the stop, or undefined
   * where this stdin is read as `stdin` instead. Given `sinkSocketFd` (DebuggerLink.inputSocketFd) and no `on.chunk`,
   * it may write into that socket from another process instead, and end it there.
   */
  copyStdin?: ((sink: Writable, on: StdinCopyEvents, sinkSocketFd?: number) => (() => void) | undefined) | undefined
}

/** What a copy of stdin tells its session: each chunk before it is written (a recording), and a read error. */
export interface StdinCopyEvents {
  /** Absent when nothing needs to see the input: a copy may then bypass this process altogether. */
  chunk?: ((data: Buffer) => void) | undefined
  error(error: Error): void
}

export interface SessionOptions {
  runtime: Runtime
  reporter: Reporter
  /** Aborted by the caller (a signal, a runbook's deadline) with a StopRequest as its reason. */
  signal?: AbortSignal | undefined
}

type Outcome = {kind: 'exit'; code: number} | {kind: 'stop'; request: StopRequest} | {kind: 'detach'}

const OUTPUT_CLOSED: StopRequest = {exitCode: 141, ending: 'output-closed'}

/**
 * One session, the same for every backend and safe to run many times at once in one process: opens the debugger
 * (`open` creates it or finds it), attaches, starts it, relays input (detach keys on a terminal), output (with
 * backpressure: not a byte is lost however slow the reader) and resizes, and ends it on every path: its exit, a
 * stop from the caller, a closed stdout, a detach, an error. The result says how it ended; failures are results
 * too (`error`), so that a runbook can record them and go on.
 */
export async function runSession(open: (signal: AbortSignal) => Promise<Debugger>, io: SessionIO, options: SessionOptions): Promise<SessionResult> {
  const requested = Date.now()
  let created: number | undefined
  let started: number | undefined
  let debuggerNow: Debugger | undefined
  let link: DebuggerLink | undefined

  const stop = new AbortController()
  const forwardStop = (): void => stop.abort(options.signal?.reason)
  if (options.signal?.aborted) forwardStop()
  options.signal?.addEventListener('abort', forwardStop, {once: true})
  const stopped = new Promise<Outcome>((resolve) => {
    const onStop = (): void => resolve({kind: 'stop', request: stopRequest(stop.signal.reason)})
    if (stop.signal.aborted) onStop()
    else stop.signal.addEventListener('abort', onStop, {once: true})
  })
  // `mindbg attach T -- cat big | head`: the reader went away; the debugger is ended, then mindbg exits 141.
  const onOutputError = (error: NodeJS.ErrnoException): void => {
    if (error.code === 'EPIPE') stop.abort(OUTPUT_CLOSED)
  }
  io.stdout.on('error', onOutputError)
  const undo: Array<() => void> = []
  const restore = (): void => {
    for (const step of undo.splice(0).reverse()) step()
  }

  const result = (exitCode: number, ending: SessionEnding, error?: MindbgError): SessionResult => {
    const d = debuggerNow
    const r: SessionResult = {
      exitCode,
      ending,
      runtime: options.runtime,
      target: d?.target ? {name: d.target.name, id: d.target.id} : undefined,
      debugger: d ? {name: d.name, image: d.image} : undefined,
      timings: {requested, created, started, ended: Date.now()},
    }
    if (error) r.error = error
    return r
  }

  try {
    // Stopped before anything was created: nothing to create, nothing to end.
    if (stop.signal.aborted) return result(stopRequest(stop.signal.reason).exitCode, stopRequest(stop.signal.reason).ending)
    const dbg = await open(stop.signal)
    debuggerNow = dbg
    created = Date.now()
    if (stop.signal.aborted) return await finish({kind: 'stop', request: stopRequest(stop.signal.reason)})
    const attaching = dbg.attach(stop.signal, options.reporter)
    const attached = await Promise.race([attaching, stopped])
    if (!('stdout' in attached)) {
      // Stopped while waiting for the debugger to become attachable: whatever the attach brings is closed.
      attaching.then((l) => l.close('stop'), () => {})
      return await finish(attached)
    }
    link = attached
    const mode = dbg.streams
    if (dbg.notice) options.reporter.notice(dbg.notice)

    // Output bound for a terminal is guarded: a compromised target may write into it (TerminalGuard says how).
    const toScreen = (from: Readable): Readable => (io.terminal ? pipeline(from, new TerminalGuard(), () => {}) : from)
    const recorded = (from: Readable): Readable => {
      if (io.record) from.on('data', (chunk: Buffer) => io.record!('o', chunk))
      return from
    }
    const outputDone = Promise.all([relay(recorded(toScreen(attached.stdout)), io.stdout), relay(recorded(toScreen(attached.stderr)), io.stderr)])
    outputDone.catch(() => {})
    if (mode.tty && mode.stdin && io.terminal) undo.push(io.terminal.enterRaw())
    if (mode.tty && io.terminal) {
      undo.push(
        io.terminal.onResize((size) => {
          attached.resize(size)
          io.record?.('r', `${size.columns}x${size.rows}`)
        }),
      )
    }
    let detach: () => void = () => {}
    const detached = new Promise<Outcome>((resolve) => {
      detach = () => resolve({kind: 'detach'})
    })
    if (mode.stdin && attached.input) {
      const input = attached.input
      input.on('error', () => {}) // the debugger went away: its end is the session's business, not an input error
      // A terminal's input goes through the detach keys; other input is copied, or streamed where it cannot be.
      const copy = mode.tty
        ? undefined
        : io.copyStdin?.(
            input,
            {
              chunk: io.record ? (data) => io.record?.('i', data) : undefined,
              error: (error) => options.reporter.notice(`mindbg: reading stdin failed (${error.message}): the command's input ends there`),
            },
            attached.inputSocketFd,
          )
      if (copy) undo.push(copy)
      else if (io.stdin) undo.push(forwardInput(io.stdin, input, mode, () => detach(), io.record))
    }
    const exited = attached.exited.then((code): Outcome => ({kind: 'exit', code}))
    exited.catch(() => {})

    if (dbg.fresh) {
      const early = await Promise.race([attached.start().then(() => undefined), stopped, detached])
      if (early) return await finish(early)
    }
    started = Date.now()
    const size = mode.tty ? io.terminal?.size() : undefined
    if (size) attached.resize(size)
    const outcome = await Promise.race([stopped, detached, exited])
    if (outcome.kind === 'exit') {
      // All of the output first, however long a slow reader takes; a stop meanwhile still wins.
      const drained = await Promise.race([outputDone.then((): undefined => undefined), stopped])
      if (drained) return await finish(drained)
    }
    return await finish(outcome)
  } catch (error) {
    await link?.close('stop')
    restore()
    await debuggerNow?.end().catch(() => {})
    const e = toMindbgError(error)
    return result(e.exitCode, e.exitCode === ExitCode.targetStopped ? 'target-gone' : 'failed', e)
  } finally {
    restore()
    io.stdout.removeListener('error', onOutputError)
    options.signal?.removeEventListener('abort', forwardStop)
  }

  async function finish(outcome: Outcome): Promise<SessionResult> {
    const dbg = debuggerNow!
    if (outcome.kind === 'exit') {
      restore()
      await link!.checkTarget(outcome.code)
      await dbg.end()
      // A command that exits before reading all of its input (head -1 <big.log): Docker stops reading the attach
      // stream's input, and keeps it open with the rest unread, which kept mindbg from exiting.
      await link!.close('exited')
      return result(outcome.code, 'exit')
    }
    restore()
    if (outcome.kind === 'detach') {
      await link?.close('detach')
      io.stderr.write(`\n${dbg.leave()}\n`)
      return result(0, 'detached')
    }
    const answering = options.runtime === 'kubernetes' ? 'the API server' : 'the engine'
    const ending = async (): Promise<void> => {
      await link?.close('stop')
      await dbg.end()
    }
    await endWithin(END_AFTER_STOP_MS, ending, () =>
      options.reporter.notice(`mindbg: ${answering} did not confirm the end of ${dbg.name} within ${END_AFTER_STOP_MS / 1000} s; its watchdog ends it once ${answering} answers again`),
    )
    return result(outcome.request.exitCode, outcome.request.ending)
  }
}

/**
 * How long a stopped session waits for its debugger's end. A stop is someone waiting (Ctrl-C, a runbook's
 * deadline); an engine or API server that froze mid-session would hold it for ever. Past this the process goes, and
 * the debugger's watchdog, still armed (end() releases it only once the end is confirmed), ends it when the engine
 * answers again.
 */
export const END_AFTER_STOP_MS = 10_000

/**
 * `work`, unless `signal` aborts first: then a StoppedBeforeStart with the stop's exit code. For the look-ups before
 * anything is made (connect, resolve, plan): one at an engine or API server that hangs must not hold a Ctrl-C (the
 * request itself goes with the process).
 */
export function unlessStopped<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work
  const stopped = (): StoppedBeforeStart => new StoppedBeforeStart(stopRequest(signal.reason).exitCode)
  if (signal.aborted) return Promise.reject(stopped())
  let onAbort: () => void = () => {}
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(stopped())
    signal.addEventListener('abort', onAbort, {once: true})
  })
  return Promise.race([work, aborted]).finally(() => signal.removeEventListener('abort', onAbort))
}

/** The caller's StopRequest, or a plain stop (130) for any other abort reason. */
export function stopRequest(reason: unknown): StopRequest {
  const r = reason as Partial<StopRequest> | undefined
  return typeof r?.exitCode === 'number' && (r.ending === 'stopped' || r.ending === 'output-closed') ? (r as StopRequest) : {exitCode: 130, ending: 'stopped'}
}

/** Copies one output stream into the session's, with backpressure; resolves once all of it has been written out. */
async function relay(from: Readable, to: Writable): Promise<void> {
  from.pipe(to, {end: false})
  if (!from.readableEnded) {
    await new Promise<void>((resolve) => {
      from.once('end', resolve)
      from.once('close', resolve)
      from.once('error', () => resolve())
    })
  }
  from.unpipe(to)
  if (to.writableNeedDrain && !to.destroyed) await once(to, 'drain')
}

/** Forwards the session's input with backpressure; on a terminal, the detach keys leave the debugger running. */
function forwardInput(stdin: Readable, input: Writable, mode: StreamMode, onDetach: () => void, record?: SessionIO['record']): () => void {
  const matcher = mode.tty ? new DetachKeyMatcher(mode.detachKeys) : undefined
  let done = false
  let waiting = false
  const onData = (chunk: Buffer): void => {
    if (done) return
    let data = chunk
    let detach = false
    if (matcher) ({forward: data, detach} = matcher.push(chunk))
    if (data.length > 0) record?.('i', data)
    relayed(data.length)
    if (data.length > 0 && !input.write(data) && !waiting) {
      waiting = true
      stdin.pause()
      input.once('drain', () => {
        waiting = false
        if (!done) stdin.resume()
      })
    }
    if (detach) {
      done = true
      onDetach()
    }
  }
  const onEnd = (): void => {
    if (!done) input.end()
  }
  stdin.on('data', onData)
  stdin.once('end', onEnd)
  stdin.resume()
  return () => {
    done = true
    stdin.removeListener('data', onData)
    stdin.removeListener('end', onEnd)
    stdin.pause()
  }
}
