import type {ClientRequest, IncomingMessage} from 'node:http'
import type http from 'node:http'
import type net from 'node:net'
import type {Socket} from 'node:net'
import {createRequire} from 'node:module'
import {Duplex} from 'node:stream'

/**
 * The Engine API requests of a session's hot path (inspect, create, attach, wait, start, events, stop, remove), as
 * the docker CLI makes them. Over a unix socket they are plain node:http requests: dockerode and docker-modem cost
 * ~20 ms of loading and ~10 ms of CPU per session on top, for nothing these requests need. Other endpoints (ssh://,
 * tcp:// with its TLS settings, npipe://) keep docker-modem's own connection code (ModemHttp).
 */
export interface EngineHttp {
  /** The answer once its headers are in; a status outside 2xx fails with a docker-modem-shaped error (EngineHttpError). */
  stream(method: string, path: string, options?: RequestOptions): Promise<IncomingMessage>
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
export async function readJson<T>(response: IncomingMessage): Promise<T> {
  const chunks: Buffer[] = []
  for await (const chunk of response) chunks.push(chunk as Buffer)
  const text = Buffer.concat(chunks).toString('utf8')
  return (text ? JSON.parse(text) : undefined) as T
}

export function queryString(query: Query | undefined): string {
  const entries = Object.entries(query ?? {}).filter((e): e is [string, string | number | boolean] => e[1] !== undefined)
  return entries.length === 0 ? '' : `?${new URLSearchParams(entries.map(([k, v]): [string, string] => [k, String(v)])).toString()}`
}

// Through require(), not import: the ESM view of node:http loads Node's bundled undici (~40 ms) for nothing.
const nodeRequire = createRequire(import.meta.url)

/** Plain node:http on the engine's unix socket. */
export class SocketHttp implements EngineHttp {
  private readonly lib = nodeRequire('node:http') as typeof http

  constructor(private readonly socketPath: string) {}

  /**
   * Each request on a connection of its own, as with socketPath, but without an Agent: the Agent works out a TLS
   * server name for every request (net.isIP), whose first call compiles Node's IPv6 expression (~5 ms of a repeated
   * command's start-up, src/session/serve.ts).
   */
  private readonly connect = (): Socket => (nodeRequire('node:net') as typeof net).connect(this.socketPath)

  stream(method: string, path: string, options: RequestOptions = {}): Promise<IncomingMessage> {
    const body = options.body === undefined ? undefined : JSON.stringify(options.body)
    // No body: Content-Length 0 (node:http would otherwise send a POST chunked, with an empty last chunk).
    const headers: Record<string, string | number> =
      body === undefined ? (method === 'GET' ? {} : {'Content-Length': 0}) : {'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body)}
    return new Promise((resolve, reject) => {
      const req = this.lib.request({createConnection: this.connect, method, path: path + queryString(options.query), headers, ...(options.signal ? {signal: options.signal} : {})}, (res) => {
        const status = res.statusCode ?? 0
        if (status >= 200 && status < 300) return resolve(res)
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('error', reject)
        res.on('end', () => reject(engineHttpError(status, Buffer.concat(chunks).toString('utf8').trim())))
      })
      req.on('error', reject)
      req.end(body)
    })
  }

  hijack(path: string, query: Query, body?: unknown): Promise<Duplex> {
    const json = body === undefined ? undefined : JSON.stringify(body)
    return new Promise((resolve, reject) => {
      // As the docker CLI sends it: the options in the query, an empty body for an attach (Podman would hand a body
      // to the container's stdin), and the upgrade asked for.
      const req: ClientRequest = this.lib.request({
        createConnection: this.connect,
        method: 'POST',
        path: path + queryString(query),
        headers:
          json === undefined
            ? {'Content-Type': 'text/plain', 'Content-Length': 0, Connection: 'Upgrade', Upgrade: 'tcp'}
            : {'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(json), Connection: 'Upgrade', Upgrade: 'tcp'},
      })
      req.on('upgrade', (_res, socket, head) => {
        if (head.length > 0) socket.unshift(head)
        resolve(socket)
      })
      req.on('response', (res) => {
        const status = res.statusCode ?? 0
        // An engine that streams without upgrading: its answer is the output, the request stays open for input.
        if (status === 200) return resolve(Duplex.from({readable: res, writable: req}))
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => reject(engineHttpError(status, Buffer.concat(chunks).toString('utf8').trim())))
      })
      req.on('error', reject)
      req.end(json)
    })
  }
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

  stream(method: string, path: string, options: RequestOptions = {}): Promise<IncomingMessage> {
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
