import type {V1ContainerState, V1PodList} from '@kubernetes/client-node'

import {readIdentity} from '../../domain/session.js'
import type {DebuggerSummary} from '../backend.js'
import {type KubeApi, kubeError} from './api.js'
import {identityEnv, isMindbgDebugger} from './spec.js'

/** A mindbg debugger in a pod, as `mindbg ls` shows it. Ephemeral containers stay in the pod spec forever. */
export interface KubeDebugger extends DebuggerSummary {
  runtime: 'kubernetes'
  namespace: string
  pod: string
  exitCode: number | null
}

export async function listDebuggers(api: KubeApi, allNamespaces: boolean): Promise<KubeDebugger[]> {
  const path = allNamespaces ? '/api/v1/pods' : `/api/v1/namespaces/${encodeURIComponent(api.namespace)}/pods`
  let list: V1PodList
  try {
    list = await api.request<V1PodList>('GET', path)
  } catch (error) {
    throw kubeError(error, {namespace: allNamespaces ? '' : api.namespace, verb: 'list', resource: 'pods'})
  }
  const now = Date.now()
  const out: KubeDebugger[] = []
  for (const pod of list.items) {
    const statuses = new Map((pod.status?.ephemeralContainerStatuses ?? []).map((s) => [s.name, s]))
    const targets = new Map((pod.status?.containerStatuses ?? []).map((s) => [s.name, s]))
    for (const ec of pod.spec?.ephemeralContainers ?? []) {
      if (!isMindbgDebugger(ec)) continue
      const identity = readIdentity((field) => identityEnv(ec, field))
      const status = statuses.get(ec.name)
      const started = identity.started || toIso(status?.state?.running?.startedAt ?? status?.state?.terminated?.startedAt) || ''
      const namespace = pod.metadata?.namespace ?? ''
      const podName = pod.metadata?.name ?? ''
      out.push({
        runtime: 'kubernetes',
        namespace,
        pod: podName,
        location: `${namespace}/${podName}`,
        name: ec.name,
        target: ec.targetContainerName ?? '',
        image: ec.image ?? '',
        state: describeState(status?.state),
        targetState: ec.targetContainerName && targets.has(ec.targetContainerName) ? describeState(targets.get(ec.targetContainerName)?.state) : 'gone',
        exitCode: status?.state?.terminated?.exitCode ?? null,
        user: identity.user,
        started,
        ageSeconds: started ? Math.max(0, Math.round((now - Date.parse(started)) / 1000)) : 0,
        reason: identity.reason,
        version: identity.version,
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
