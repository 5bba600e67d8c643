import {PassThrough, Writable} from 'node:stream'

import {randomToken} from '../domain/names.js'
import type {SessionIO} from './lifecycle.js'

/**
 * Many commands in one debugger, one after the other, each with its own stdout, stderr, exit code and deadline: what
 * a runbook (and `cp`) runs on a target. The debugger runs STEP_SERVER, a POSIX sh loop that reads one step
 * at a time from its stdin and, when the step has ended, writes a marker on stdout (with the exit code) and one on
 * stderr. The markers carry a random token that is sent on stdin (never in a command line another process could
 * read), so no output of a step can pass for one. It rides on an ordinary session (runSession), so every backend
 * serves it as it serves `attach ... -- COMMAND` with piped input, with the same zero-residue guarantees.
 *
 * A step's deadline is kept inside the debugger: by mindbg-init (MINDBG_TIMEOUT_MS; the server finds the init it runs
 * under at /proc/$PPID/exe, which works even where the file was removed), else by timeout(1), else not at all (then
 * mindbg gives up on the debugger once the deadline and a grace period have passed). Each step also runs under its
 * own mindbg-init where there is one, so that what it leaves behind is killed and reaped when it ends.
 */
/**
 * The start of every step server: $nl (a newline, for the words of multi-line commands: quoteWord), $i (the
 * mindbg-init the server runs under, to run each step under one of its own) or else $tm (timeout(1) works).
 */
export const SERVER_PRELUDE = [
  "nl=$(printf '\\n_'); nl=${nl%_}; i= tm=",
  'MINDBG_TIMEOUT_MS=60000 "/proc/$PPID/exe" sh -c "exit 7" </dev/null >/dev/null 2>&1; [ $? = 7 ] && i=/proc/$PPID/exe',
  '[ -z "$i" ] && timeout 5 true </dev/null >/dev/null 2>&1 && tm=1',
]

const STEP_SERVER = [
  ...SERVER_PRELUDE,
  'while IFS= read -r ms && IFS= read -r line; do',
  'eval "set -- $line"',
  'if [ -n "$i" ]; then MINDBG_TIMEOUT_MS=$ms "$i" "$@"; elif [ -n "$tm" ]; then timeout -s KILL $(( (ms + 999) / 1000 )) "$@"; else "$@"; fi </dev/null',
  'rc=$?',
  `printf '\\n%s:%s\\n' "$t" "$rc"`,
  `printf '\\n%s\\n' "$t" >&2`,
  'done',
].join('; ').replace(/do; /g, 'do ')

/**
 * The debugger's command: it reads the token, then the server itself as one line, from stdin (so that `ps` in the
 * target shows a short command line, not the script), and runs it.
 */
export const STEP_COMMAND = ['sh', '-c', 'IFS= read -r t && IFS= read -r s && eval "$s"', 'mindbg-steps']

/** One word for the server's `eval "set -- LINE"`: single-quoted, its newlines spelled "$nl" so the line stays one line. */
export function quoteWord(word: string): string {
  return `'${word.replace(/'/g, `'\\''`).replace(/\n/g, `'"$nl"'`)}'`
}

export interface StepSinks {
  stdout: Writable
  stderr: Writable
}

/** A step's end as the server reports it; the deadline is the caller's business (it knows when it sent the step). */
export interface StepEnd {
  exitCode: number
}

/**
 * mindbg's side of STEP_SERVER: a session's streams (`io`, handed to runSession) and `run`, which sends one step and
 * routes its output into the given sinks until its markers come back. Steps run one at a time, in the order given.
 */
export class StepChannel {
  readonly io: SessionIO
  private readonly input = new PassThrough()
  private readonly stdout: MarkerSplitter
  private readonly stderr: MarkerSplitter
  private current: {sinks: StepSinks; code?: number; stderrDone?: boolean; done: (end: StepEnd) => void} | undefined
  /** What the server wrote outside any step (a shell's complaint before it could start): kept for the error. */
  readonly stray: {stdout: string; stderr: string} = {stdout: '', stderr: ''}

  constructor(token = randomToken()) {
    this.stdout = new MarkerSplitter(Buffer.from(`\n${token}:`), true, {
      sink: () => this.current?.sinks.stdout,
      stray: (text) => (this.stray.stdout = (this.stray.stdout + text).slice(-4096)),
      marker: (code) => this.settle('stdout', code),
    })
    this.stderr = new MarkerSplitter(Buffer.from(`\n${token}\n`), false, {
      sink: () => this.current?.sinks.stderr,
      stray: (text) => (this.stray.stderr = (this.stray.stderr + text).slice(-4096)),
      marker: () => this.settle('stderr'),
    })
    this.io = {stdin: this.input, stdout: this.stdout, stderr: this.stderr}
    this.input.write(`${token}\n${STEP_SERVER}\n`)
  }

  /** Sends one step: argv verbatim (no shell unless argv says so), killed after `timeoutMs` inside the debugger. */
  run(argv: string[], timeoutMs: number, sinks: StepSinks): Promise<StepEnd> {
    if (this.current) throw new Error('StepChannel.run: a step is still running')
    return new Promise<StepEnd>((done) => {
      this.current = {sinks, done}
      this.input.write(`${Math.max(1, Math.round(timeoutMs))}\n${argv.map(quoteWord).join(' ')}\n`)
    })
  }

  /** No more steps: the server's stdin ends, and so does the server (exit 0). */
  end(): void {
    this.input.end()
  }

  private settle(stream: 'stdout' | 'stderr', code?: number): void {
    const step = this.current
    if (!step) return
    if (stream === 'stdout') step.code = code ?? 0
    else step.stderrDone = true
    if (step.code !== undefined && step.stderrDone) {
      this.current = undefined
      step.done({exitCode: step.code})
    }
  }
}

/**
 * A Writable cut at markers that may arrive split across chunks: what could be the start of one is held back and
 * put in front of the next chunk (or, at the end, passed on as output). Each chunk is taken once consume() is done
 * with the one before: the backpressure of whatever pass() writes to.
 */
export abstract class HeldSplitter extends Writable {
  protected held = Buffer.alloc(0)

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.consume(Buffer.concat([this.held, chunk])).then(() => callback(), callback)
  }

  override _final(callback: (error?: Error | null) => void): void {
    // The stream ended mid-step (the debugger went away): what was held back as a possible marker is output.
    this.pass(this.held).then(() => callback(), callback)
    this.held = Buffer.alloc(0)
  }

  protected abstract consume(data: Buffer): Promise<void>
  protected abstract pass(bytes: Buffer): Promise<void>
}

/** Writes a copy of `bytes` (the caller's buffer may be reused), resolving once `sink` takes more, or is gone. */
export async function writeWithBackpressure(sink: Writable, bytes: Buffer): Promise<void> {
  if (sink.write(Buffer.from(bytes)) || sink.destroyed) return
  await new Promise<void>((resolve) => {
    const go = (): void => {
      sink.off('drain', go)
      sink.off('close', go)
      sink.off('error', go)
      resolve()
    }
    sink.on('drain', go)
    sink.on('close', go)
    sink.on('error', go)
  })
}

interface SplitterHooks {
  sink(): Writable | undefined
  stray(text: string): void
  marker(code?: number): void
}

/**
 * A Writable that passes bytes through to the current step's sink until the marker, with backpressure (it takes the
 * next chunk only once the sink has taken this one). The marker is "\n" + token, on stdout followed by ":CODE\n":
 * the newline before the token is the server's, so the step's output is exactly what precedes it.
 */
class MarkerSplitter extends HeldSplitter {

  constructor(
    private readonly marker: Buffer,
    private readonly withCode: boolean,
    private readonly hooks: SplitterHooks,
  ) {
    super()
  }

  protected async consume(data: Buffer): Promise<void> {
    for (;;) {
      const at = data.indexOf(this.marker)
      if (at < 0) {
        // Keep back what could be the start of a marker split across chunks.
        const keep = longestPrefixSuffix(data, this.marker)
        await this.pass(data.subarray(0, data.length - keep))
        this.held = Buffer.from(data.subarray(data.length - keep))
        return
      }
      let end = at + this.marker.length
      let code: number | undefined
      if (this.withCode) {
        const newline = data.indexOf(0x0a, end)
        if (newline < 0) {
          await this.pass(data.subarray(0, at))
          this.held = Buffer.from(data.subarray(at))
          return
        }
        code = Number(data.subarray(end, newline).toString('latin1'))
        end = newline + 1
      }
      await this.pass(data.subarray(0, at))
      this.hooks.marker(code)
      data = data.subarray(end)
    }
  }

  protected async pass(bytes: Buffer): Promise<void> {
    if (bytes.length === 0) return
    const sink = this.hooks.sink()
    if (!sink) return this.hooks.stray(bytes.toString('utf8'))
    await writeWithBackpressure(sink, bytes)
  }
}

/** How many bytes at the end of `data` are the first bytes of `marker` (a marker cut by a chunk boundary). */
export function longestPrefixSuffix(data: Buffer, marker: Buffer): number {
  for (let n = Math.min(marker.length - 1, data.length); n > 0; n--) {
    if (data.subarray(data.length - n).equals(marker.subarray(0, n))) return n
  }
  return 0
}
