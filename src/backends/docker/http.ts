import {accessSync} from 'node:fs'
import type {IncomingMessage} from 'node:http'
import {homedir} from 'node:os'
import {join} from 'node:path'
import {type Duplex, Readable} from 'node:stream'

/**
 * The Engine API requests of a session's hot path (inspect, create, attach, wait, start, events, stop, remove), as
 * the docker CLI makes them. Over a unix socket they are plain node:http requests: dockerode and docker-modem cost
 * ~20 ms of loading and ~10 ms of CPU per session on top, for nothing these requests need. Other endpoints (ssh://,
 * tcp:// with its TLS settings, npipe://) keep docker-modem's own connection code (ModemHttp).
 */
export interface EngineHttp {
  /** The answer once its headers are in; a status outside 2xx fails with a docker-modem-shaped error (EngineHttpError). */
  stream(method: string, path: string, options?: RequestOptions): Promise<EngineResponse>
  /** A hijacked connection (attach, exec start): the raw stream after the engine's 101; `body` sent as JSON. */
  hijack(path: string, query: Query, body?: unknown): Promise<Duplex>
}

export type Query = Record<string, string | number | boolean | undefined>

export interface RequestOptions {
  query?: Query | undefined
  /** Sent as JSON. */
  body?: unknown
  signal?: AbortSignal | undefined
}

/** What docker-modem's errors look like, so that errors.ts reads both alike: statusCode, json (the engine's body), reason. */
export interface EngineHttpError extends Error {
  statusCode: number
  json: unknown
  reason: string
}

export function engineHttpError(status: number, body: string): EngineHttpError {
  let json: unknown = body
  try {
    json = JSON.parse(body)
  } catch {
    // the engine's words as they are
  }
  const message = typeof (json as {message?: unknown})?.message === 'string' ? (json as {message: string}).message : body
  return Object.assign(new Error(`(HTTP code ${status}) unexpected - ${message} `), {statusCode: status, json, reason: 'unexpected'})
}

/** The whole answer's body, parsed as JSON (undefined when empty). */
export async function readJson<T>(response: Readable): Promise<T> {
  const text = await readText(response)
  return (text ? JSON.parse(text) : undefined) as T
}

export function queryString(query: Query | undefined): string {
  const entries = Object.entries(query ?? {}).filter((e): e is [string, string | number | boolean] => e[1] !== undefined)
  return entries.length === 0 ? '' : `?${new URLSearchParams(entries.map(([k, v]): [string, string] => [k, String(v)])).toString()}`
}

/**
 * The engine's unix socket, as docker-modem finds it (DOCKER_HOST unix://PATH; none set: Docker Desktop's per-user
 * socket when there is one, else /var/run/docker.sock); undefined for other endpoints.
 */
export function unixSocket(host: string | undefined): string | undefined {
  if (host && !host.startsWith('unix://')) return undefined
  if (host && host.length > 'unix://'.length) return host.slice('unix://'.length)
  const user = join(homedir(), '.docker', 'run', 'docker.sock')
  try {
    accessSync(user)
    return user
  } catch {
    return '/var/run/docker.sock'
  }
}

type Exchange = Promise<{head: ResponseHead; socket: Socket; rest: Buffer}>

/**
 * GETs sent before mindbg's code is loaded (bin/run.js, src/cli/prefetch.ts), so that the engine answers while it
 * loads; the first SocketHttp request for the same socket and path takes the answer instead of asking again. Kept
 * on globalThis: the prefetch and the command are bundles of their own.
 */
const PREFETCHED = Symbol.for('mindbg.docker.prefetched')
const prefetched = (): Map<string, Exchange> => ((globalThis as {[PREFETCHED]?: Map<string, Exchange>})[PREFETCHED] ??= new Map())

export function prefetch(socketPath: string, paths: string[]): void {
  const http = new SocketHttp(socketPath)
  for (const path of paths) {
    const exchange = http.get(path)
    // Nobody may ever ask (the command failed first): not an unhandled rejection.
    exchange.catch(() => {})
    prefetched().set(`${socketPath}\0${path}`, exchange)
  }
}

/**
 * An engine's answer as the callers read it: a body stream with the status and the headers (lower-case names), as
 * node:http's IncomingMessage has them (ModemHttp's answers are such messages).
 */
export interface EngineResponse extends Readable {
  statusCode?: number | undefined
  headers: Record<string, string | string[] | undefined>
}

/**
 * HTTP/1.1 on the engine's unix socket, one connection per request, written and read here on node:net: node:http
 * costs a session ~20 ms of main thread before its first request is on the wire (loading, its agent, the first
 * ClientRequest), a raw socket ~3 (BENCHMARKS.md, issue 13). What it reads is what Docker's and Podman's Go servers
 * write: a status line and headers, then a body of Content-Length bytes, chunked, or up to the close; an upgrade (101)
 * hands over the socket itself.
 */
export class SocketHttp implements EngineHttp {
  private readonly net = process.getBuiltinModule('node:net')

  constructor(private readonly socketPath: string) {}

  stream(method: string, path: string, options: RequestOptions = {}): Promise<EngineResponse> {
    const body = options.body === undefined ? undefined : JSON.stringify(options.body)
    // No body: Content-Length 0 on anything but a GET (as node:http and the docker CLI send it).
    const headers = body === undefined ? (method === 'GET' ? '' : 'Content-Length: 0\r\n') : `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`
    const target = `${path}${queryString(options.query)}`
    const key = `${this.socketPath}\0${target}`
    const early = method === 'GET' && body === undefined && !options.signal ? prefetched().get(key) : undefined
    if (early) prefetched().delete(key)
    const exchange = early ?? this.exchange(`${method} ${target} HTTP/1.1\r\nHost: localhost\r\n${headers}Connection: close\r\n\r\n${body ?? ''}`, method, options.signal)
    return exchange.then(
      ({head, socket, rest}) => {
        const res = responseBody(head, method, socket, rest)
        if (head.status >= 200 && head.status < 300) return res
        return readText(res).then((text) => Promise.reject(engineHttpError(head.status, text.trim())))
      },
    )
  }

  hijack(path: string, query: Query, body?: unknown): Promise<Duplex> {
    // As the docker CLI sends it: the options in the query, an empty body for an attach (Podman would hand a body to
    // the container's stdin), the exec start's options as JSON, and the upgrade asked for.
    const json = body === undefined ? '' : JSON.stringify(body)
    const type = body === undefined ? 'text/plain' : 'application/json'
    const request = `POST ${path}${queryString(query)} HTTP/1.1\r\nHost: localhost\r\nContent-Type: ${type}\r\nContent-Length: ${Buffer.byteLength(json)}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n${json}`
    return this.exchange(request, 'POST', undefined).then(({head, socket, rest}) => {
      // 101, or an engine that streams without upgrading (200): what follows the head is the output, and the same
      // connection takes the input.
      if (head.status === 101 || head.status === 200) {
        if (rest.length > 0) socket.unshift(rest)
        // Flowing again once someone listens for 'data', as a fresh socket (node:http does the same on an upgrade).
        ;(socket as {readableFlowing: boolean | null}).readableFlowing = null
        return socket
      }
      return readText(responseBody(head, 'POST', socket, rest)).then((text) => Promise.reject(engineHttpError(head.status, text.trim())))
    })
  }

  /** A GET as stream() sends it, its answer not read yet (prefetch()). */
  get(path: string): Exchange {
    return this.exchange(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`, 'GET', undefined)
  }

  /** Sends the request; the answer's head, its socket (paused) and what came after the head. */
  private exchange(request: string, method: string, signal: AbortSignal | undefined): Exchange {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(abortError(signal))
      const socket = this.net.connect(this.socketPath)
      let received: Buffer = Buffer.alloc(0)
      const onAbort = (): void => void socket.destroy(abortError(signal!))
      signal?.addEventListener('abort', onAbort, {once: true})
      socket.once('close', () => signal?.removeEventListener('abort', onAbort))
      const failed = (error: Error): void => reject(error)
      const onData = (chunk: Buffer): void => {
        received = received.length === 0 ? chunk : Buffer.concat([received, chunk])
        const end = received.indexOf('\r\n\r\n')
        if (end < 0) return
        socket.off('data', onData)
        socket.off('error', failed)
        socket.off('end', early)
        socket.pause()
        const head = parseHead(received.subarray(0, end).toString('latin1'))
        if (head === undefined) {
          socket.destroy()
          return reject(new Error(`the engine at ${this.socketPath} answered ${method} with something other than HTTP`))
        }
        resolve({head, socket, rest: received.subarray(end + 4)})
      }
      const early = (): void => reject(Object.assign(new Error('socket hang up'), {code: 'ECONNRESET'}))
      socket.on('data', onData)
      socket.on('error', failed)
      socket.once('end', early)
      socket.write(request)
    })
  }
}

type Socket = ReturnType<typeof import('node:net').connect>

interface ResponseHead {
  status: number
  headers: Record<string, string>
}

function abortError(signal: AbortSignal): Error {
  return Object.assign(new Error('The operation was aborted', {cause: signal.reason}), {name: 'AbortError', code: 'ABORT_ERR'})
}

/** "HTTP/1.1 200 OK" and the header lines; undefined for anything else. */
export function parseHead(text: string): ResponseHead | undefined {
  const [line = '', ...lines] = text.split('\r\n')
  const m = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(line)
  if (!m) return undefined
  const headers: Record<string, string> = {}
  for (const l of lines) {
    const colon = l.indexOf(':')
    if (colon <= 0) continue
    const name = l.slice(0, colon).trim().toLowerCase()
    const value = l.slice(colon + 1).trim()
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value
  }
  return {status: Number(m[1]), headers}
}

/** The body after `head` as a stream: Content-Length bytes, chunked, none (HEAD, 1xx, 204, 304), or up to the close. */
function responseBody(head: ResponseHead, method: string, socket: Socket, rest: Buffer): EngineResponse {
  const decode = bodyDecoder(head, method)
  let done = false
  const res = new Readable({
    read: () => void socket.resume(),
    destroy: (error, callback) => {
      socket.destroy()
      callback(error)
    },
  }) as EngineResponse
  res.statusCode = head.status
  res.headers = head.headers
  const finish = (): void => {
    if (done) return
    done = true
    res.push(null)
    socket.destroy()
  }
  const take = (chunk: Buffer): void => {
    if (done) return
    let result
    try {
      result = decode(chunk)
    } catch (error) {
      res.destroy(error as Error)
      return
    }
    for (const part of result.data) if (part.length > 0 && !res.push(part)) socket.pause()
    if (result.ended) finish()
  }
  socket.on('data', take)
  socket.once('end', () => (decode.untilClose ? finish() : done || res.destroy(Object.assign(new Error('aborted'), {code: 'ECONNRESET'}))))
  socket.once('error', (error) => done || res.destroy(error))
  socket.once('close', () => done || (decode.untilClose ? finish() : res.destroy(Object.assign(new Error('aborted'), {code: 'ECONNRESET'}))))
  if (rest.length > 0) queueMicrotask(() => take(rest))
  else if (decode.empty) queueMicrotask(finish)
  return res
}

interface Decoder {
  (chunk: Buffer): {data: Buffer[]; ended: boolean}
  untilClose: boolean
  empty: boolean
}

/** How the body after `head` is framed, as a function of the bytes as they come. */
export function bodyDecoder(head: ResponseHead, method: string): Decoder {
  const none = method === 'HEAD' || head.status < 200 || head.status === 204 || head.status === 304
  const chunked = !none && /(^|,)\s*chunked\s*$/i.test(head.headers['transfer-encoding'] ?? '')
  const lengthHeader = head.headers['content-length']
  let remaining = none ? 0 : chunked || lengthHeader === undefined ? -1 : Number(lengthHeader)
  if (Number.isNaN(remaining) || remaining < -1) throw new Error(`the engine sent a bad Content-Length: ${lengthHeader}`)
  const decoder = (chunked ? chunkedDecoder() : (chunk: Buffer) => {
    if (remaining < 0) return {data: [chunk], ended: false}
    const part = chunk.subarray(0, remaining)
    remaining -= part.length
    return {data: [part], ended: remaining === 0}
  }) as Decoder
  decoder.untilClose = !chunked && remaining < 0
  decoder.empty = remaining === 0
  return decoder
}

/** Transfer-Encoding: chunked (RFC 9112 7.1): a hex size line, that many bytes and CRLF, ...; size 0, trailers, CRLF. */
function chunkedDecoder(): (chunk: Buffer) => {data: Buffer[]; ended: boolean} {
  let pending: Buffer = Buffer.alloc(0)
  // In a chunk: its bytes still to come; then the CRLF after it; between chunks: a size line; after the last: trailers.
  let state: 'size' | 'data' | 'crlf' | 'trailer' = 'size'
  let left = 0
  return (chunk) => {
    const data: Buffer[] = []
    let buf: Buffer = pending.length === 0 ? chunk : Buffer.concat([pending, chunk])
    pending = Buffer.alloc(0)
    for (;;) {
      if (state === 'data') {
        const part = buf.subarray(0, left)
        if (part.length > 0) data.push(part)
        left -= part.length
        buf = buf.subarray(part.length)
        if (left > 0) return {data, ended: false}
        state = 'crlf'
      }
      const eol = buf.indexOf('\r\n')
      if (eol < 0) {
        pending = buf
        return {data, ended: false}
      }
      const line = buf.subarray(0, eol).toString('latin1')
      buf = buf.subarray(eol + 2)
      if (state === 'crlf') {
        if (line !== '') throw new Error('the engine sent a malformed chunked body')
        state = 'size'
      } else if (state === 'size') {
        const size = Number.parseInt(line.split(';')[0]!.trim(), 16)
        if (!/^[0-9a-f]+$/i.test(line.split(';')[0]!.trim()) || Number.isNaN(size)) throw new Error('the engine sent a malformed chunk size')
        if (size === 0) state = 'trailer'
        else {
          state = 'data'
          left = size
        }
      } else if (line === '') {
        return {data, ended: true}
      }
    }
  }
}

/** The whole body; by its events (an async iterator's first use costs a session ~1 ms more before its create). */
function readText(res: Readable): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let ended = false
    res.on('data', (chunk: Buffer) => chunks.push(chunk))
    res.once('end', () => {
      ended = true
      resolve(Buffer.concat(chunks).toString('utf8'))
    })
    res.once('error', reject)
    res.once('close', () => ended || reject(Object.assign(new Error('Premature close'), {code: 'ERR_STREAM_PREMATURE_CLOSE'})))
  })
}

interface Modem {
  dial(options: object, callback: (error: unknown, result: unknown) => void): void
}

/** The same requests through docker-modem, for the endpoints only it connects to (ssh://) or with its TLS settings. */
export class ModemHttp implements EngineHttp {
  constructor(private readonly modem: Modem) {}

  private dial<T>(options: object): Promise<T> {
    return new Promise((resolve, reject) => this.modem.dial(options, (error, result) => (error ? reject(error) : resolve(result as T))))
  }

  stream(method: string, path: string, options: RequestOptions = {}): Promise<EngineResponse> {
    return this.dial<IncomingMessage>({
      path: `${path}?`,
      method,
      isStream: true,
      ...(options.signal ? {abortSignal: options.signal} : {}),
      // As dockerode calls it: without a body of its own, a POST carries its query as JSON too (Docker ignores it).
      options: options.body === undefined ? {...options.query} : {_query: options.query ?? {}, _body: options.body},
      statusCodes: {200: true, 201: true, 204: true},
    })
  }

  hijack(path: string, query: Query, body?: unknown): Promise<Duplex> {
    if (body !== undefined) {
      return this.dial<Duplex>({path: `${path}?`, method: 'POST', isStream: true, hijack: true, openStdin: true, options: {_query: query, _body: body}, statusCodes: {101: true, 200: true}})
    }
    return this.dial<Duplex>({
      path: `${path}?`,
      method: 'POST',
      isStream: true,
      hijack: true,
      openStdin: query.stdin === true,
      // An empty file: docker-modem then sends Content-Length: 0 instead of a JSON body or a chunked one.
      file: Buffer.alloc(0),
      headers: {'Content-Type': 'text/plain'},
      options: {_query: query},
      statusCodes: {101: true, 200: true},
    })
  }
}
