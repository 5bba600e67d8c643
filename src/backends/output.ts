import {Readable} from 'node:stream'

/** Whatever a backend reads a debugger's output from: it must stop delivering data while paused. */
export interface PausableSource {
  pause(): void
  resume(): void
}

/**
 * A debugger's stdout and stderr as two Readables fed from one source (an attach socket, a WebSocket), with
 * backpressure: when either consumer falls behind, the source is paused until both have room again. Nothing is
 * dropped however slow the reader is; the session decides when output is complete (both streams ended).
 */
export class DebuggerOutput {
  readonly stdout: Readable
  readonly stderr: Readable
  private readonly full = {stdout: false, stderr: false}
  private paused = false
  private ended = false

  constructor(private readonly source: PausableSource) {
    this.stdout = new Readable({read: () => this.ready('stdout')})
    this.stderr = new Readable({read: () => this.ready('stderr')})
  }

  push(stream: 'stdout' | 'stderr', data: Buffer): void {
    if (this.ended || data.length === 0) return
    if (!this[stream].push(data)) {
      this.full[stream] = true
      if (!this.paused) {
        this.paused = true
        this.source.pause()
      }
    }
  }

  /** The source is done: both streams end once what they hold has been read. */
  end(): void {
    if (this.ended) return
    this.ended = true
    this.stdout.push(null)
    this.stderr.push(null)
  }

  private ready(stream: 'stdout' | 'stderr'): void {
    this.full[stream] = false
    if (this.paused && !this.full.stdout && !this.full.stderr) {
      this.paused = false
      this.source.resume()
    }
  }
}
