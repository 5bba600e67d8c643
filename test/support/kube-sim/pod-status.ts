/**
 * Pod status from container states: what the kubelet's status manager computes (getPhase, the condition generators,
 * convertToAPIContainerStatuses). Pure functions, fed by the Docker backing with one ContainerView per container
 * (its current state, restartCount and lastState: the Docker backing restarts containers as the kubelet does).
 */
import {normalizeImage, qosClass} from './defaults.ts'
import type {Obj} from './store.ts'

export interface TerminatedView {
  state: 'terminated'
  exitCode: number
  reason: string
  message?: string
  startedAt: string
  finishedAt: string
  containerID?: string
  imageID?: string
}

/** What the kubelet knows of a container: its state, how often it was restarted, how the previous instance ended. */
export type ContainerView = (
  | {state: 'waiting'; reason: string; message?: string; containerID?: string; imageID?: string}
  | {state: 'running'; startedAt: string; containerID: string; imageID: string}
  | TerminatedView
) & {restartCount?: number; lastState?: TerminatedView}

export interface PodView {
  sandboxReady: boolean
  startTime?: string
  podIP?: string
  containers: Map<string, ContainerView>
  /** The kubelet failed the pod (activeDeadlineSeconds): phase Failed with this reason and message. */
  failed?: {reason: string; message: string}
}

const CREATING: ContainerView = {state: 'waiting', reason: 'ContainerCreating'}

function stateOf(v: ContainerView | TerminatedView): Obj {
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
    lastState: v.lastState ? stateOf(v.lastState) : {},
    // No probes: a running app container is ready. Init containers are ready once they succeeded.
    ready: kind === 'app' ? running : kind === 'init' ? v.state === 'terminated' && v.exitCode === 0 : false,
    restartCount: v.restartCount ?? 0,
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

/**
 * The kubelet's getPhase: a container waiting after an exit (CrashLoopBackOff) counts as stopped; all stopped is
 * Running under restartPolicy Always (they are being restarted), Succeeded if all succeeded, else Failed under Never
 * and Running under OnFailure; a failed init container fails the pod under Never only.
 */
function phaseOf(spec: Obj, view: PodView): string {
  if (view.failed) return 'Failed'
  let pendingInit = 0
  let failedInit = 0
  for (const c of spec.initContainers ?? []) {
    const v = view.containers.get(c.name) ?? CREATING
    const ended = v.state === 'terminated' ? v : v.state === 'waiting' ? v.lastState : undefined
    if (v.state === 'running' || !ended) pendingInit++
    else if (ended.exitCode !== 0) failedInit++
    if (v.state !== 'terminated' || v.exitCode !== 0) break // later ones have not started
  }
  let waiting = 0
  let running = 0
  let stopped = 0
  let succeeded = 0
  for (const c of spec.containers ?? []) {
    const v = view.containers.get(c.name) ?? CREATING
    if (v.state === 'running') running++
    else if (v.state === 'terminated') {
      stopped++
      if (v.exitCode === 0) succeeded++
    } else if (v.lastState) stopped++
    else waiting++
  }
  if (failedInit > 0 && spec.restartPolicy === 'Never') return 'Failed'
  if (pendingInit > 0 || failedInit > 0 || waiting > 0) return 'Pending'
  if (running > 0) return 'Running'
  if (spec.restartPolicy === 'Always' || spec.restartPolicy === undefined) return 'Running'
  if (stopped === succeeded) return 'Succeeded'
  return spec.restartPolicy === 'Never' ? 'Failed' : 'Running'
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
  // generateContainersReadyConditionForTerminalPhase: PodFailed or PodCompleted, no message.
  const readyReason = phase === 'Failed' ? 'PodFailed' : phase === 'Succeeded' ? 'PodCompleted' : 'ContainersNotReady'
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
  if (view.failed) {
    status.message = view.failed.message
    status.reason = view.failed.reason
  }
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
