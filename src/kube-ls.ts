import type {V1ContainerState, V1PodList} from '@kubernetes/client-node'

import {KubeApi, type KubeConnectOptions, kubeError} from './runtime/kube-api.js'
import {ENV_PREFIX, unverbatim} from './runtime/kube-spec.js'

/** A mindbg debugger in a pod, as `mindbg ls` shows it. Ephemeral containers stay in the pod spec forever. */
export interface KubeDebugger {
  namespace: string
  pod: string
  name: string
  target: string
  image: string
  state: string
  exitCode: number | null
  user: string
  started: string
  ageSeconds: number
  reason: string
  version: string
}

export async function listKubeDebuggers(options: KubeConnectOptions & {allNamespaces: boolean}): Promise<KubeDebugger[]> {
  const api = await KubeApi.connect(options)
  const path = options.allNamespaces ? '/api/v1/pods' : `/api/v1/namespaces/${encodeURIComponent(api.namespace)}/pods`
  let list: V1PodList
  try {
    list = await api.request<V1PodList>('GET', path)
  } catch (error) {
    throw kubeError(error, {namespace: options.allNamespaces ? '' : api.namespace, verb: 'list', resource: 'pods'})
  } finally {
    api.close()
  }
  const now = Date.now()
  const out: KubeDebugger[] = []
  for (const pod of list.items) {
    const statuses = new Map((pod.status?.ephemeralContainerStatuses ?? []).map((s) => [s.name, s]))
    for (const ec of pod.spec?.ephemeralContainers ?? []) {
      if (!ec.name.startsWith('mindbg-')) continue
      const env = new Map((ec.env ?? []).map((e) => [e.name, e.value ?? '']))
      const status = statuses.get(ec.name)
      const started = env.get(`${ENV_PREFIX}STARTED`) || toIso(status?.state?.running?.startedAt ?? status?.state?.terminated?.startedAt) || ''
      out.push({
        namespace: pod.metadata?.namespace ?? '',
        pod: pod.metadata?.name ?? '',
        name: ec.name,
        target: ec.targetContainerName ?? '',
        image: ec.image ?? '',
        state: describeState(status?.state),
        exitCode: status?.state?.terminated?.exitCode ?? null,
        user: env.get(`${ENV_PREFIX}USER`) ?? '',
        started,
        ageSeconds: started ? Math.max(0, Math.round((now - Date.parse(started)) / 1000)) : 0,
        reason: unverbatim(env.get(`${ENV_PREFIX}REASON`) ?? ''),
        version: env.get(`${ENV_PREFIX}VERSION`) ?? '',
      })
    }
  }
  return out
}

function describeState(state: V1ContainerState | undefined): string {
  if (state?.running) return 'running'
  if (state?.terminated) return `exited (${state.terminated.exitCode})`
  if (state?.waiting) return `waiting (${state.waiting.reason ?? 'unknown'})`
  return 'pending'
}

const toIso = (d: Date | string | undefined): string | undefined => (d === undefined ? undefined : new Date(d).toISOString())
