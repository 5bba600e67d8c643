import {Readable} from 'node:stream'

/**
 * V8 frees the buffers a relay passes along only when it collects garbage, and collects the young generation on their
 * account only once twice its largest semi-space of them has piled up (Heap::AllocateExternalBackingStore: tens of
 * MB), the old generation later still (measured: 40-67 MB of ArrayBuffers alive at the peak): 200 MB
 * through a session peaked at 130-160 MB of RSS. A young-generation collection (~0.4 ms; the buffers die young) every
 * RELAY_GC_BYTES keeps the live buffers at a few MB. 2 MB rather than more: every 8 MB, what a collection found alive
 * (the chunks in flight, their streams' state) piled up in the old generation until V8 ran ~6 full collections per
 * 200 MB (~100-200 ms of CPU) and the peak was 6-8 MB higher; every 2 MB it ran none (measured: --trace-gc). Every relay calls relayed() for the buffers it makes or is handed
 * (socket reads, stdin reads, the copies it frames), not for views of them: the demux and DebuggerOutput pass views.
 *
 * Why not reused buffers (net's `onread`): a relay's chunks leave it through a Readable into the session's Writables
 * (a terminal guard, a bundle's files, a step's tar extraction), and a Writable's callback says only that it is done
 * with a chunk, not that nothing holds a view of it (a Transform may push subarrays of its input); reusing one would
 * rewrite output that has not been written yet. Reuse needs a sink that is known to copy, which none of these is.
 */
const RELAY_GC_BYTES = 2 * 1024 * 1024
let sinceCollected = 0
let collect: ((options: {type: 'minor'}) => void) | null | undefined
export function relayed(bytes: number): void {
  sinceCollected += bytes
  if (sinceCollected < RELAY_GC_BYTES) return
  sinceCollected = 0
  if (collect === undefined) {
    try {
      // node:v8 and node:vm only once RELAY_GC_BYTES have been relayed: most sessions never load them.
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
