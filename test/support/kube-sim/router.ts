/**
 * Request routing: non-resource paths (discovery, /version, health, openapi), then resource paths parsed like the
 * API server's RequestInfoFactory into {verb, namespace, resource, name, subresource}, authenticated, authorized
 * (RBAC runs before any existence check, as in the real filter chain) and dispatched.
 */
import type {IncomingMessage, ServerResponse} from 'node:http'
import type {Duplex} from 'node:stream'
import {type Authenticator, type UserSpec, authorize} from './auth.ts'
import type {Call, SimContext} from './context.ts'
import {apiGroupList, handleAccessReview} from './access-review.ts'
import {apiResourceList, apiVersions, VERSION} from './discovery.ts'
import {rejectUpgrade, sendError, sendJSON, toApiError} from './http-util.ts'
import {handleNamespaces} from './namespaces-api.ts'
import {handleNodes} from './nodes-api.ts'
import {openapiV3CoreV1, openapiV3Root} from './openapi.ts'
import {getPod, handlePods} from './pods-api.ts'
import {badRequest, methodNotAllowed, pathNotFound} from './status.ts'
import type {Resource} from './store.ts'
import {negotiate, STREAM_CLOSE_PROTOCOL, streamOptions} from './streams.ts'

interface ResourcePath {
  resource: Resource
  namespace?: string
  name?: string
  subresource?: string
  watchPath: boolean
}

/** /api/v1/[watch/][namespaces/{ns}/]{resource}[/{name}[/{subresource}]] */
export function parseResourcePath(pathname: string): ResourcePath | undefined {
  const parts = pathname.split('/').filter(Boolean).map(decodeURIComponent)
  if (parts[0] !== 'api' || parts[1] !== 'v1') return undefined
  let rest = parts.slice(2)
  let watchPath = false
  if (rest[0] === 'watch') {
    watchPath = true
    rest = rest.slice(1)
  }
  let namespace: string | undefined
  // namespaces/{ns}/{resource}... is namespaced; namespaces[/{name}[/{sub}]] is the namespace resource itself.
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1]
    rest = rest.slice(2)
  }
  const [resource, name, subresource, ...extra] = rest
  if (extra.length > 0 || (resource !== 'pods' && resource !== 'namespaces' && resource !== 'nodes')) return undefined
  if (resource !== 'pods' && namespace !== undefined) return undefined
  const out: ResourcePath = {resource, watchPath}
  if (namespace !== undefined) out.namespace = namespace
  if (name !== undefined) out.name = name
  if (subresource !== undefined) out.subresource = subresource
  return out
}

/** RequestInfo verb: get/list/watch/create/update/patch/delete/deletecollection. */
function verbOf(method: string, p: ResourcePath, params: URLSearchParams): string {
  switch (method) {
    case 'GET':
    case 'HEAD':
      if (p.watchPath || params.get('watch') === 'true' || params.get('watch') === '1') return 'watch'
      return p.name === undefined ? 'list' : 'get'
    case 'POST': return 'create'
    case 'PUT': return 'update'
    case 'PATCH': return 'patch'
    case 'DELETE': return p.name === undefined ? 'deletecollection' : 'delete'
    default: return method.toLowerCase()
  }
}

const PUBLIC = new Set(['/healthz', '/livez', '/readyz', '/version'])

export class Router {
  private readonly ctx: SimContext
  private readonly auth: Authenticator
  private readonly address: () => string

  constructor(ctx: SimContext, auth: Authenticator, address: () => string) {
    this.ctx = ctx
    this.auth = auth
    this.address = address
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://kube-sim')
    const started = Date.now()
    const ct = req.headers['content-type'] ? ` [${req.headers['content-type']}]` : ''
    res.on('finish', () => this.ctx.log(`${req.method} ${url.pathname}${url.search}${ct} ${res.statusCode} ${Date.now() - started}ms`))
    try {
      if (PUBLIC.has(url.pathname)) {
        if (url.pathname === '/version') return sendJSON(res, 200, VERSION)
        res.writeHead(200, {'Content-Type': 'text/plain'}).end('ok')
        return
      }
      const user = this.auth.authenticate(req)
      if (await this.nonResource(url.pathname, req, res, user)) return
      const p = parseResourcePath(url.pathname)
      if (!p) throw pathNotFound()
      const verb = verbOf(req.method ?? 'GET', p, url.searchParams)
      if (p.subresource === 'exec' || p.subresource === 'attach') {
        // Reached only without an Upgrade header: the real server then wants an upgrade too.
        authorize(user, {verb: 'create', resource: 'pods', subresource: p.subresource, ...(p.namespace ? {namespace: p.namespace} : {}), ...(p.name ? {name: p.name} : {})})
        throw badRequest('Upgrade request required')
      }
      authorize(user, {verb, resource: p.resource, ...(p.subresource ? {subresource: p.subresource} : {}),
        ...(p.namespace !== undefined ? {namespace: p.namespace} : {}), ...(p.name !== undefined ? {name: p.name} : {})})
      const call: Call = {req, res, params: url.searchParams, user, verb, resource: p.resource,
        ...(p.namespace !== undefined ? {namespace: p.namespace} : {}), ...(p.name !== undefined ? {name: p.name} : {}),
        ...(p.subresource !== undefined ? {subresource: p.subresource} : {})}
      if (p.resource === 'pods') {
        // Pods live in namespaces: /api/v1/pods is list/watch across all namespaces only.
        if (p.namespace === undefined && verb !== 'list' && verb !== 'watch') throw pathNotFound()
        await handlePods(this.ctx, call)
      } else if (p.resource === 'nodes') await handleNodes(this.ctx, call)
      else await handleNamespaces(this.ctx, call)
    } catch (err) {
      const e = toApiError(err)
      if (e.status.code >= 500) this.ctx.log(`error: ${err instanceof Error ? err.stack : String(err)}`)
      sendError(res, e)
    }
  }

  /** Discovery and other non-resource paths (any authenticated user may read them). */
  private async nonResource(pathname: string, req: IncomingMessage, res: ServerResponse, user: UserSpec): Promise<boolean> {
    switch (pathname) {
      case '/api': sendJSON(res, 200, apiVersions(this.address())); return true
      case '/api/v1': sendJSON(res, 200, apiResourceList(this.ctx.ephemeralContainers)); return true
      case '/apis': sendJSON(res, 200, apiGroupList); return true
    }
    if (await handleAccessReview(pathname, req, res, user)) return true
    // Just enough OpenAPI v3 for kubectl's server-side field validation check (see openapi.ts); no v2, no groups.
    if (pathname === '/openapi/v3') {
      sendJSON(res, 200, openapiV3Root)
      return true
    }
    if (pathname === '/openapi/v3/api/v1') {
      sendJSON(res, 200, openapiV3CoreV1)
      return true
    }
    if (pathname.startsWith('/apis/') || pathname.startsWith('/openapi/')) throw pathNotFound()
    return false
  }

  /** exec/attach upgrades (WebSocket; SPDY requests get the validation errors or a 400). */
  async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://kube-sim')
    socket.on('error', () => socket.destroy())
    try {
      const user = this.auth.authenticate(req)
      const p = parseResourcePath(url.pathname)
      if (!p || p.resource !== 'pods' || (p.subresource !== 'exec' && p.subresource !== 'attach') || !p.namespace || !p.name) throw pathNotFound()
      if (req.method !== 'GET' && req.method !== 'POST') throw methodNotAllowed()
      // Since 1.31 a WebSocket (GET) exec/attach needs the create verb too (AuthorizePodWebsocketUpgradeCreatePermission).
      authorize(user, {verb: 'create', resource: 'pods', subresource: p.subresource, namespace: p.namespace, name: p.name})
      const pod = getPod(this.ctx, p.namespace, p.name)
      const o = streamOptions(p.subresource, pod, url.searchParams)
      const isWebSocket = String(req.headers.upgrade ?? '').toLowerCase() === 'websocket'
      if (!isWebSocket) throw badRequest(`kube-sim: ${String(req.headers.upgrade)} streams are not supported, use a WebSocket (kubectl >= 1.30 does by default)`)
      const protocol = negotiate(req, this.ctx.protocols)
      if (protocol === undefined) {
        throw badRequest(`unable to upgrade: requested protocol(s) are not supported: ${String(req.headers['sec-websocket-protocol'])}; supports ${this.ctx.protocols.join(', ')}`)
      }
      // The kubelet finds the container in the runtime, not in the reported status: attach works once it runs.
      const dockerId = this.ctx.backend.dockerIdOf(p.namespace, p.name, o.container)
      const running = dockerId !== undefined && (await this.ctx.backend.isRunning(dockerId))
      if (!running) {
        const kubeletError = `container not found ("${o.container}")`
        // v5 goes through the API server's stream translator, which accepts the WebSocket before it dials the
        // kubelet: the kubelet's refusal comes back as a Status on the error channel. Older protocols are proxied
        // to the kubelet, whose refusal is the HTTP answer.
        if (protocol !== STREAM_CLOSE_PROTOCOL) throw badRequest(kubeletError)
        this.ctx.log(`UPGRADE ${req.method} ${url.pathname}${url.search} protocol=${protocol} then Failure: ${kubeletError}`)
        this.ctx.streams.upgradeAndFail(req, socket, head, protocol, `unable to upgrade connection: ${kubeletError}`)
        return
      }
      this.ctx.log(`UPGRADE ${req.method} ${url.pathname}${url.search} protocol=${protocol || '(none)'}`)
      this.ctx.streams.upgrade(req, socket, head, protocol, dockerId, o)
    } catch (err) {
      const e = toApiError(err)
      this.ctx.log(`UPGRADE ${req.method} ${url.pathname}${url.search} ${e.status.code} ${e.status.message}`)
      rejectUpgrade(socket, e.status, e.headers)
    }
  }
}
