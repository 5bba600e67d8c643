import type {Duplex} from 'node:stream'
import {Writable} from 'node:stream'

import {MindbgError} from '../../domain/errors.js'
import type {DebuggerLink} from '../backend.js'
import {DebuggerOutput, type PausableSource} from '../output.js'
import {StdDemuxer} from './demux.js'

/**
 * mindbg's side of `mindbg-init --mux` (src/backends/init.c), the main process of a run's shared debugger: every
 * target's session over the one attach stream of that container, in frames of an 8-byte header (the session as u32
 * little-endian, then kind << 24 | payload length) and a payload. A session is a fork inside the container, not an
 * exec by the engine: an engine's exec costs it ~30-40 ms of work, and twenty at once took ~0.8 s here.
 */
const KIND = {open: 1, in: 2, eof: 3, signal: 4, out: 5, err: 6, exit: 7} as const
/** The most a frame carries (the init's MAX_PAYLOAD). */
const MAX_PAYLOAD = 65536
const SIGTERM = 15

export function frame(session: number, kind: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const out = Buffer.allocUnsafe(8 + payload.length)
  out.writeUInt32LE(session, 0)
  out.writeUInt32LE(((kind << 24) | payload.length) >>> 0, 4)
  payload.copy(out, 8)
  return out
}

/** OPEN's payload: the target's PID, the environment, an empty string, the command; each NUL-ended. */
export function openPayload(pid: number, env: string[], argv: string[]): Buffer {
  return Buffer.from([String(pid), ...env, '', ...argv].map((word) => `${word}\0`).join(''))
}

/** Splits the stream of frames back into (session, kind, payload), whatever the chunks it arrives in. */
export class FrameReader {
  private pending = Buffer.alloc(0)
  constructor(private readonly onFrame: (session: number, kind: number, payload: Buffer) => void) {}

  push(chunk: Buffer): void {
    let data = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk
    while (data.length >= 8) {
      const length = data.readUInt32LE(4) & 0xffffff
      if (data.length < 8 + length) break
      this.onFrame(data.readUInt32LE(0), data.readUInt32LE(4) >>> 24, data.subarray(8, 8 + length))
      data = data.subarray(8 + length)
    }
    // Kept as a copy: the chunk's buffer is not ours to hold on to.
    this.pending = Buffer.from(data)
  }
}

/** One source for every session's output: paused while any session's reader is behind, resumed when none is. */
class SharedSource {
  private behind = 0
  constructor(private readonly socket: Duplex) {}
  forSession(): PausableSource {
    let paused = false
    return {
      pause: () => {
        if (paused) return
        paused = true
        if (this.behind++ === 0) this.socket.pause()
      },
      resume: () => {
        if (!paused) return
        paused = false
        if (--this.behind === 0) this.socket.resume()
      },
    }
  }
}

export class Mux {
  private nextSession = 1
  private readonly sessions = new Map<number, MuxLink>()
  private readonly source: SharedSource
  private lostWith: MindbgError | undefined
  /** What the init itself said on stderr (it cannot start, a frame it could not read): for the error. */
  private said = ''

  constructor(private readonly socket: Duplex) {
    this.source = new SharedSource(socket)
    const reader = new FrameReader((session, kind, payload) => this.sessions.get(session)?.receive(kind, payload))
    const demux = new StdDemuxer((stream, payload) => {
      if (stream === 'stdout') reader.push(payload)
      else this.said = (this.said + payload.toString('utf8')).slice(-2000)
    })
    socket.on('data', (chunk: Buffer) => demux.push(chunk))
    socket.on('error', () => {})
    for (const event of ['end', 'close']) socket.once(event, () => this.lost())
  }

  /** A session running `argv` in the namespaces of the target whose process is `pid` (in the host's PID namespace). */
  open(pid: number, env: string[], argv: string[]): MuxLink {
    if (this.lostWith) throw this.lostWith
    const session = this.nextSession++
    const link = new MuxLink(this, session, new DebuggerOutput(this.source.forSession()), () => this.sessions.delete(session))
    this.sessions.set(session, link)
    this.send(session, KIND.open, openPayload(pid, env, argv))
    return link
  }

  send(session: number, kind: number, payload?: Buffer, done?: () => void): void {
    if (this.socket.destroyed || this.socket.writableEnded) return void done?.()
    this.socket.write(frame(session, kind, payload), done && (() => done()))
  }

  /** Lets go: the init's stdin ends, and it ends every session still running, then itself. */
  close(): void {
    if (!this.socket.destroyed && !this.socket.writableEnded) this.socket.end()
  }

  private lost(): void {
    if (this.lostWith) return
    const said = this.said.trim().split('\n').pop()
    this.lostWith = new MindbgError('sidecarFailed', `the shared debugger ended${said ? `: ${said.replace(/^mindbg: /, '')}` : ''}`, 'Run again; if it happens again, run without --shared-debugger.')
    for (const link of this.sessions.values()) link.lost(this.lostWith)
    this.sessions.clear()
  }
}

/** One session of the mux: a DebuggerLink as an exec's would be, its exit code from the init's EXIT frame. */
export class MuxLink implements DebuggerLink {
  readonly stdout
  readonly stderr
  readonly input: Writable
  readonly exited: Promise<number>
  /** Its exit code has come. */
  ended = false
  private settle: {resolve: (code: number) => void; reject: (error: unknown) => void} | undefined

  constructor(
    private readonly mux: Mux,
    private readonly session: number,
    private readonly output: DebuggerOutput,
    private readonly forget: () => void,
  ) {
    this.stdout = output.stdout
    this.stderr = output.stderr
    this.exited = new Promise<number>((resolve, reject) => (this.settle = {resolve, reject}))
    this.exited.catch(() => {})
    this.input = new Writable({
      write: (chunk: Buffer, _encoding, done) => this.sendInput(chunk, done),
      final: (done) => {
        this.mux.send(this.session, KIND.eof)
        done()
      },
    })
  }

  /** A chunk in frames of at most MAX_PAYLOAD; done once the last one is written (each frame is a copy). */
  private sendInput(chunk: Buffer, done: () => void): void {
    if (this.ended) return done()
    for (let at = 0; at < chunk.length; at += MAX_PAYLOAD) {
      const last = at + MAX_PAYLOAD >= chunk.length
      this.mux.send(this.session, KIND.in, chunk.subarray(at, at + MAX_PAYLOAD), last ? done : undefined)
    }
    if (chunk.length === 0) done()
  }

  receive(kind: number, payload: Buffer): void {
    // Views of the socket's chunks (fresh buffers, never reused) or of the reader's own copy: safe to hand on.
    if (kind === KIND.out) this.output.push('stdout', payload)
    else if (kind === KIND.err) this.output.push('stderr', payload)
    else if (kind === KIND.exit && !this.ended) {
      this.ended = true
      this.forget()
      this.output.end()
      this.settle?.resolve(payload.length >= 4 ? payload.readUInt32LE(0) : 1)
    }
  }

  lost(error: MindbgError): void {
    if (this.ended) return
    this.ended = true
    this.output.end()
    this.settle?.reject(error)
  }

  /** Sends the session a signal (SIGTERM: its mindbg-init ends what it runs, and exits 143). */
  signal(signal = SIGTERM): void {
    if (!this.ended) this.mux.send(this.session, KIND.signal, Buffer.from([signal]))
  }

  async start(): Promise<void> {}

  resize(): void {}

  close(reason: 'stop' | 'detach' | 'exited'): void {
    if (reason === 'stop') this.signal()
  }

  async checkTarget(): Promise<void> {}
}
