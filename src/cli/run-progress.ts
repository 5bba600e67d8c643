import {type Reporter, SILENT} from '../domain/reporter.js'
import type {RunEvent, TargetStatus} from '../session/run.js'
import {formatMs} from '../domain/duration.js'

export interface RunProgress {
  reporter: Reporter
  event(event: RunEvent): void
  /** Stops redrawing (the live lines stay as they are last drawn). */
  close(): void
}

const STATUS_WORD: Record<TargetStatus, string> = {ok: 'ok', 'steps-failed': 'done, some steps failed', failed: 'FAILED', stopped: 'stopped'}

/**
 * How a run shows itself: --json, one JSON object per event on stdout; on a terminal, one live line per target on
 * stderr with its current step; otherwise one line per finished step and per finished target; nothing with -q.
 */
export function runProgress(options: {json: boolean; quiet: boolean; stdout: NodeJS.WritableStream; stderr: NodeJS.WriteStream}): RunProgress {
  const {stdout, stderr} = options
  if (options.json) {
    return {
      reporter: options.quiet ? SILENT : plainReporter(stderr),
      event: (e) => void stdout.write(`${JSON.stringify({...e, time: new Date().toISOString()})}\n`),
      close() {},
    }
  }
  if (options.quiet) return {reporter: SILENT, event() {}, close() {}}
  if (!stderr.isTTY) {
    return {
      reporter: plainReporter(stderr),
      event(e) {
        if (e.event === 'step-finished') {
          const how = e.status === 'ok' ? 'ok' : e.status === 'timeout' ? `TIMEOUT (${formatMs(e.timeoutMs)})` : e.status === 'not-run' ? 'not run' : e.status === 'stopped' ? 'stopped' : `FAILED (exit ${e.exitCode ?? '-'})`
          stderr.write(`mindbg: ${e.target}: ${e.name}: ${how}, ${formatMs(e.durationMs)}${e.reason && e.status !== 'ok' ? `: ${e.reason}` : ''}\n`)
        } else if (e.event === 'target-finished') {
          stderr.write(`mindbg: ${e.target}: ${STATUS_WORD[e.status]} in ${formatMs(e.durationMs)}${e.reason ? `: ${e.reason}` : ''}\n`)
        } else if (e.event === 'run-started') {
          stderr.write(`mindbg: running ${e.runbook} (${e.steps.length} steps) on ${e.targets.length} target${e.targets.length === 1 ? '' : 's'}\n`)
        }
      },
      close() {},
    }
  }
  return new LiveLines(stderr)
}

function plainReporter(stream: NodeJS.WritableStream): Reporter {
  const line = (text: string): void => void stream.write(`${text}\n`)
  return {notice: line, begin: line, update() {}, end: line}
}

/** One line per target, redrawn in place (at most ten times a second); notices are printed above them. */
class LiveLines implements RunProgress {
  private readonly keys: string[] = []
  private readonly lines = new Map<string, string>()
  private steps = 0
  private drawn = 0
  private timer: NodeJS.Timeout | undefined
  private closed = false
  readonly reporter: Reporter

  constructor(private readonly stream: NodeJS.WriteStream) {
    const notice = (text: string): void => this.above(text)
    this.reporter = {notice, begin: notice, update() {}, end: notice}
  }

  event(e: RunEvent): void {
    if (e.event === 'run-started') {
      this.steps = e.steps.length
      for (const t of e.targets) {
        this.keys.push(t.key)
        this.lines.set(t.key, 'waiting')
      }
      this.above(`mindbg: running ${e.runbook} (${e.steps.length} steps) on ${e.targets.length} target${e.targets.length === 1 ? '' : 's'}`)
    } else if (e.event === 'step-started') {
      const done = this.count(e.target)
      this.lines.set(e.target, `[${done + 1}/${this.steps}] ${e.step}…`)
      this.done.set(e.target, done)
    } else if (e.event === 'step-finished') {
      this.done.set(e.target, this.count(e.target) + 1)
      if (e.status === 'failed' || e.status === 'timeout') this.failed.set(e.target, [...(this.failed.get(e.target) ?? []), `${e.name} ${e.status === 'timeout' ? 'timed out' : 'failed'}`])
    } else if (e.event === 'target-finished') {
      const failed = this.failed.get(e.target)
      this.lines.set(e.target, `${STATUS_WORD[e.status]} in ${formatMs(e.durationMs)}${failed ? ` (${failed.join(', ')})` : ''}${e.reason ? `: ${e.reason}` : ''}`)
    } else if (e.event === 'run-finished') {
      this.draw()
      this.close()
      return
    }
    this.schedule()
  }

  private readonly done = new Map<string, number>()
  private readonly failed = new Map<string, string[]>()
  private count(key: string): number {
    return this.done.get(key) ?? 0
  }

  close(): void {
    this.closed = true
    clearTimeout(this.timer)
  }

  private schedule(): void {
    if (this.closed || this.timer) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.draw()
    }, 100)
    this.timer.unref()
  }

  private above(text: string): void {
    this.clear()
    this.stream.write(`${text}\n`)
    this.draw()
  }

  private clear(): void {
    if (this.drawn > 0) this.stream.write(`\x1b[${this.drawn}A\x1b[0J`)
    this.drawn = 0
  }

  private draw(): void {
    if (this.closed) return
    this.clear()
    const width = Math.max(20, (this.stream.columns || 80) - 1)
    const pad = Math.min(40, Math.max(0, ...this.keys.map((k) => k.length)))
    for (const key of this.keys) this.stream.write(`${`${key.padEnd(pad)}  ${this.lines.get(key) ?? ''}`.slice(0, width)}\n`)
    this.drawn = this.keys.length
  }
}
