import {existsSync, readFileSync} from 'node:fs'
import {homedir} from 'node:os'
import {dirname, isAbsolute, join} from 'node:path'

import {deps} from '../../deps.js'
import {firstLine, MindbgError} from '../../domain/errors.js'

/** A kubeconfig file as written (client-go's clientcmd/api/v1), only what mindbg looks at typed. */
export interface KubeconfigFile {
  'current-context'?: string
  clusters?: Array<{name: string; cluster: Record<string, unknown>}>
  users?: Array<{name: string; user: Record<string, unknown>}>
  contexts?: Array<{name: string; context: Record<string, unknown>}>
  [key: string]: unknown
}

const LISTS = ['clusters', 'users', 'contexts'] as const

/** Paths inside a kubeconfig are relative to the file that holds them (client-go's ResolvePaths). */
const PATH_FIELDS: Record<(typeof LISTS)[number], string[]> = {
  clusters: ['certificate-authority'],
  users: ['client-certificate', 'client-key', 'tokenFile'],
  contexts: [],
}

/**
 * The files to read, as kubectl picks them: --kubeconfig alone (it must exist); else every file of KUBECONFIG (the
 * platform's path list separator; missing ones are skipped, as kubectl does); else ~/.kube/config.
 */
export function kubeconfigFiles(explicit: string | undefined, env: NodeJS.ProcessEnv): string[] {
  if (explicit) {
    if (!existsSync(explicit)) throw configError(`the kubeconfig ${explicit} does not exist`)
    return [explicit]
  }
  const list = (env.KUBECONFIG ?? '').split(':').filter(Boolean)
  if (list.length > 0) return [...new Set(list)].filter((f) => existsSync(f))
  const home = join(env.HOME || homedir(), '.kube', 'config')
  return existsSync(home) ? [home] : []
}

/**
 * client-go's merging rules (clientcmd.ClientConfigLoadingRules.Load): files in order, and for every key the first
 * file that sets it wins: current-context, and each cluster, user and context by name (a later file's entry of the
 * same name is ignored, not an error). Relative paths are made absolute against their own file's directory; a
 * user's tokenFile is read into its token (the client library does not know the field).
 */
export function mergeKubeconfigs(files: Array<{path: string; config: KubeconfigFile}>): KubeconfigFile {
  const merged: Required<Pick<KubeconfigFile, (typeof LISTS)[number]>> & KubeconfigFile = {clusters: [], users: [], contexts: []}
  for (const {path, config} of files) {
    if (merged['current-context'] === undefined && config['current-context']) merged['current-context'] = config['current-context']
    for (const list of LISTS) {
      for (const entry of (config[list] ?? []) as unknown as Array<Record<string, unknown> & {name: string}>) {
        if (!entry?.name || merged[list].some((e) => e.name === entry.name)) continue
        const inner = list.slice(0, -1) // cluster, user, context
        const body = {...((entry[inner] as Record<string, unknown> | undefined) ?? {})}
        for (const field of PATH_FIELDS[list]) {
          const value = body[field]
          if (typeof value === 'string' && value && !isAbsolute(value)) body[field] = join(dirname(path), value)
        }
        merged[list].push({...entry, name: entry.name, [inner]: body} as never)
      }
    }
  }
  return merged
}

/** The kubeconfig as kubectl would see it, ready for the client library (`KubeConfig.loadFromString`). */
export async function loadKubeconfig(explicit: string | undefined, env: NodeJS.ProcessEnv): Promise<KubeconfigFile> {
  const files = kubeconfigFiles(explicit, env)
  if (files.length === 0) throw configError('no kubeconfig: neither --kubeconfig, KUBECONFIG nor ~/.kube/config names one')
  // KubeConfig's own parser (js-yaml), which comes with it at no cost: the yaml package would add ~30 ms.
  const parse = await deps.kubeconfigYaml()
  const parsed = files.map((path) => {
    let config: unknown
    try {
      config = parse(readFileSync(path, 'utf8')) ?? {}
    } catch (error) {
      throw configError(`the kubeconfig ${path} is not valid YAML: ${firstLine((error as Error).message)}`)
    }
    if (typeof config !== 'object' || Array.isArray(config)) throw configError(`the kubeconfig ${path} is not a mapping`)
    return {path, config: config as KubeconfigFile}
  })
  const merged = mergeKubeconfigs(parsed)
  for (const {user} of merged.users ?? []) {
    const file = user.tokenFile
    if (typeof file === 'string' && file && user.token === undefined) {
      try {
        user.token = readFileSync(file, 'utf8').trim()
      } catch (error) {
        throw configError(`the tokenFile ${file} cannot be read: ${(error as Error).message}`)
      }
    }
  }
  return merged
}

function configError(message: string): MindbgError {
  return new MindbgError('usage', message, 'Check --kubeconfig / KUBECONFIG and --context (kubectl config get-contexts).')
}

/**
 * The API server and credentials of one context, read from the merged kubeconfig without the client library, as its
 * KubeConfig would read them (loadFromString, then applyToHTTPSOptions): loading that library costs ~40 ms at every
 * command that talks to a cluster. `cluster` is undefined when the context names none that exists.
 */
export interface DirectConnection {
  context: string | undefined
  namespace: string | undefined
  cluster: {server: string; caFile?: string; caData?: string; skipTLSVerify: boolean; tlsServerName?: string} | undefined
  user: {certFile?: string; certData?: string; keyFile?: string; keyData?: string; token?: string; username?: string; password?: string; impersonate?: string}
}

/** A field as the library reads it: set when truthy. */
const text = (value: unknown): string | undefined => (value ? String(value) : undefined)

/**
 * The chosen context (`--context`, else current-context) of a merged kubeconfig, or 'client' where only the client
 * library knows what to do: an exec credential plugin or an auth provider (tokens it must fetch or refresh), a
 * proxy-url (its proxy agents), a context whose user is not defined (the library then applies no TLS settings at all),
 * a `token-file` (the library's spelling, read at load). Throws what KubeConfig would throw, in its words.
 */
export function directConnection(config: KubeconfigFile, contextName: string | undefined): DirectConnection | 'client' {
  // KubeConfig checks every entry on load, clusters first, then contexts (users need only a name, which merging made sure of).
  const clusters = config.clusters ?? []
  const contexts = config.contexts ?? []
  clusters.forEach((c, i) => {
    if (!c.cluster.server) throw new Error(`clusters[${i}].cluster.server is missing`)
  })
  contexts.forEach((c, i) => {
    if (!c.context.cluster) throw new Error(`contexts[${i}].context.cluster is missing`)
  })
  if (contextName && !contexts.some((c) => c.name === contextName)) throw new Error(`context "${contextName}" is not in the kubeconfig`)
  const name = contextName || config['current-context']
  const context = contexts.find((c) => c.name === name)?.context
  const entry = clusters.find((c) => c.name === context?.cluster)?.cluster
  const user = config.users?.find((u) => u.name === context?.user)?.user
  if (entry && !user) return 'client'
  if (user && (user.exec || user['auth-provider'] || (user['token-file'] && !user.token))) return 'client'
  if (entry?.['proxy-url']) return 'client'
  const cluster = entry && {
    server: String(entry.server).replace(/\/$/, ''),
    ...only('caFile', text(entry['certificate-authority'])),
    ...only('caData', text(entry['certificate-authority-data'])),
    skipTLSVerify: entry['insecure-skip-tls-verify'] === true,
    ...only('tlsServerName', text(entry['tls-server-name'])),
  }
  return {
    context: name,
    namespace: text(context?.namespace),
    cluster,
    user: {
      ...only('certFile', text(user?.['client-certificate'])),
      ...only('certData', text(user?.['client-certificate-data'])),
      ...only('keyFile', text(user?.['client-key'])),
      ...only('keyData', text(user?.['client-key-data'])),
      ...only('token', text(user?.token)),
      ...only('username', text(user?.username)),
      // As the library does: "user:undefined" when a username has no password.
      ...(text(user?.username) ? {password: String(user?.password)} : {}),
      // The library sends the header whenever the field is there, even empty.
      ...(user?.as != null ? {impersonate: String(user.as)} : {}),
    },
  }
}

const only = <K extends string>(key: K, value: string | undefined): {[P in K]?: string} => (value === undefined ? {} : ({[key]: value} as {[P in K]: string}))

/**
 * The TLS options and headers of a DirectConnection, as KubeConfig.applyToHTTPSOptions makes them: a file wins over
 * inline data (the file is read now, as the library does at each call); `auth` only for https servers.
 */
export function directRequestOptions(connection: DirectConnection, https: boolean): {ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized?: boolean; servername?: string; auth?: string; headers: Record<string, string>} {
  const {cluster, user} = connection
  const bytes = (file: string | undefined, data: string | undefined): Buffer | undefined => (file ? readFileSync(file) : data ? Buffer.from(data, 'base64') : undefined)
  const ca = bytes(cluster?.caFile, cluster?.caData)
  const cert = bytes(user.certFile, user.certData)
  const key = bytes(user.keyFile, user.keyData)
  const headers: Record<string, string> = {}
  if (user.impersonate !== undefined) headers['Impersonate-User'] = user.impersonate
  if (user.token) headers.Authorization = `Bearer ${user.token}`
  return {
    ...(cluster?.skipTLSVerify ? {rejectUnauthorized: false} : {}),
    ...(cluster?.tlsServerName ? {servername: cluster.tlsServerName} : {}),
    ...(ca ? {ca} : {}),
    ...(cert ? {cert} : {}),
    ...(key ? {key} : {}),
    ...(https && user.username ? {auth: `${user.username}:${user.password}`} : {}),
    headers,
  }
}
