/**
 * Server-side printing. `kubectl get` asks for `Accept: application/json;as=Table;v=v1;g=meta.k8s.io,...` and prints
 * whatever columns the server returns: without this a plain PodList prints only NAME and AGE. The columns and the
 * STATUS/READY logic follow pkg/printers/internalversion/printers.go (printPod, printNamespace, printNode); the server always
 * generates the wide cells, kubectl hides priority-1 columns unless `-o wide`.
 * Also answers `as=PartialObjectMetadata[List]` (metadata-only clients).
 */
import type {IncomingMessage} from 'node:http'
import type {Obj, Resource} from './store.ts'

export type Representation = 'object' | 'table' | 'metadata'

/** Which representation the client asked for (the first acceptable one it lists). */
export function representationOf(req: IncomingMessage): Representation {
  const accept = String(req.headers.accept ?? '')
  for (const part of accept.split(',')) {
    const params = new Map(part.split(';').slice(1).map((p) => {
      const [k, v] = p.trim().split('=')
      return [k ?? '', v ?? ''] as [string, string]
    }))
    const as = params.get('as')
    if (!as) return 'object'
    if (params.get('g') !== 'meta.k8s.io' || (params.get('v') !== 'v1' && params.get('v') !== 'v1beta1')) continue
    if (as === 'Table') return 'table'
    if (as === 'PartialObjectMetadata' || as === 'PartialObjectMetadataList') return 'metadata'
  }
  return 'object'
}

/** duration.HumanDuration */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000)
  if (seconds < -1) return '<invalid>'
  if (seconds < 0) return '0s'
  if (seconds < 120) return `${seconds}s`
  const minutes = Math.floor(seconds / 60)
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`
  if (minutes < 180) return `${minutes}m`
  const hours = Math.floor(minutes / 60)
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`
  if (hours < 48) return `${hours}h`
  if (hours < 24 * 8) return hours % 24 === 0 ? `${hours / 24}d` : `${Math.floor(hours / 24)}d${hours % 24}h`
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`
  const years = Math.floor(hours / 24 / 365)
  const days = Math.floor(hours / 24) % 365
  if (hours < 24 * 365 * 8) return days === 0 ? `${years}y` : `${years}y${days}d`
  return `${years}y`
}

const age = (o: Obj): string => {
  const t = Date.parse(o.metadata?.creationTimestamp ?? '')
  return Number.isNaN(t) ? '<unknown>' : humanDuration(Date.now() - t)
}

const NAME_DESC = 'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names'
const AGE_DESC = 'CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata'

const COLUMNS: Record<Resource, object[]> = {
  pods: [
    {name: 'Name', type: 'string', format: 'name', description: NAME_DESC, priority: 0},
    {name: 'Ready', type: 'string', format: '', description: 'The aggregate readiness state of this pod for accepting traffic.', priority: 0},
    {name: 'Status', type: 'string', format: '', description: 'The aggregate status of the containers in this pod.', priority: 0},
    {name: 'Restarts', type: 'string', format: '', description: 'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.', priority: 0},
    {name: 'Age', type: 'string', format: '', description: AGE_DESC, priority: 0},
    {name: 'IP', type: 'string', format: '', description: 'podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.', priority: 1},
    {name: 'Node', type: 'string', format: '', description: 'NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for scheduling by the scheduler defined in schedulerName. Once this field is set, the kubelet for this node becomes responsible for the lifecycle of this pod. This field should not be used to express a desire for the pod to be scheduled on a specific node. https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodename', priority: 1},
    {name: 'Nominated Node', type: 'string', format: '', description: 'nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods. This field does not guarantee that the pod will be scheduled on this node. Scheduler may decide to place the pod elsewhere if other nodes become available sooner. Scheduler may also decide to give the resources on this node to a higher priority pod that is created after preemption. As a result, this field may be different than PodSpec.nodeName when the pod is scheduled.', priority: 1},
    {name: 'Readiness Gates', type: 'string', format: '', description: 'If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all its containers are ready AND all conditions specified in the readiness gates have status equal to "True" More info: https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates', priority: 1},
  ],
  namespaces: [
    {name: 'Name', type: 'string', format: 'name', description: NAME_DESC, priority: 0},
    {name: 'Status', type: 'string', format: '', description: 'The status of the namespace', priority: 0},
    {name: 'Age', type: 'string', format: '', description: AGE_DESC, priority: 0},
  ],
  nodes: [
    {name: 'Name', type: 'string', format: 'name', description: NAME_DESC, priority: 0},
    {name: 'Status', type: 'string', format: '', description: 'The status of the node', priority: 0},
    {name: 'Roles', type: 'string', format: '', description: 'The roles of the node', priority: 0},
    {name: 'Age', type: 'string', format: '', description: AGE_DESC, priority: 0},
    {name: 'Version', type: 'string', format: '', description: 'Kubelet Version reported by the node.', priority: 0},
    {name: 'Internal-IP', type: 'string', format: '', description: 'List of addresses reachable to the node. Queried from cloud provider, if available. More info: https://kubernetes.io/docs/reference/node/node-status/#addresses Note: This field is declared as mergeable, but the merge key is not sufficiently unique, which can cause data corruption when it is merged. Callers should instead use a full-replacement patch. See https://pr.k8s.io/79391 for an example. Consumers should assume that addresses can change during the lifetime of a Node. However, there are some exceptions where this may not be possible, such as Pods that inherit a Node\'s address in its own status or consumers of the downward API (status.hostIP).', priority: 1},
    {name: 'External-IP', type: 'string', format: '', description: 'List of addresses reachable to the node. Queried from cloud provider, if available. More info: https://kubernetes.io/docs/reference/node/node-status/#addresses Note: This field is declared as mergeable, but the merge key is not sufficiently unique, which can cause data corruption when it is merged. Callers should instead use a full-replacement patch. See https://pr.k8s.io/79391 for an example. Consumers should assume that addresses can change during the lifetime of a Node. However, there are some exceptions where this may not be possible, such as Pods that inherit a Node\'s address in its own status or consumers of the downward API (status.hostIP).', priority: 1},
    {name: 'OS-Image', type: 'string', format: '', description: 'OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).', priority: 1},
    {name: 'Kernel-Version', type: 'string', format: '', description: "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).", priority: 1},
    {name: 'Container-Runtime', type: 'string', format: '', description: 'ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).', priority: 1},
  ],
}

/** printNode: STATUS from the Ready condition (plus SchedulingDisabled), ROLES from node-role labels, the wide cells. */
function nodeCells(node: Obj): unknown[] {
  const ready = (node.status?.conditions ?? []).find((c: Obj) => c.type === 'Ready')
  const status = [ready?.status === 'True' ? 'Ready' : ready ? 'NotReady' : 'Unknown']
  if (node.spec?.unschedulable) status.push('SchedulingDisabled')
  const labels: Record<string, string> = node.metadata?.labels ?? {}
  const roles = new Set<string>()
  for (const [k, v] of Object.entries(labels)) {
    if (k.startsWith('node-role.kubernetes.io/')) roles.add(k.slice('node-role.kubernetes.io/'.length))
    else if (k === 'kubernetes.io/role' && v) roles.add(v)
  }
  const address = (type: string): string => (node.status?.addresses ?? []).find((a: Obj) => a.type === type)?.address ?? '<none>'
  const info: Obj = node.status?.nodeInfo ?? {}
  return [node.metadata.name, status.join(','), roles.size > 0 ? [...roles].sort().join(',') : '<none>', age(node),
    info.kubeletVersion ?? '', address('InternalIP'), address('ExternalIP'), info.osImage || '<unknown>',
    info.kernelVersion || '<unknown>', info.containerRuntimeVersion || '<unknown>']
}

/** When the container's previous instance ended (0: never restarted). */
const finishedAt = (c: Obj): number => {
  const t = Date.parse(c.lastState?.terminated?.finishedAt ?? '')
  return Number.isNaN(t) ? 0 : t
}

/** printPod: READY, STATUS (the reason logic), RESTARTS, AGE, then the wide cells. */
function podCells(pod: Obj): {cells: unknown[]; conditions?: object[]} {
  const status: Obj = pod.status ?? {}
  const phase: string = status.phase ?? ''
  let reason: string = status.reason || phase
  let restarts = 0
  let lastRestart = 0
  let ready = 0
  const total = (pod.spec?.containers ?? []).length
  let initializing = false
  const inits: Obj[] = status.initContainerStatuses ?? []
  for (let i = 0; i < inits.length; i++) {
    const c = inits[i]!
    restarts += c.restartCount ?? 0
    lastRestart = Math.max(lastRestart, finishedAt(c))
    const t = c.state?.terminated
    const w = c.state?.waiting
    if (t && t.exitCode === 0) continue
    if (t) reason = t.reason ? `Init:${t.reason}` : t.signal ? `Init:Signal:${t.signal}` : `Init:ExitCode:${t.exitCode}`
    else if (w?.reason && w.reason !== 'PodInitializing') reason = `Init:${w.reason}`
    else reason = `Init:${i}/${(pod.spec?.initContainers ?? []).length}`
    initializing = true
    break
  }
  const initialized = (status.conditions ?? []).some((c: Obj) => c.type === 'Initialized' && c.status === 'True')
  if (!initializing || initialized) {
    restarts = 0
    lastRestart = 0
    let hasRunning = false
    const statuses: Obj[] = status.containerStatuses ?? []
    for (let i = statuses.length - 1; i >= 0; i--) {
      const c = statuses[i]!
      restarts += c.restartCount ?? 0
      lastRestart = Math.max(lastRestart, finishedAt(c))
      const w = c.state?.waiting
      const t = c.state?.terminated
      if (w?.reason) reason = w.reason
      else if (t?.reason) reason = t.reason
      else if (t) reason = t.signal ? `Signal:${t.signal}` : `ExitCode:${t.exitCode}`
      else if (c.ready && c.state?.running) {
        hasRunning = true
        ready++
      }
    }
    if (reason === 'Completed' && hasRunning) {
      reason = (status.conditions ?? []).some((c: Obj) => c.type === 'Ready' && c.status === 'True') ? 'Running' : 'NotReady'
    }
  }
  if (pod.metadata?.deletionTimestamp && phase !== 'Succeeded' && phase !== 'Failed') reason = 'Terminating'
  const podIP = status.podIPs?.[0]?.ip || '<none>'
  // "3 (12s ago)": the restarts and how long since the last one ended, as printPod shows them.
  const restartCell = restarts !== 0 && lastRestart > 0 ? `${restarts} (${humanDuration(Date.now() - lastRestart)} ago)` : String(restarts)
  const cells = [pod.metadata.name, `${ready}/${total}`, reason, restartCell, age(pod), podIP,
    pod.spec?.nodeName || '<none>', status.nominatedNodeName || '<none>', '<none>']
  let conditions: object[] | undefined
  if (phase === 'Succeeded') conditions = [{type: 'Completed', status: 'True', reason: 'Succeeded', message: 'The pod has completed successfully.'}]
  if (phase === 'Failed') conditions = [{type: 'Completed', status: 'True', reason: 'Failed', message: 'The pod failed.'}]
  return conditions ? {cells, conditions} : {cells}
}

function rowObject(o: Obj, includeObject: string | null): object | undefined {
  if (includeObject === 'None') return undefined
  if (includeObject === 'Object') return o
  return {kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata}
}

export function toTable(resource: Resource, objects: Obj[], resourceVersion: string, includeObject: string | null, withColumns = true): object {
  const rows = objects.map((o) => {
    const {cells, conditions} = resource === 'pods'
      ? podCells(o)
      : resource === 'nodes' ? {cells: nodeCells(o), conditions: undefined}
        : {cells: [o.metadata.name, o.status?.phase ?? '', age(o)], conditions: undefined}
    const row: Obj = {cells}
    if (conditions) row.conditions = conditions
    const obj = rowObject(o, includeObject)
    if (obj) row.object = obj
    return row
  })
  const table: Obj = {kind: 'Table', apiVersion: 'meta.k8s.io/v1', metadata: {resourceVersion}}
  // A watch repeats the column definitions only in its first event, like the real server.
  if (withColumns) table.columnDefinitions = COLUMNS[resource]
  table.rows = rows
  return table
}

export const toPartialMetadata = (o: Obj): object => ({kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata})

export const toPartialMetadataList = (objects: Obj[], resourceVersion: string): object => ({
  kind: 'PartialObjectMetadataList', apiVersion: 'meta.k8s.io/v1', metadata: {resourceVersion},
  items: objects.map((o) => ({metadata: o.metadata})),
})
