/**
 * pods/{name}/exec and pods/{name}/attach over WebSocket, as the API server (v5 stream translator) and the kubelet
 * (v4 and older) serve them; the Docker side is a hijacked attach or exec connection.
 *
 * Subprotocols, in the order of preference of the client's offer: v5.channel.k8s.io, v4.channel.k8s.io,
 * v4.base64.channel.k8s.io, channel.k8s.io, base64.channel.k8s.io (the server can be limited to a subset to force a
 * client onto an older protocol). No offer at all = channel.k8s.io.
 * Frames: first byte = channel (0 stdin, 1 stdout, 2 stderr, 3 error/status, 4 resize {"Width","Height"}); base64
 * protocols use text frames "<digit><base64>". The server first sends an empty frame on the lowest channel it writes
 * (stdout, else stderr, else error) - clients treat it as "connected". v5 adds the client close frame [255, ch]:
 * [255, 0] half-closes the container's stdin (Docker: end() on the hijacked socket).
 * exec ends with the status on channel 3: v4/v5 a JSON metav1.Status (Success, or Failure NonZeroExitCode with the
 * ExitCode cause), older protocols plain text on failure only; attach never sends one on success.
 * SPDY (kubectl's fallback after a failed WebSocket upgrade) is not implemented: such requests get the same
 * validation errors, or a 400 saying so.
 */
import type {IncomingMessage} from 'node:http'
import type {Duplex} from 'node:stream'
import type Docker from 'dockerode'
import {type WebSocket, WebSocketServer} from 'ws'
import {resolveContainerName} from './container-lookup.ts'
import {Demuxer} from './demux.ts'
import {boolParam} from './http-util.ts'
import {badRequest} from './status.ts'
import type {Obj} from './store.ts'

export const ALL_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io', 'v4.base64.channel.k8s.io', 'channel.k8s.io', 'base64.channel.k8s.io']

const STDIN = 0
const STDOUT = 1
const STDERR = 2
const ERROR = 3
const RESIZE = 4
const CLOSE = 255

export interface StreamOptions {
  kind: 'exec' | 'attach'
  stdin: boolean
  stdout: boolean
  stderr: boolean
  tty: boolean
  command: string[]
  container: string
}

export const STREAM_CLOSE_PROTOCOL = 'v5.channel.k8s.io'

/** Validates the request before any upgrade: every error here is an HTTP Status answer. */
export function streamOptions(kind: 'exec' | 'attach', pod: Obj, params: URLSearchParams): StreamOptions {
  const container = resolveContainerName(pod, params.get('container'))
  const o: StreamOptions = {
    kind, container, stdin: boolParam(params.get('stdin')), stdout: boolParam(params.get('stdout')),
    stderr: boolParam(params.get('stderr')), tty: boolParam(params.get('tty')), command: params.getAll('command'),
  }
  if (!o.stdin && !o.stdout && !o.stderr) throw badRequest('you must specify at least 1 of stdin, stdout, stderr')
  if (o.tty && o.stderr) o.stderr = false // the kubelet merges stderr into the TTY
  if (kind === 'exec' && o.command.length === 0) throw badRequest('you must specify at least one command for the container')
  return o
}

/** Picks the first protocol the client offers that the server accepts ('' = none offered). */
export function negotiate(req: IncomingMessage, accepted: string[]): string | undefined {
  const offered = String(req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim()).filter(Boolean)
  if (offered.length === 0) return ''
  return offered.find((p) => accepted.includes(p))
}

export class StreamServer {
  /** The protocol was negotiated before the upgrade and travels on the request object. */
  private readonly wss = new WebSocketServer({noServer: true, perMessageDeflate: false,
    handleProtocols: (_set, req) => (req as IncomingMessage & {kubeSimProtocol?: string}).kubeSimProtocol || false})
  private readonly sockets = new Set<WebSocket>()
  private readonly docker: Docker

  constructor(docker: Docker) {
    this.docker = docker
  }

  /** Upgrades and runs the session; `protocol` was negotiated by the caller (validation happens before). */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, protocol: string, dockerId: string, o: StreamOptions): void {
    ;(req as IncomingMessage & {kubeSimProtocol?: string}).kubeSimProtocol = protocol
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.sockets.add(ws)
      ws.on('close', () => this.sockets.delete(ws))
      void new Session(this.docker, ws, protocol, dockerId, o).run()
    })
  }

  /** The stream translator's answer when the kubelet refuses: the Status on the error channel, then close. */
  upgradeAndFail(req: IncomingMessage, socket: Duplex, head: Buffer, protocol: string, message: string): void {
    ;(req as IncomingMessage & {kubeSimProtocol?: string}).kubeSimProtocol = protocol
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const status = {metadata: {}, status: 'Failure', message: `Internal error occurred: ${message}`, reason: 'InternalError',
        details: {causes: [{message}]}, code: 500}
      ws.send(Buffer.concat([Buffer.from([ERROR]), Buffer.from(JSON.stringify(status))]), () => ws.close(1000))
    })
  }

  closeAll(): void {
    for (const ws of this.sockets) ws.terminate()
    this.wss.close()
  }
}

class Session {
  private readonly docker: Docker
  private readonly ws: WebSocket
  private readonly base64: boolean
  private readonly v5: boolean
  private readonly structuredStatus: boolean
  private readonly dockerId: string
  private readonly o: StreamOptions
  private hijacked?: Duplex
  private exec?: Docker.Exec
  private pendingResize?: {w: number; h: number}
  private started = false
  /** Client frames that arrive before the Docker stream is hijacked (kubectl sends stdin right after connecting). */
  private early: Array<[Buffer | string, boolean]> | undefined = []

  constructor(docker: Docker, ws: WebSocket, protocol: string, dockerId: string, o: StreamOptions) {
    this.docker = docker
    this.ws = ws
    this.base64 = protocol.includes('base64')
    this.v5 = protocol === STREAM_CLOSE_PROTOCOL
    this.structuredStatus = protocol.startsWith('v4.') || protocol.startsWith('v5.')
    this.dockerId = dockerId
    this.o = o
  }

  private send(channel: number, data: Buffer): void {
    if (this.ws.readyState !== this.ws.OPEN) return
    if (this.base64) this.ws.send(`${channel}${data.toString('base64')}`)
    else this.ws.send(Buffer.concat([Buffer.from([channel]), data]))
  }

  private close(): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.close(1000)
  }

  async run(): Promise<void> {
    const o = this.o
    this.send(o.stdout ? STDOUT : o.stderr ? STDERR : ERROR, Buffer.alloc(0))
    this.ws.on('message', (raw: Buffer | string, isBinary: boolean) => {
      if (this.early) this.early.push([raw, isBinary])
      else this.onClientFrame(raw, isBinary)
    })
    this.ws.on('close', () => this.hijacked?.destroy())
    const container = this.docker.getContainer(this.dockerId)
    try {
      const tty = o.kind === 'attach' ? (await container.inspect()).Config.Tty : o.tty
      if (o.kind === 'attach') {
        this.hijacked = (await container.attach({stream: true, hijack: true, stdin: o.stdin, stdout: o.stdout, stderr: o.stderr})) as unknown as Duplex
      } else {
        this.exec = await container.exec({Cmd: o.command, AttachStdin: o.stdin, AttachStdout: o.stdout, AttachStderr: o.stderr, Tty: o.tty})
        this.hijacked = (await this.exec.start({hijack: true, stdin: o.stdin, Tty: o.tty})) as unknown as Duplex
      }
      this.started = true
      if (this.pendingResize) void this.resize(this.pendingResize)
      const early = this.early ?? []
      this.early = undefined
      for (const [raw, isBinary] of early) this.onClientFrame(raw, isBinary)
      let firstOutput: Buffer | undefined
      // Docker writes "OCI runtime exec failed ..." into the stream when the command cannot start; the kubelet
      // reports that as an error status instead, so hold it back until the exit code tells which it was.
      let held: [1 | 2, Buffer] | undefined
      const out = (stream: 1 | 2, data: Buffer): void => {
        if (firstOutput === undefined && o.kind === 'exec' && data.toString('utf8').startsWith('OCI runtime exec failed')) {
          firstOutput = data
          held = [stream, data]
          return
        }
        firstOutput ??= data
        if (held) {
          this.send(held[0] === 2 && o.stderr ? STDERR : STDOUT, held[1])
          held = undefined
        }
        this.send(stream === 2 && o.stderr ? STDERR : STDOUT, data)
      }
      const demux = new Demuxer(out)
      this.hijacked.on('data', (chunk: Buffer) => (tty ? out(1, chunk) : demux.push(chunk)))
      await new Promise<void>((resolve) => {
        this.hijacked!.on('end', resolve)
        this.hijacked!.on('close', resolve)
        this.hijacked!.on('error', resolve)
      })
      if (o.kind === 'exec') await this.sendExitStatus(firstOutput, held)
    } catch (err) {
      const message = (err as {json?: {message?: string}}).json?.message ?? (err as Error).message
      this.sendFailure(message, 'InternalError', 500)
    }
    this.close()
  }

  private async sendExitStatus(firstOutput: Buffer | undefined, held: [1 | 2, Buffer] | undefined): Promise<void> {
    const info = await this.exec!.inspect()
    const code = info.ExitCode ?? 0
    if (held && code !== 126 && code !== 127) this.send(held[0] === 2 && this.o.stderr ? STDERR : STDOUT, held[1])
    if (code === 0) {
      if (this.structuredStatus) this.send(ERROR, Buffer.from(JSON.stringify({metadata: {}, status: 'Success'})))
      return
    }
    const text = firstOutput?.toString('utf8') ?? ''
    if ((code === 126 || code === 127) && text.startsWith('OCI runtime exec failed')) {
      // The command could not be started: the kubelet reports an internal error, not an exit code.
      this.sendFailure(`error executing command in container: failed to exec in container: ${text.trim()}`, 'InternalError', 500)
      return
    }
    const message = `command terminated with non-zero exit code: error executing command [${this.o.command.join(' ')}], exit code ${code}`
    if (!this.structuredStatus) {
      this.send(ERROR, Buffer.from(message))
      return
    }
    this.send(ERROR, Buffer.from(JSON.stringify({metadata: {}, status: 'Failure', message, reason: 'NonZeroExitCode',
      details: {causes: [{reason: 'ExitCode', message: String(code)}]}})))
  }

  private sendFailure(message: string, reason: string, code: number): void {
    if (!this.structuredStatus) {
      this.send(ERROR, Buffer.from(message))
      return
    }
    this.send(ERROR, Buffer.from(JSON.stringify({metadata: {}, status: 'Failure', message: `Internal error occurred: ${message}`, reason,
      details: {causes: [{message}]}, code})))
  }

  private onClientFrame(raw: Buffer | string, isBinary: boolean): void {
    let frame: Buffer
    if (this.base64 || !isBinary) {
      const text = raw.toString()
      if (text.length === 0) return
      frame = Buffer.concat([Buffer.from([text.charCodeAt(0) - 48]), Buffer.from(text.slice(1), 'base64')])
    } else frame = Buffer.isBuffer(raw) ? raw : Buffer.from(raw)
    if (frame.length === 0) return
    const channel = frame[0]!
    const data = frame.subarray(1)
    if (channel === STDIN) {
      if (this.o.stdin && data.length > 0) this.hijacked?.write(data)
    } else if (channel === RESIZE) {
      // One frame may carry several concatenated JSON objects; keys are case-insensitive.
      for (const part of data.toString('utf8').split(/(?<=\})\s*(?=\{)/)) {
        try {
          const obj = JSON.parse(part) as Record<string, number>
          const lower = Object.fromEntries(Object.entries(obj).map(([k, v]) => [k.toLowerCase(), v]))
          if (lower.width && lower.height) void this.resize({w: lower.width, h: lower.height})
        } catch {
          // Ignore a malformed resize, as the kubelet does.
        }
      }
    } else if (channel === CLOSE && this.v5 && data[0] === STDIN) {
      // Half-close: the process sees EOF on stdin, its output still flows back.
      this.hijacked?.end()
    }
  }

  private async resize(size: {w: number; h: number}): Promise<void> {
    if (!this.started) {
      this.pendingResize = size
      return
    }
    try {
      if (this.exec) await this.exec.resize({h: size.h, w: size.w})
      else await this.docker.getContainer(this.dockerId).resize({h: size.h, w: size.w})
    } catch {
      // Resizing a non-TTY stream or a just-exited process fails harmlessly.
    }
  }
}

