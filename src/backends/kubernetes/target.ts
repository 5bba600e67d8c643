import type {V1Pod} from '@kubernetes/client-node'

import type {Target, TargetState} from '../../domain/target.js'

/** A container of a pod, as found. */
export interface KubeTarget extends Target {
  runtime: 'kubernetes'
  namespace: string
  podName: string
  container: string
  pod: V1Pod
}

/** The state of a pod's container, as data: the pod's phase first, then the container's own state. */
export function describeTarget(pod: V1Pod, namespace: string, podName: string, container: string): Omit<Target, 'runtime'> {
  const name = `pod ${namespace}/${podName}, container ${container}`
  const imageId = pod.status?.containerStatuses?.find((s) => s.name === container)?.imageID
  const common = {
    name,
    id: pod.metadata?.uid ?? '',
    ref: `k8s://${namespace}/${podName}/${container}`,
    image: pod.spec?.containers.find((c) => c.name === container)?.image ?? '',
    ...(imageId ? {imageId} : {}),
    ...(pod.spec?.nodeName ? {node: pod.spec.nodeName} : {}),
  }
  const phase = pod.status?.phase
  const state = (s: TargetState, subject: string, stateDetail: string, stateHint: string): Omit<Target, 'runtime'> => ({
    ...common,
    state: s,
    stateDetail,
    stateMessage: `${subject} is not running (${stateDetail})`,
    stateHint,
  })
  if (phase !== 'Running') {
    return state(phase === 'Pending' ? 'pending' : 'stopped', `pod ${namespace}/${podName}`, `phase ${phase ?? 'unknown'}`, `Look at why: kubectl describe pod ${podName} -n ${namespace}`)
  }
  const status = pod.status?.containerStatuses?.find((s) => s.name === container)
  const subject = `container ${container} of pod ${podName}`
  if (status?.state?.running) return state('running', subject, 'running', '')
  const logs = `Look at its logs: kubectl logs ${podName} -c ${container} -n ${namespace}`
  if (status?.state?.terminated) return state('stopped', subject, `terminated, exit code ${status.state.terminated.exitCode}`, logs)
  const waiting = status?.state?.waiting?.reason
  return state(waiting === 'CrashLoopBackOff' ? 'restarting' : 'pending', subject, waiting ?? 'not started', logs)
}

