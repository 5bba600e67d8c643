import type http from 'node:http'
import type https from 'node:https'
import {createRequire} from 'node:module'

import type {WebSocket as WsSocket} from 'ws'

import {deps} from '../../deps.js'
import {firstLine, MindbgError} from '../../domain/errors.js'
import {splitLines} from '../lines.js'
import {type DirectConnection, directConnection, directRequestOptions, type KubeconfigFile, kubeconfigFiles, loadKubeconfig} from './kubeconfig.js'

/** A metav1.Status as the API server sends it with every error. */
export interface KubeStatus {
  kind?: string
  status?: string
  message?: string
  reason?: string
  code?: number
  details?: {name?: string; kind?: string; causes?: Array<{reason?: string; message?: string; field?: string}>}
}

export class KubeStatusError extends Error {
  constructor(
    readonly code: number,
    readonly status: KubeStatus,
  ) {
    super(status.message || `HTTP ${code}`)
  }
}

export interface KubeConnectOptions {
  kubeconfig?: string | undefined
  context?: string | undefined
  namespace?: string | undefined
  /** How long a request may go unanswered (connect, TLS handshake, each wait for data); 0: no bound. */
  requestTimeoutMs?: number | undefined
}

/** kubectl has no bound by default (--request-timeout 0); mindbg does, so that a hung API server never hangs it. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000
const CREDENTIALS_FOR_MS = 60_000

// Through require(), not import: the ESM view of node:http reads all of its exports, and its lazy WebSocket getters
// load Node's bundled undici (~40 ms of start-up for nothing).
const nodeRequire = createRequire(import.meta.url)
const httpModule = nodeRequire('node:http') as typeof http
const httpsModule = nodeRequire('node:https') as typeof https

/**
 * How requests get their TLS options and credentials: from the kubeconfig as ./kubeconfig.ts reads it (tokens, client
 * certificates, CA data), or from @kubernetes/client-node's KubeConfig (exec credential plugins, auth providers,
 * proxies, in-cluster config). `https`: whether the server is; `proxied`: a proxy agent is in the options.
 */
interface Authority {
  context: string
  namespace: string | undefined
  server: string | undefined
  proxied: boolean
  apply(opts: https.RequestOptions, https: boolean): Promise<void>
}

function directAuthority(connection: DirectConnection): Authority {
  return {
    context: connection.context ?? '',
    namespace: connection.namespace,
    server: connection.cluster?.server,
    proxied: false,
    apply: async (opts, https) => {
      const {headers, ...tls} = directRequestOptions(connection, https)
      Object.assign(opts, tls)
      opts.headers = {...(opts.headers as Record<string, string>), ...headers}
    },
  }
}

async function clientAuthority(merged: KubeconfigFile | undefined, context: string | undefined): Promise<Authority> {
  const KubeConfig = await deps.kubeConfig()
  const kc = new KubeConfig()
  if (merged) kc.loadFromString(JSON.stringify(merged))
  else kc.loadFromDefault()
  if (context) {
    if (!kc.getContextObject(context)) throw new Error(`context "${context}" is not in the kubeconfig`)
    kc.setCurrentContext(context)
  }
  const cluster = kc.getCurrentCluster()
  return {
    context: kc.getCurrentContext(),
    namespace: kc.getContextObject(kc.getCurrentContext())?.namespace,
    server: cluster?.server,
    proxied: Boolean(cluster?.proxyUrl),
    // Plain HTTP (a local proxy, the simulator): kubectl allows it, the client library's agent does not; only the
    // credentials are needed.
    apply: (opts, https) => (https ? kc.applyToHTTPSOptions(opts) : (kc as unknown as {applyOptions(o: https.RequestOptions): Promise<void>}).applyOptions(opts)),
  }
}

/**
 * The API server, spoken to directly: kubeconfig loading and contexts as kubectl does them (./kubeconfig.ts), with
 * @kubernetes/client-node's KubeConfig for the authentication that needs it (Authority); requests are plain HTTP
 * so that PATCH content types, Status bodies, watches and WebSocket channels are exactly what the server sees.
 */
export class KubeApi {
  private constructor(
    private readonly authority: Authority,
    readonly server: string,
    readonly namespace: string,
    readonly context: string,
    readonly requestTimeoutMs: number,
    /** What it was connected with: a reaper started for this session connects the same way (./owned-pod.ts). */
    readonly connectOptions: KubeConnectOptions,
  ) {}

  static async connect(options: KubeConnectOptions): Promise<KubeApi> {
    // Read and merged as kubectl does (the client library merges KUBECONFIG differently: see ./kubeconfig.ts).
    const files = kubeconfigFiles(options.kubeconfig, process.env)
    const merged = files.length > 0 ? await loadKubeconfig(options.kubeconfig, process.env) : undefined
    let authority: Authority
    try {
      const direct = merged ? directConnection(merged, options.context) : 'client'
      authority = direct === 'client' ? await clientAuthority(merged, options.context) : directAuthority(direct)
    } catch (error) {
      throw new MindbgError(
        'usage',
        `cannot use the kubeconfig${options.kubeconfig ? ` ${options.kubeconfig}` : ''}: ${firstLine((error as Error).message)}`,
        'Check --kubeconfig / KUBECONFIG and --context (kubectl config get-contexts).',
        {cause: error},
      )
    }
    if (!authority.server) {
      throw new MindbgError('usage', 'the kubeconfig has no current cluster', 'Pick a context with --context, or set one: kubectl config use-context NAME.')
    }
    const timeout = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS
    return new KubeApi(authority, authority.server.replace(/\/$/, ''), options.namespace || authority.namespace || 'default', authority.context, timeout, options)
  }

  /** The credentials and TLS options of the context, worked out once in a while, not per request. */
  private credentials: {at: number; options: Promise<https.RequestOptions>} | undefined

  /**
   * Requests made at once (the pod and its namespace) share one evaluation of the credentials, so an exec credential
   * plugin runs once per invocation, not once per request; after a minute they are asked again (tokens expire).
   */
  private async requestOptions(method: string, headers: Record<string, string>): Promise<https.RequestOptions> {
    if (!this.credentials || Date.now() - this.credentials.at > CREDENTIALS_FOR_MS) {
      this.credentials = {at: Date.now(), options: this.credentialOptions()}
      this.credentials.options.catch(() => (this.credentials = undefined))
    }
    const base = await this.credentials.options
    return {...base, method, headers: {...(base.headers as Record<string, string>), Accept: 'application/json', ...headers}}
  }

  private async credentialOptions(): Promise<https.RequestOptions> {
    const opts: https.RequestOptions = {headers: {}}
    const secure = this.server.startsWith('https:')
    try {
      await this.authority.apply(opts, secure)
      // One TLS connection for the whole session instead of a handshake per request (unless a proxy is in the way).
      if (secure && !this.authority.proxied) opts.agent = this.keepAlive(opts)
    } catch (error) {
      throw new MindbgError('permissionDenied', `cannot get credentials for context "${this.context}": ${firstLine((error as Error).message)}`, 'Check the user of this context in the kubeconfig (exec plugin, token, certificates).', {cause: error})
    }
    return opts
  }

  private agent: https.Agent | undefined

  private keepAlive(opts: https.RequestOptions): https.Agent {
    const {ca, cert, key, pfx, passphrase, rejectUnauthorized, servername} = opts
    this.agent ??= new httpsModule.Agent({keepAlive: true, ca, cert, key, pfx, passphrase, servername, ...(rejectUnauthorized === undefined ? {} : {rejectUnauthorized})})
    return this.agent
  }

  /** Lets the process exit without waiting for idle keep-alive connections to time out. */
  close(): void {
    this.agent?.destroy()
  }

  private unreachable(error: unknown): MindbgError {
    const code = (error as {code?: string}).code ?? ''
    if (error instanceof MindbgError) return error
    if (code === 'MINDBG_TIMEOUT') {
      return new MindbgError(
        'engineUnreachable',
        `the Kubernetes API server at ${this.server} did not answer within ${formatSeconds(this.requestTimeoutMs)}`,
        `Check the cluster in context "${this.context}" (kubectl cluster-info); wait longer with --request-timeout (0: no limit).`,
        {cause: error},
      )
    }
    if (TLS_TRUST_ERRORS.has(code)) {
      return new MindbgError(
        'engineUnreachable',
        `x509: the certificate of the Kubernetes API server at ${this.server} is not trusted (${code})`,
        `Check certificate-authority(-data) of the cluster of context "${this.context}" in the kubeconfig (kubectl config view --minify).`,
        {cause: error},
      )
    }
    return new MindbgError(
      'engineUnreachable',
      `cannot reach the Kubernetes API server at ${this.server} (${code || (error as Error).message})`,
      `Check the cluster in context "${this.context}" (kubectl cluster-info), your VPN, or --kubeconfig/--context.`,
      {cause: error},
    )
  }

  /** A request that goes unanswered for the request timeout (connect, TLS, headers, body) fails with MINDBG_TIMEOUT. */
  private bound(req: http.ClientRequest): void {
    if (this.requestTimeoutMs <= 0) return
    req.setTimeout(this.requestTimeoutMs, () => req.destroy(Object.assign(new Error('request timed out'), {code: 'MINDBG_TIMEOUT'})))
  }

  /** One request; answers parsed JSON, or throws KubeStatusError with the server's Status. */
  async request<T>(method: string, path: string, options: {body?: unknown; contentType?: string} = {}): Promise<T> {
    const body = await this.requestBuffer(method, path, options)
    return (body.length > 0 ? JSON.parse(body.toString('utf8')) : {}) as T
  }

  /** One request, the answer's bytes as they came (pods/log is text, possibly binary). */
  async requestBuffer(method: string, path: string, options: {body?: unknown; contentType?: string} = {}): Promise<Buffer> {
    const body = options.body === undefined ? undefined : JSON.stringify(options.body)
    // Content-Length always: Node frames a DELETE's body neither with it nor chunked, and the server would read the
    // body as the next request on the connection (DeleteOptions: preconditions, the grace period).
    const headers: Record<string, string> = body === undefined ? {} : {'Content-Type': options.contentType ?? 'application/json', 'Content-Length': String(Buffer.byteLength(body))}
    const opts = await this.requestOptions(method, headers)
    const url = new URL(this.server + path)
    const lib = url.protocol === 'https:' ? httpsModule : httpModule
    return new Promise<Buffer>((resolve, reject) => {
      const req = lib.request(url, opts, (res) => {
        if ((res.statusCode ?? 0) >= 300) {
          void statusError(res).then(reject)
          return
        }
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => resolve(Buffer.concat(chunks)))
      })
      this.bound(req)
      req.on('error', (error) => reject(this.unreachable(error)))
      req.end(body)
    })
  }

  /**
   * A streaming GET (watch, log follow): calls onLine for every line until the server ends the response, the
   * signal aborts, or an error occurs.
   */
  async stream(path: string, onLine: (line: string) => void, signal: AbortSignal): Promise<void> {
    const opts = await this.requestOptions('GET', {})
    const url = new URL(this.server + path)
    const lib = url.protocol === 'https:' ? httpsModule : httpModule
    await new Promise<void>((resolve, reject) => {
      const req = lib.request(url, {...opts, signal}, (res) => {
        // Once the watch is served, silence between events is normal: the overall deadline bounds it.
        res.socket?.setTimeout(0)
        if ((res.statusCode ?? 0) >= 300) {
          void statusError(res).then(reject)
          return
        }
        const lines = splitLines(onLine)
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => lines.push(chunk))
        res.on('end', () => {
          lines.end()
          resolve()
        })
        res.on('error', () => resolve())
      })
      this.bound(req)
      req.on('error', (error) => (signal.aborted ? resolve() : reject(this.unreachable(error))))
      req.end()
    })
  }

  /** Opens a WebSocket to a streaming subresource (attach, exec), offering the channel protocols in order. */
  async websocket(path: string, protocols: string[]): Promise<WsSocket> {
    const WebSocket = await deps.ws()
    const opts = await this.requestOptions('GET', {})
    const url = (this.server + path).replace(/^http/, 'ws')
    return new Promise<WsSocket>((resolve, reject) => {
      // A handshake the server never answers must not hold the session (or an attach attempt) forever.
      const ws = new WebSocket(url, protocols, {
        ...(opts as object),
        headers: opts.headers as Record<string, string>,
        handshakeTimeout: this.requestTimeoutMs || 30_000,
        // A zero mask: ws then sends the bytes as they are instead of XORing each one in JavaScript (without the
        // native bufferutil, ~1.2 s of CPU for 200 MB of input). Masking is there for browsers, against scripts that
        // would poison an intermediary's cache with frames of their choosing; no page's script writes to this stream.
        generateMask: zeroMask,
        // The API server does not compress these streams, nor does kubectl offer it.
        perMessageDeflate: false,
      })
      ws.once('open', () => resolve(ws))
      // The handshake's error body is the API server's Status: keep it, it says what went wrong.
      ws.once('unexpected-response', (_req, res) => void statusError(res).then(reject))
      ws.once('error', (error) => reject(this.unreachable(error)))
    })
  }
}

const zeroMask = (mask: Buffer): void => void mask.fill(0)

/**
 * A Status error in words: 401 and 403 name what to check and the verb and resource that were missing; other
 * codes keep the server's message. Anything that is not a Status error passes through.
 */
export function kubeError(error: unknown, needed: {namespace: string; verb: string; resource: string}): unknown {
  if (!(error instanceof KubeStatusError)) return error
  const {namespace, verb, resource} = needed
  if (error.code === 401) {
    return new MindbgError('permissionDenied', `the API server did not accept your credentials: ${error.status.message ?? 'Unauthorized'}`, 'Log in again (your token may have expired), or check --kubeconfig/--context.')
  }
  if (error.code === 403) {
    const where = namespace === '' ? 'in all namespaces' : `in namespace ${namespace}`
    return new MindbgError('permissionDenied', `forbidden: ${error.status.message ?? ''}`, `mindbg needs "${verb}" on ${resource} ${where}: kubectl auth can-i ${verb} ${resource}${namespace ? ` -n ${namespace}` : ' -A'}`)
  }
  return new MindbgError('internal', `the API server answered ${error.code} to ${verb} ${resource}: ${error.status.message ?? ''}`, 'Rerun with --debug for the full answer.', {cause: error})
}

/** An error response as KubeStatusError: the body is a Status, or at least some text worth showing. */
function statusError(res: http.IncomingMessage): Promise<KubeStatusError> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    res.on('data', (c: Buffer) => chunks.push(c))
    res.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8')
      let status: KubeStatus
      try {
        status = JSON.parse(text) as KubeStatus
      } catch {
        status = {message: text.trim() || `HTTP ${res.statusCode}`}
      }
      resolve(new KubeStatusError(res.statusCode ?? 0, status))
    })
  })
}

const TLS_TRUST_ERRORS = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_SIGNATURE_FAILURE',
])

const formatSeconds = (ms: number): string => `${Math.round(ms / 100) / 10} s`

export const podPath = (namespace: string, pod?: string, sub?: string): string =>
  `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods${pod ? `/${encodeURIComponent(pod)}` : ''}${sub ? `/${sub}` : ''}`
