import {runningContainers} from '../../backends/docker/running.js'
import type {KubeApi, podPath as PodPath} from '../../backends/kubernetes/api.js'
import {kubeconfigFiles, loadKubeconfig} from '../../backends/kubernetes/kubeconfig.js'
import {builtInRunbooks} from '../../session/runbook.js'
import type {Candidate, CompletionSources, KubeScope} from './engine.js'

/**
 * How long one source (the Docker engine, the API server) may take before completion goes on without it: the shell
 * waits for the answer, so a hung engine must cost a fraction of a second, never the user's prompt.
 */
export const SOURCE_BUDGET_MS = 250

/** The work's candidates, or none when it fails or is not done within the budget: completion never reports errors. */
export async function withinBudget(work: (signal: AbortSignal) => Promise<Candidate[]>, budgetMs: number, onError: (error: unknown) => void): Promise<Candidate[]> {
  const stop = new AbortController()
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<Candidate[]>((resolve) => {
    timer = setTimeout(() => {
      stop.abort()
      onError(new Error(`no answer within ${budgetMs} ms`))
      resolve([])
    }, budgetMs)
  })
  const answer = work(stop.signal).catch((error: unknown) => {
    onError(error)
    return []
  })
  try {
    return await Promise.race([answer, late])
  } finally {
    clearTimeout(timer)
  }
}

interface PodList {
  items?: Array<{metadata?: {name?: string}; status?: {phase?: string}; spec?: {containers?: Array<{name?: string; image?: string}>}}>
}

interface NodeList {
  items?: Array<{metadata?: {name?: string}; status?: {conditions?: Array<{type?: string; status?: string}>}}>
}

const nodeReadiness = (node: NonNullable<NodeList['items']>[number]): string =>
  node.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True' ? 'Ready' : 'NotReady'

/** The live sources: the Docker engine's running containers, the cluster's pods and namespaces, the kubeconfig. */
export function liveSources(env: NodeJS.ProcessEnv, onError: (error: unknown) => void, budgetMs = SOURCE_BUDGET_MS): CompletionSources {
  const bounded = (work: (signal: AbortSignal) => Promise<Candidate[]>): Promise<Candidate[]> => withinBudget(work, budgetMs, onError)
  // One connection per scope and invocation: "k8s://" may ask for namespaces, then the pods of one.
  const connections = new Map<string, Promise<{api: KubeApi; podPath: typeof PodPath}>>()
  const connect = (scope: KubeScope): Promise<{api: KubeApi; podPath: typeof PodPath}> => {
    const key = JSON.stringify([scope.kubeconfig, scope.context, scope.namespace])
    let connection = connections.get(key)
    if (!connection) {
      // Loaded here, not at the top: completing a command name or a Docker target never loads the Kubernetes client.
      connection = import('../../backends/kubernetes/api.js').then(async ({KubeApi, podPath}) => ({api: await KubeApi.connect({...scope, requestTimeoutMs: budgetMs}), podPath}))
      connections.set(key, connection)
    }
    return connection
  }
  const kubeGet = async <T>(scope: KubeScope, path: (namespace: string, paths: typeof PodPath) => string): Promise<T> => {
    const {api, podPath} = await connect(scope)
    return api.request<T>('GET', path(api.namespace, podPath))
  }

  return {
    containers: () =>
      bounded(async (signal) => (await runningContainers(env, signal)).map((c) => ({value: c.name, description: `${c.image} (${c.status})`}))),
    pods: (scope) =>
      bounded(async () => {
        const list = await kubeGet<PodList>(scope, (namespace, podPath) => podPath(namespace))
        return (list.items ?? []).flatMap((p) => (p.metadata?.name ? [{value: p.metadata.name, description: p.status?.phase ?? ''}] : []))
      }),
    podContainers: (scope, pod) =>
      bounded(async () => {
        const found = await kubeGet<NonNullable<PodList['items']>[number]>(scope, (namespace, podPath) => podPath(namespace, pod))
        return (found.spec?.containers ?? []).flatMap((c) => (c.name ? [{value: c.name, description: c.image ?? ''}] : []))
      }),
    nodes: (scope) =>
      bounded(async () => {
        const list = await kubeGet<NodeList>(scope, () => '/api/v1/nodes')
        return (list.items ?? []).flatMap((n) => (n.metadata?.name ? [{value: n.metadata.name, description: nodeReadiness(n)}] : []))
      }),
    namespaces: (scope) =>
      bounded(async () => {
        const list = await kubeGet<PodList>(scope, () => '/api/v1/namespaces')
        return (list.items ?? []).flatMap((n) => (n.metadata?.name ? [{value: n.metadata.name}] : []))
      }),
    contexts: (scope) =>
      bounded(async () => {
        const config = await loadKubeconfig(scope.kubeconfig, env)
        return (config.contexts ?? []).map((c) => ({value: c.name, description: String(c.context.namespace ?? c.context.cluster ?? '')}))
      }),
    runbooks: () => builtInRunbooks().map((r) => ({value: r.name, description: r.description})),
    hasKubeconfig: (scope) => {
      try {
        return kubeconfigFiles(scope.kubeconfig, env).length > 0
      } catch {
        return false
      }
    },
  }
}
