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
/** A container running again for less than this, after a run as short, counts as crash-looping, not as running. */
export const FLAPPING_MS = 10_000

export function describeTarget(pod: V1Pod, namespace: string, podName: string, container: string, now = Date.now()): Omit<Target, 'runtime'> {
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
  const logs = `Look at its logs: kubectl logs ${podName} -c ${container} -n ${namespace}`
  // An ephemeral container joins a running container's namespaces: one that crashes has none to join between its runs.
  const copy = `An ephemeral container cannot join a container that is not running: debug a copy whose entrypoint waits for you, mindbg attach pod/${podName} -n ${namespace} -c ${container} --copy-to ${podName}-debug --hold (${logs.replace('Look at its logs: ', 'logs: ')} --previous)`
  const restarts = status?.restartCount ?? 0
  if (status?.state?.running) {
    // Restarted a moment ago, again, after a run that was short too: a crash loop, most likely gone again before a
    // debugger could join it (the kubelet's back-off between two runs is 10 s and more). One crash is not a loop, nor
    // is a long run that ended.
    const ms = (d: Date | string | undefined): number => (d === undefined ? NaN : new Date(d).getTime())
    const upMs = now - ms(status.state.running.startedAt)
    const last = status.lastState?.terminated
    const lastRunMs = ms(last?.finishedAt) - ms(last?.startedAt)
    if (restarts > 1 && last && upMs < FLAPPING_MS && lastRunMs < FLAPPING_MS) {
      return state('restarting', subject, `restarted ${(Math.max(0, upMs) / 1000).toFixed(1)} s ago after exit code ${last.exitCode}, ${restarts} restart${restarts === 1 ? '' : 's'}: crash-looping`, copy)
    }
    return state('running', subject, 'running', '')
  }
  const waiting = status?.state?.waiting?.reason
  if (waiting === 'CrashLoopBackOff') return state('restarting', subject, `CrashLoopBackOff, ${restarts} restart${restarts === 1 ? '' : 's'}`, copy)
  if (status?.state?.terminated) {
    const detail = `terminated, exit code ${status.state.terminated.exitCode}${restarts > 0 ? `, ${restarts} restart${restarts === 1 ? '' : 's'}` : ''}`
    return state(restarts > 0 ? 'restarting' : 'stopped', subject, detail, copy)
  }
  return state('pending', subject, waiting ?? 'not started', restarts > 0 ? copy : logs)
}

