import {Writable} from 'node:stream'

import {type Debugger, type ServeLink, SERVE_ATOMIC_BYTES} from '../backends/backend.js'
import {MindbgError, toMindbgError} from '../domain/errors.js'
import {randomToken} from '../domain/names.js'
import {SILENT} from '../domain/reporter.js'
import type {StreamMode} from '../domain/request.js'
import type {SessionResult, StopRequest} from '../domain/session.js'
import {type SessionIO, type SessionOptions, stopRequest} from './lifecycle.js'
import {HeldSplitter, longestPrefixSuffix, quoteWord, SERVER_PRELUDE, type StepSinks, writeWithBackpressure} from './steps.js'
import {TerminalGuard} from './terminal-guard.js'

/**
 * A debugger left serving (`attach T --detach`) and the commands run in it later (`attach --session S -- CMD`): no
 * new container, no exec, only an attach to its streams and a fork inside, so that a repeated command costs a
 * fraction of a fresh debugger.
 *
 * The debugger runs SERVE_SERVER, a POSIX sh loop on its stdin, which stays open across attaches (StdinOnce off). A
 * caller attaches, writes one request (a random token of its own, the deadline, argv as single-quoted words) in one
 * write of at most SERVE_ATOMIC_BYTES, so that two callers' requests cannot interleave, and reads what every
 * attached caller reads: the server runs one step at a time and frames each with the caller's token, a begin marker
 * on both streams, the step's PIDs on stderr (for a stop: SERVE_CANCEL), an end marker on both (stdout's with the
 * exit code). A caller passes on the bytes between its own markers and drops everyone else's; the token is sent on
 * stdin only, so no step (nor anything else in the target) can forge a marker of another caller.
 *
 * The server's whole life is bounded by mindbg-init's MINDBG_TIMEOUT_MS (--ttl) around it; each step runs under its
 * own mindbg-init (no zombie is left in the target), without a deadline unless one is given.
 */
export const SERVE_SERVER = [
  ...SERVER_PRELUDE,
  'while IFS= read -r t && IFS= read -r ms && IFS= read -r line; do',
  '[ "$t" = end ] && exit 0',
  'eval "set -- $line"',
  `printf '\\n%s<\\n' "$t"`,
  `printf '\\n%s<\\n' "$t" >&2`,
  'if [ -n "$i" ]; then MINDBG_TIMEOUT_MS=$ms "$i" "$@" </dev/null & elif [ -n "$tm" ] && [ "$ms" != 0 ]; then timeout -s KILL $(( (ms + 999) / 1000 )) "$@" </dev/null & else "$@" </dev/null & fi',
  'p=$!',
  `printf '\\n%s@%s:%s\\n' "$t" "$$" "$p" >&2`,
  'wait "$p"; rc=$?',
  `printf '\\n%s:%s\\n' "$t" "$rc"`,
  `printf '\\n%s>\\n' "$t" >&2`,
  'done',
  // Its stdin closed (Podman closes it when the attach that started it ends): commands come by exec; it holds the
  // debugger until its ttl.
  'exec sleep 2147483647',
].join('; ').replace(/do; /g, 'do ')

/** The serving debugger's command: the server comes as the first line on stdin, so that `ps` shows a short line. */
export const SERVE_COMMAND = ['sh', '-c', 'IFS= read -r s && eval "$s"', 'mindbg-serve']

/** The request that ends the server (`attach --session S --end` where the runtime cannot remove the debugger). */
export const SERVE_END_REQUEST = 'end\n0\n\n'

/**
 * Stops one step, through the runtime's exec: SIGTERM to the step's mindbg-init (which kills and reaps what it
 * started) only if that PID is still a child of the server, i.e. still that step and not a later one.
 */
export const SERVE_CANCEL = ['sh', '-c', `s=$1 p=$2; st=$(sed 's/.*) //' /proc/$p/stat 2>/dev/null) || exit 0; set -- $st; [ "$2" = "$s" ] && kill -TERM "$p"; exit 0`, 'mindbg-cancel']

/** One request, or undefined when it is too long to reach the server in one piece (then a caller uses an exec). */
export function serveRequest(token: string, argv: string[], timeoutMs: number): string | undefined {
  const request = `${token}\n${Math.max(0, Math.round(timeoutMs))}\n${argv.map(quoteWord).join(' ')}\n`
  return Buffer.byteLength(request) <= SERVE_ATOMIC_BYTES ? request : undefined
}

/** A step's markers, as ReplySplitter reports them. */
type Marker = {kind: 'begin'} | {kind: 'pids'; server: number; step: number} | {kind: 'end'; code: number | undefined}

/**
 * One stream of a serving debugger, cut at one caller's markers: the bytes between its begin and end markers go to
 * `sink` (with backpressure: the next chunk is taken once the sink has this one), everything else is dropped.
 */
export class ReplySplitter extends HeldSplitter {
  private state: 'before' | 'inside' | 'after' = 'before'
  private readonly marker: Buffer

  constructor(
    token: string,
    private readonly sink: Writable,
    private readonly onMarker: (marker: Marker) => void,
  ) {
    super()
    this.marker = Buffer.from(`\n${token}`)
  }

  protected async consume(data: Buffer): Promise<void> {
    for (;;) {
      if (this.state === 'after') {
        this.held = Buffer.alloc(0)
        return
      }
      const at = data.indexOf(this.marker)
      const newline = at < 0 ? -1 : data.indexOf(0x0a, at + this.marker.length)
      if (newline < 0) {
        // Keep back what could be the start of a marker (or a marker whose line is not complete yet).
        const keep = at >= 0 ? data.length - at : longestPrefixSuffix(data, this.marker)
        await this.pass(data.subarray(0, data.length - keep))
        this.held = Buffer.from(data.subarray(data.length - keep))
        return
      }
      await this.pass(data.subarray(0, at))
      const rest = data.subarray(at + this.marker.length, newline).toString('latin1')
      data = data.subarray(newline + 1)
      if (rest === '<') {
        this.state = 'inside'
        this.onMarker({kind: 'begin'})
      } else if (rest.startsWith('@')) {
        const [server, step] = rest.slice(1).split(':').map(Number)
        this.onMarker({kind: 'pids', server: server ?? 0, step: step ?? 0})
      } else if (rest === '>' || rest.startsWith(':')) {
        this.state = 'after'
        this.onMarker({kind: 'end', code: rest === '>' ? undefined : Number(rest.slice(1))})
      }
    }
  }

  protected async pass(bytes: Buffer): Promise<void> {
    if (bytes.length === 0 || this.state !== 'inside') return
    await writeWithBackpressure(this.sink, bytes)
  }
}

/**
 * One step in a serving debugger over `link`: its output into `sinks`, `done` with its exit code once both end
 * markers are in (all of its output written to the sinks by then), or failed when the debugger's streams end first.
 */
export class ServedStep {
  readonly done: Promise<number>
  /** The server's and the step's PIDs, once the server has started the step. */
  pids: {server: number; step: number} | undefined
  private onPids: () => void = () => {}
  readonly started = new Promise<void>((resolve) => (this.onPids = resolve))

  constructor(link: ServeLink, argv: string[], timeoutMs: number, sinks: StepSinks, token = randomToken()) {
    const request = serveRequest(token, argv, timeoutMs)
    if (request === undefined) throw new Error('ServedStep: the request is too long for one write (use an exec)')
    let code: number | undefined
    let ends = 0
    this.done = new Promise<number>((resolve, reject) => {
      const marker = (m: Marker): void => {
        if (m.kind === 'pids') {
          this.pids = {server: m.server, step: m.step}
          this.onPids()
        } else if (m.kind === 'end') {
          if (m.code !== undefined) code = m.code
          if (++ends === 2) resolve(code ?? 0)
        }
      }
      const gone = (): void => {
        if (ends < 2) reject(new MindbgError('sessionNotFound', 'the debugger ended during the command (its --ttl ran out, it was ended, or its target stopped)', 'Start another: mindbg attach TARGET --detach'))
      }
      link.stdout.pipe(new ReplySplitter(token, sinks.stdout, marker)).once('finish', gone)
      link.stderr.pipe(new ReplySplitter(token, sinks.stderr, marker)).once('finish', gone)
    })
    this.done.catch(() => {})
    link.input.write(request)
  }
}

const QUIET: StreamMode = {stdin: false, tty: false, detachKeys: [], detachKeysSpec: ''}

/**
 * `attach --session S -- CMD` in a serving debugger: one ServedStep on the process's streams. A stop (Ctrl-C,
 * SIGTERM) or a closed stdout ends the step (SERVE_CANCEL), never the debugger; a caller killed outright leaves the
 * step to finish with nobody reading, and the debugger serving.
 */
export async function runServed(dbg: Debugger, argv: string[], io: SessionIO, options: SessionOptions): Promise<SessionResult> {
  const requested = Date.now()
  const result = (exitCode: number, ending: SessionResult['ending'], error?: MindbgError): SessionResult => ({
    exitCode,
    ending,
    runtime: options.runtime,
    target: dbg.target ? {name: dbg.target.name, id: dbg.target.id} : undefined,
    debugger: {name: dbg.name, image: dbg.image},
    timings: {requested, created: requested, started: requested, ended: Date.now()},
    ...(error ? {error} : {}),
  })
  const stop = new AbortController()
  const forward = (): void => stop.abort(options.signal?.reason)
  if (options.signal?.aborted) forward()
  options.signal?.addEventListener('abort', forward, {once: true})
  const onOutputError = (error: NodeJS.ErrnoException): void => {
    if (error.code === 'EPIPE') stop.abort({exitCode: 141, ending: 'output-closed'} satisfies StopRequest)
  }
  io.stdout.on('error', onOutputError)
  let link: ServeLink | undefined
  try {
    link = await dbg.serve!(stop.signal)
    const stdout = screened(io.stdout, io.terminal !== undefined)
    const stderr = screened(io.stderr, io.terminal !== undefined)
    const step = new ServedStep(link, argv, 0, {stdout: stdout.sink, stderr: stderr.sink})
    const flushed = (): Promise<unknown> => Promise.all([stdout.flushed(), stderr.flushed()])
    const stopped = new Promise<StopRequest>((resolve) => {
      const onStop = (): void => resolve(stopRequest(stop.signal.reason))
      if (stop.signal.aborted) onStop()
      else stop.signal.addEventListener('abort', onStop, {once: true})
    })
    const outcome = await Promise.race([step.done, stopped])
    if (typeof outcome === 'number') {
      await flushed()
      return result(outcome, 'exit')
    }
    // A step still waiting for its turn has no PIDs yet: it is stopped as soon as it starts (within a bound).
    await Promise.race([step.started, new Promise((r) => setTimeout(r, 5000).unref())])
    if (step.pids) await runQuietly(dbg.exec!([...SERVE_CANCEL, String(step.pids.server), String(step.pids.step)], QUIET)).catch(() => {})
    return result(outcome.exitCode, outcome.ending)
  } catch (error) {
    const e = toMindbgError(error)
    return result(e.exitCode, 'failed', e)
  } finally {
    link?.close()
    io.stdout.removeListener('error', onOutputError)
    options.signal?.removeEventListener('abort', forward)
  }
}

/** Output bound for a terminal goes through a TerminalGuard, as a session's does (src/session/lifecycle.ts). */
function screened(to: Writable, terminal: boolean): {sink: Writable; flushed: () => Promise<void>} {
  if (!terminal) return {sink: to, flushed: async () => {}}
  const guard = new TerminalGuard()
  guard.pipe(to, {end: false})
  return {
    sink: guard,
    flushed: () =>
      new Promise<void>((resolve) => {
        guard.once('end', resolve)
        guard.end()
      }),
  }
}

/** Runs a debugger (an exec) to its end with no input and its output dropped; its exit code. */
export async function runQuietly(dbg: Debugger): Promise<number> {
  const link = await dbg.attach(new AbortController().signal, SILENT)
  link.stdout.resume()
  link.stderr.resume()
  try {
    if (dbg.fresh) await link.start()
    return await link.exited
  } finally {
    await dbg.end()
  }
}

/**
 * `attach T --detach`: the debugger `open` creates is started with the server and asked one `true` step, so that
 * it is known to serve; only then is it left (its watchdog let go: until here a SIGKILL of mindbg leaves nothing).
 * On any failure or a stop it is ended.
 */
export async function startDetached(open: (signal: AbortSignal) => Promise<Debugger>, options: SessionOptions & {readyTimeoutMs?: number}): Promise<SessionResult> {
  const requested = Date.now()
  const signal = options.signal ?? new AbortController().signal
  let dbg: Debugger | undefined
  let close: (() => unknown) | undefined
  const result = (exitCode: number, ending: SessionResult['ending'], error?: MindbgError): SessionResult => ({
    exitCode,
    ending,
    runtime: options.runtime,
    target: dbg?.target ? {name: dbg.target.name, id: dbg.target.id} : undefined,
    debugger: dbg ? {name: dbg.name, image: dbg.image} : undefined,
    timings: {requested, created: requested, started: requested, ended: Date.now()},
    ...(error ? {error} : {}),
  })
  const aborted = new Promise<never>((_, reject) => {
    const onAbort = (): void => reject(Object.assign(new Error('stopped'), {stop: stopRequest(signal.reason)}))
    if (signal.aborted) onAbort()
    else signal.addEventListener('abort', onAbort, {once: true})
  })
  aborted.catch(() => {})
  try {
    dbg = await Promise.race([open(signal), aborted])
    const link = await Promise.race([dbg.attach(signal, options.reporter), aborted])
    close = () => link.close('detach')
    await Promise.race([link.start(), aborted])
    const input = link.input
    if (!input) throw new Error('startDetached: the debugger has no stdin')
    input.write(`${SERVE_SERVER}\n`)
    const step = new ServedStep({stdout: link.stdout, stderr: link.stderr, input, close: () => {}}, ['true'], 0, {stdout: new Writable({write: (_c, _e, cb) => cb()}), stderr: new Writable({write: (_c, _e, cb) => cb()})})
    const exited = link.exited.then((code) => {
      throw new MindbgError('sidecarFailed', `the debugger exited (${code}) before it could serve`, 'Rerun with --debug; check the image has a POSIX sh.')
    })
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new MindbgError('sidecarFailed', 'the debugger did not answer its first command in time', 'Rerun with --debug.')), options.readyTimeoutMs ?? 30_000).unref(),
    )
    // Whichever of these loses the race below settles later (the link closed, the debugger ended by its ttl).
    exited.catch(() => {})
    timeout.catch(() => {})
    await Promise.race([step.done, exited, aborted, timeout])
    dbg.leave()
    await close()
    return result(0, 'detached')
  } catch (error) {
    await close?.()
    await dbg?.end().catch(() => {})
    const stop = (error as {stop?: StopRequest}).stop
    if (stop) return result(stop.exitCode, stop.ending)
    const e = toMindbgError(error)
    return result(e.exitCode, 'failed', e)
  }
}
