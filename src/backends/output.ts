import {Readable} from 'node:stream'

/**
 * V8 frees the buffers a relay passes along only when it collects garbage, and counts them (external memory) towards
 * a collection only once ~64 MB of them have piled up: 200 MB through a session peaked at 130-160 MB of RSS. A
 * young-generation collection (~1 ms; the buffers die young) every RELAY_GC_BYTES relayed keeps it near the idle size.
 */
const RELAY_GC_BYTES = 8 * 1024 * 1024
let sinceCollected = 0
let collect: ((options: {type: 'minor'}) => void) | null | undefined
export function relayed(bytes: number): void {
  sinceCollected += bytes
  if (sinceCollected < RELAY_GC_BYTES) return
  sinceCollected = 0
  if (collect === undefined) {
    try {
      // node:v8 and node:vm only once 8 MB have been relayed: most sessions never load them.
      process.getBuiltinModule('node:v8').setFlagsFromString('--expose-gc')
      collect = process.getBuiltinModule('node:vm').runInNewContext('gc') as typeof collect
    } catch {
      collect = null
    }
  }
  collect?.({type: 'minor'})
}

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
    relayed(data.length)
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
