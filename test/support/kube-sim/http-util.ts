/** Small HTTP helpers shared by the handlers (bodies, JSON answers, Status answers on plain and upgraded sockets). */
import type {IncomingMessage, ServerResponse} from 'node:http'
import {STATUS_CODES} from 'node:http'
import type {Duplex} from 'node:stream'
import {decodeProtobuf, PROTOBUF} from './protobuf.ts'
import {ApiError, badRequest, type Status, internal} from './status.ts'

const MAX_BODY = 3 * 1024 * 1024 // the real server's default request size limit

export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > MAX_BODY) throw new ApiError({...badRequest('request entity too large').status, code: 413, reason: 'RequestEntityTooLarge'})
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks)
}

/**
 * Parses a request body: JSON, or the few protobuf messages kubectl's typed clients send (see protobuf.ts).
 * The API server also accepts YAML; no client we care about sends it.
 */
export function parseBody(call: {req: IncomingMessage}, body: Buffer): any {
  if (String(call.req.headers['content-type'] ?? '').startsWith(PROTOBUF)) return decodeProtobuf(body)
  try {
    return JSON.parse(body.toString('utf8'))
  } catch (err) {
    throw badRequest(`the object provided is unrecognized (must be of type JSON): ${(err as Error).message}`)
  }
}

export async function readJSON(req: IncomingMessage): Promise<any> {
  return parseBody({req}, await readBody(req))
}

/** A body that may be empty (DeleteOptions): {} then. */
export async function readOptionalJSON(req: IncomingMessage): Promise<any> {
  const body = await readBody(req)
  return body.length === 0 ? {} : parseBody({req}, body)
}

export function sendJSON(res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end()
    return
  }
  const text = JSON.stringify(body)
  res.writeHead(code, {
    'Content-Type': 'application/json',
    'Cache-Control': 'no-cache, private',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  })
  res.end(text)
}

export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err
  return internal(err instanceof Error ? err.message : String(err))
}

export function sendError(res: ServerResponse, err: unknown): void {
  const e = toApiError(err)
  sendJSON(res, e.status.code, e.status, e.headers)
}

/** Answers an upgrade request (no ServerResponse exists for it) with a Status and closes the socket. */
export function rejectUpgrade(socket: Duplex, status: Status, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(status)
  const lines = [
    `HTTP/1.1 ${status.code} ${STATUS_CODES[status.code] ?? 'Error'}`,
    'Content-Type: application/json',
    'Cache-Control: no-cache, private',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ]
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`)
}

export function boolParam(v: string | null): boolean {
  return v === 'true' || v === '1'
}
