/**
 * Resolving the `container` parameter of log/exec/attach the way the API server (streamLocation/LogLocation) and
 * then the kubelet do, with their error texts:
 *   400 a container name must be specified for pod web, choose one of: [a b] (or one of the init containers: [...])
 *   400 container x is not valid for pod web
 *   400 container "x" in pod "web" is waiting to start: ContainerCreating   (logs, from the kubelet)
 */
import {badRequest} from './status.ts'
import type {Obj} from './store.ts'

const names = (list: Obj[] | undefined): string => (list ?? []).map((c) => c.name).join(' ')

export function resolveContainerName(pod: Obj, requested: string | null): string {
  const name = pod.metadata.name
  if (!requested) {
    const containers: Obj[] = pod.spec?.containers ?? []
    if (containers.length === 1) return containers[0]!.name
    if (containers.length === 0) throw badRequest(`a container name must be specified for pod ${name}`)
    let msg = `a container name must be specified for pod ${name}, choose one of: [${names(containers)}]`
    if ((pod.spec?.initContainers ?? []).length > 0) msg += ` or one of the init containers: [${names(pod.spec.initContainers)}]`
    throw badRequest(msg)
  }
  const all = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? []), ...(pod.spec?.ephemeralContainers ?? [])]
  if (!all.some((c: Obj) => c.name === requested)) throw badRequest(`container ${requested} is not valid for pod ${name}`)
  return requested
}

/** The container's status entry (any of the three lists). */
export function containerStatusOf(pod: Obj, container: string): Obj | undefined {
  const s = pod.status ?? {}
  return [...(s.containerStatuses ?? []), ...(s.initContainerStatuses ?? []), ...(s.ephemeralContainerStatuses ?? [])]
    .find((c: Obj) => c.name === container)
}

/** kubelet validateContainerLogStatus: why logs cannot be read yet (undefined = they can). */
export function logsUnavailable(pod: Obj, container: string, previous: boolean): string | undefined {
  const st = containerStatusOf(pod, container)
  const podName = pod.metadata.name
  if (!st) return `container "${container}" in pod "${podName}" is waiting to start: ContainerCreating`
  if (previous) return st.lastState?.terminated ? undefined : `previous terminated container "${container}" in pod "${podName}" not found`
  const w = st.state?.waiting
  if (w && !st.containerID) {
    if (w.reason === 'ErrImagePull') return `container "${container}" in pod "${podName}" is waiting to start: trying and failing to pull image`
    if (w.reason === 'ImagePullBackOff' || w.reason === 'ErrImageNeverPull') {
      return `container "${container}" in pod "${podName}" is waiting to start: image can't be pulled`
    }
    return `container "${container}" in pod "${podName}" is waiting to start: ${w.reason}`
  }
  return undefined
}
