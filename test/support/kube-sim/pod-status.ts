/**
 * Pod status from container states: what the kubelet's status manager computes (getPhase, the condition generators,
 * convertToAPIContainerStatuses). Pure functions, fed by the Docker backing with one ContainerView per container.
 *
 * Deliberate simplification: containers are never restarted (restartCount stays 0), so a pod whose containers have
 * all exited is Succeeded/Failed whatever its restartPolicy (a kubelet would restart them under Always/OnFailure).
 */
import {normalizeImage, qosClass} from './defaults.ts'
import type {Obj} from './store.ts'

export type ContainerView =
  | {state: 'waiting'; reason: string; message?: string; containerID?: string; imageID?: string}
  | {state: 'running'; startedAt: string; containerID: string; imageID: string}
  | {state: 'terminated'; exitCode: number; reason: string; message?: string; startedAt: string; finishedAt: string;
    containerID?: string; imageID?: string}

export interface PodView {
  sandboxReady: boolean
  startTime?: string
  podIP?: string
  containers: Map<string, ContainerView>
}

const CREATING: ContainerView = {state: 'waiting', reason: 'ContainerCreating'}

function stateOf(v: ContainerView): Obj {
  switch (v.state) {
    case 'waiting': {
      const w: Obj = {reason: v.reason}
      if (v.message) w.message = v.message
      return {waiting: w}
    }
    case 'running':
      return {running: {startedAt: v.startedAt}}
    case 'terminated': {
      const t: Obj = {exitCode: v.exitCode, reason: v.reason}
      if (v.message) t.message = v.message
      t.startedAt = v.startedAt
      t.finishedAt = v.finishedAt
      if (v.containerID) t.containerID = v.containerID
      return {terminated: t}
    }
  }
}

/** One ContainerStatus, fields in the Go struct's order. */
function containerStatus(spec: Obj, v: ContainerView, kind: 'init' | 'app' | 'ephemeral'): Obj {
  const running = v.state === 'running'
  const s: Obj = {
    name: spec.name,
    state: stateOf(v),
    lastState: {},
    // No probes: a running app container is ready. Init containers are ready once they succeeded.
    ready: kind === 'app' ? running : kind === 'init' ? v.state === 'terminated' && v.exitCode === 0 : false,
    restartCount: 0,
    image: normalizeImage(String(spec.image ?? '')),
    imageID: v.imageID ?? '',
  }
  if (v.containerID) s.containerID = v.containerID
  if (kind !== 'ephemeral') s.started = running
  return s
}

function condition(previous: Obj[] | undefined, type: string, ok: boolean, now: string, reason?: string, message?: string): Obj {
  const status = ok ? 'True' : 'False'
  const before = previous?.find((c) => c.type === type)
  const c: Obj = {type, status, lastProbeTime: null,
    lastTransitionTime: before && before.status === status ? before.lastTransitionTime : now}
  if (!ok && reason) c.reason = reason
  if (!ok && message) c.message = message
  return c
}

/** getPhase, without restarts (see the file comment). */
function phaseOf(spec: Obj, view: PodView): string {
  for (const c of spec.initContainers ?? []) {
    const v = view.containers.get(c.name) ?? CREATING
    if (v.state === 'terminated' && v.exitCode === 0) continue
    if (v.state === 'terminated' && spec.restartPolicy === 'Never') return 'Failed'
    return 'Pending'
  }
  let waiting = 0
  let running = 0
  let failed = 0
  for (const c of spec.containers ?? []) {
    const v = view.containers.get(c.name) ?? CREATING
    if (v.state === 'waiting') waiting++
    else if (v.state === 'running') running++
    else if (v.exitCode !== 0) failed++
  }
  if (waiting > 0) return 'Pending'
  if (running > 0) return 'Running'
  return failed > 0 ? 'Failed' : 'Succeeded'
}

const ts = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z')

export function computeStatus(pod: Obj, view: PodView, now: Date): Obj {
  const spec: Obj = pod.spec ?? {}
  const prev: Obj[] | undefined = pod.status?.conditions
  const nowText = ts(now)
  const phase = phaseOf(spec, view)
  const done = phase === 'Succeeded' || phase === 'Failed'

  const inits: Obj[] = spec.initContainers ?? []
  const incompleteInit = inits.filter((c) => {
    const v = view.containers.get(c.name)
    return !(v?.state === 'terminated' && v.exitCode === 0)
  }).map((c) => c.name)
  const unready = (spec.containers ?? []).filter((c: Obj) => view.containers.get(c.name)?.state !== 'running').map((c: Obj) => c.name)
  const readyReason = done ? 'PodCompleted' : 'ContainersNotReady'
  const readyMessage = done ? undefined : `containers with unready status: [${unready.join(' ')}]`

  const status: Obj = {phase}
  status.conditions = [
    condition(prev, 'PodReadyToStartContainers', view.sandboxReady && !done, nowText),
    condition(prev, 'Initialized', incompleteInit.length === 0, nowText, 'ContainersNotInitialized',
      `containers with incomplete status: [${incompleteInit.join(' ')}]`),
    condition(prev, 'Ready', unready.length === 0 && !done, nowText, readyReason, readyMessage),
    condition(prev, 'ContainersReady', unready.length === 0 && !done, nowText, readyReason, readyMessage),
    condition(prev, 'PodScheduled', true, nowText),
  ]
  status.hostIP = '127.0.0.1'
  status.hostIPs = [{ip: '127.0.0.1'}]
  if (view.sandboxReady && view.podIP) {
    status.podIP = view.podIP
    status.podIPs = [{ip: view.podIP}]
  }
  if (view.startTime) status.startTime = view.startTime
  if (inits.length > 0) {
    status.initContainerStatuses = inits.map((c) => containerStatus(c, view.containers.get(c.name) ?? CREATING, 'init'))
  }
  status.containerStatuses = (spec.containers ?? []).map((c: Obj) => containerStatus(c, view.containers.get(c.name) ?? CREATING, 'app'))
  status.qosClass = qosClass(spec)
  const ecs: Obj[] = spec.ephemeralContainers ?? []
  if (ecs.length > 0) {
    status.ephemeralContainerStatuses = ecs.map((c) => containerStatus(c, view.containers.get(c.name) ?? CREATING, 'ephemeral'))
  }
  return status
}

/** The status a pod has before the (simulated) kubelet first sees it. */
export function initialStatus(pod: Obj): Obj {
  return {phase: 'Pending', qosClass: qosClass(pod.spec ?? {})}
}

export {ts as timestamp}
