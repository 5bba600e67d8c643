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
