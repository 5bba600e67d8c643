/** What every handler gets: the simulator's parts and the parsed request. */
import type {IncomingMessage, ServerResponse} from 'node:http'
import type Docker from 'dockerode'
import type {UserSpec} from './auth.ts'
import type {DockerBackend} from './docker-backend.ts'
import type {Obj, Resource, Store} from './store.ts'
import type {StreamServer} from './streams.ts'
import type {WatchHub} from './watch.ts'

export interface SimContext {
  store: Store
  backend: DockerBackend
  watches: WatchHub
  streams: StreamServer
  docker: Docker
  nodeName: string
  ephemeralContainers: boolean
  /** WebSocket subprotocols the server accepts for exec/attach. */
  protocols: string[]
  log: (msg: string) => void
}

export interface Call {
  req: IncomingMessage
  res: ServerResponse
  params: URLSearchParams
  user: UserSpec
  verb: string
  resource: Resource
  namespace?: string
  name?: string
  subresource?: string
}

/** Adds kind/apiVersion, as single-object responses and watch events carry them (list items do not). */
export const withKind = (o: Obj, kind: string): Obj => {
  const {kind: _k, apiVersion: _a, ...rest} = o
  return {kind, apiVersion: 'v1', ...rest}
}

export const withoutKind = (o: Obj): Obj => {
  const {kind: _k, apiVersion: _a, ...rest} = o
  return rest
}

/** `Warning: 299 - "..."` header values, the way the API server escapes them. */
export const warningHeaders = (warnings: string[]): Record<string, string> =>
  warnings.length > 0 ? {Warning: warnings.map((w) => `299 - ${JSON.stringify(w)}`).join(', ')} : {}
