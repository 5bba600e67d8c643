import type {V1ContainerStatus, V1Pod, V1PodList} from '@kubernetes/client-node'

import {MindbgError} from '../../domain/errors.js'
import type {Reporter} from '../../domain/reporter.js'
import {identityEntries, type IdentityField, readIdentity, type SessionIdentity} from '../../domain/session.js'
import type {DebuggerSummary, PrunedDebugger} from '../backend.js'
import {startWatchdog, type Watchdog} from '../watchdog.js'
import {type KubeApi, kubeError, KubeStatusError, podPath} from './api.js'
import {type PodVerdict, WatchCancelled, watchPod} from './watch.js'

/**
 * Pods that mindbg creates for a session (a copy of a pod with `attach --copy-to`, a node debugger for `attach
 * node/NAME`) and must delete on every path. The API:
 *
 *   const manifest = ownedPodManifest({pod, role: 'copy', session, identity})   // pure: labels, annotations, deadline
 *   const owned = await OwnedPod.create(api, manifest, reporter)                 // watchdog armed, then POST
 *   try { await owned.waitRunning('mindbg-xxxxx', {timeoutMs, signal, reporter}) ... }
 *   finally { await owned.delete() }                                             // or owned.keep(): how to delete it
 *
 * and, for `mindbg ls`/`prune`, listOwnedPods / pruneOwnedPods. Lifetime, from the normal path to the worst:
 *  - the session deletes it when it ends (an exit, an error, Ctrl-C/SIGTERM: the session's end() runs on all of them);
 *  - SIGKILL of mindbg: a detached watchdog (../watchdog.ts) holds a pipe only mindbg writes; when the kernel closes
 *    it, the watchdog becomes ./kube-reaper.ts, which DELETEs the pod with the same kubeconfig, context and
 *    namespace (and waits for a create still in flight). From the single executable too (its reaper role);
 *  - the laptop is gone (no reaper can reach the API server): what runs in the pod ends by itself - the debugger's
 *    wrapper ends with its attach stream, and the pod's own users arrange that the rest ends with it (a copy's
 *    debugger kills the pod's processes, see ./copy.ts) - and `activeDeadlineSeconds` is the hard upper bound;
 *  - what is left is a finished pod (Succeeded, Failed, DeadlineExceeded): `mindbg prune` deletes those.
 * A heartbeat that lowers activeDeadlineSeconds was weighed and not taken: the field can only be decreased, so the
 * heartbeat would have to start low and keep patching (one write per pod per interval, and a pod killed whenever the
 * laptop sleeps), and a Failed pod is residue all the same.
 */

/** Labels and annotations of every pod mindbg owns (label keys need a DNS prefix: mindbg.org, as Docker's org.mindbg.*). */
export const OWNED = {
  /** Which feature made it: "copy" (attach --copy-to), "node" (attach node/NAME). The selector of ls and prune. */
  role: 'mindbg.org/role',
  /** The session's random id: the reaper deletes only the pod of its own session. */
  session: 'mindbg.org/session',
  /** Annotation: "true" once a session kept it (--keep): `prune` leaves it unless --all. */
  kept: 'mindbg.org/kept',
  /** Annotation: the pod it is a copy of (copies only). */
  copyOf: 'mindbg.org/copy-of',
  /** Annotation: "true" when the session was asked to keep it (--keep, --replace): a re-attached session leaves it too. */
  keepCopy: 'mindbg.org/keep-copy',
} as const

export type OwnedRole = 'copy' | 'node'

/** Who made it and why, as annotations (values may hold anything; labels may not). */
const identityAnnotation = (field: IdentityField): string => `mindbg.org/${field}`

/**
 * The hard upper bound on an owned pod's life when neither the session nor its reaper could delete it: twelve hours,
 * a working day of one session. The API lets it be lowered later, never raised, so it is generous.
 */
export const OWNED_POD_DEADLINE_SECONDS = 12 * 3600

export interface OwnedPodInput {
  /** The pod to create: metadata.name and namespace set, spec complete. */
  pod: V1Pod
  role: OwnedRole
  session: string
  identity: SessionIdentity
  /** Annotations of mindbg's own to add (OWNED.copyOf). */
  annotations?: Record<string, string>
  /** activeDeadlineSeconds; undefined: OWNED_POD_DEADLINE_SECONDS (a smaller one in the pod is kept); null: none. */
  deadlineSeconds?: number | null | undefined
}

/** Pure: the pod with mindbg's labels and annotations and its deadline, ready to be created. */
export function ownedPodManifest(input: OwnedPodInput): V1Pod {
  const {pod, role, session, identity} = input
  const meta = pod.metadata ?? {}
  const spec = {...pod.spec!}
  const bound = input.deadlineSeconds === undefined ? OWNED_POD_DEADLINE_SECONDS : input.deadlineSeconds
  if (bound === null) delete spec.activeDeadlineSeconds
  else spec.activeDeadlineSeconds = Math.min(bound, spec.activeDeadlineSeconds ?? bound)
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    ...pod,
    metadata: {
      ...meta,
      labels: {...meta.labels, [OWNED.role]: role, [OWNED.session]: session},
      annotations: {...meta.annotations, ...Object.fromEntries(identityEntries(identity, identityAnnotation)), ...input.annotations},
    },
    spec,
  }
}

export const isOwnedPod = (pod: V1Pod): boolean => pod.metadata?.labels?.[OWNED.role] !== undefined

/** The reaper's arguments: how to connect, then which pod of which session; the watchdog appends the state. */
export function reaperArgs(options: {kubeconfig?: string | undefined; context?: string | undefined}, context: string, namespace: string, name: string, session: string): string[] {
  return [...(options.kubeconfig ? ['--kubeconfig', options.kubeconfig] : []), '--context', options.context ?? context, namespace, name, session]
}

const REAPER = {script: new URL('./kube-reaper.js', import.meta.url), role: 'kubernetes'}

/** Waiting reasons of a container that will not start without someone changing something. */
const IMAGE_UNAVAILABLE = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull'])
const CONFIG_ERROR = new Set(['CreateContainerConfigError', 'CreateContainerError', 'RunContainerError'])

/** A pod this session created; deleted by `delete()` (idempotent), or by its watchdog's reaper if mindbg dies first. */
export class OwnedPod {
  private deleted: Promise<void> | undefined
  private kept = false

  private constructor(
    private readonly api: KubeApi,
    readonly namespace: string,
    readonly name: string,
    readonly uid: string,
    /** The pod as the server created it. */
    readonly created: V1Pod,
    private readonly watchdog: Watchdog,
  ) {}

  /**
   * Arms a watchdog, then creates the pod. Errors in words: a name already taken (409), Pod Security and other
   * admission refusals (403), an invalid spec (422), permissions.
   */
  static async create(api: KubeApi, manifest: V1Pod): Promise<OwnedPod> {
    const namespace = manifest.metadata?.namespace ?? api.namespace
    const name = manifest.metadata?.name ?? ''
    const session = manifest.metadata?.labels?.[OWNED.session] ?? ''
    const watchdog = startWatchdog(REAPER, reaperArgs(api.connectOptions, api.context, namespace, name, session))
    watchdog.creating()
    let pod: V1Pod
    try {
      pod = await api.request<V1Pod>('POST', podPath(namespace), {body: manifest})
    } catch (error) {
      // An answer means nothing was created; no answer (a dropped connection) may mean it was: the reaper looks.
      if (error instanceof KubeStatusError) watchdog.release()
      else await api.request('DELETE', podPath(namespace, name)).then(() => watchdog.release(), () => {})
      throw createError(error, namespace, name)
    }
    watchdog.created(pod.metadata?.uid ?? '')
    return new OwnedPod(api, namespace, name, pod.metadata?.uid ?? '', pod, watchdog)
  }

  /**
   * Waits until `container` runs (or has already ended: `terminated` in the answer), telling what the kubelet says
   * meanwhile. Fails at once on what will not pass by itself: the pod finished or was deleted, an init container
   * failed, a config error; an image that cannot be pulled or a pod that cannot be scheduled is reported and waited
   * for until the timeout (a node may come, an image may be pushed), then named in the error.
   */
  async waitRunning(container: string, options: {timeoutMs: number; signal: AbortSignal; reporter: Reporter}): Promise<{pod: V1Pod; status: V1ContainerStatus}> {
    const said = new Set<string>()
    let last = ''
    let lastReason = ''
    const tell = (text: string, reason: string): void => {
      last = text
      lastReason = reason
      if (said.has(text)) return
      said.add(text)
      options.reporter.notice(`mindbg: pod ${this.name}: ${text}`)
    }
    let failedLog: string | undefined
    // A failure is a verdict too (the watch's callback must not throw): thrown once the watch has ended.
    const judge = (pod: V1Pod): PodVerdict<{pod: V1Pod; status: V1ContainerStatus} | MindbgError> => {
      if (options.signal.aborted) return {done: false}
      const verdict = podProgress(pod, container)
      if (verdict.kind === 'ready') return {done: true, value: {pod, status: verdict.status}}
      if (verdict.kind === 'failed') {
        failedLog = verdict.logOf
        return {done: true, value: verdict.error}
      }
      if (verdict.text) tell(verdict.text, verdict.reason)
      return {done: false}
    }
    try {
      const outcome = await watchPod(this.api, this.namespace, this.name, judge, {
        timeoutMs: options.timeoutMs,
        signal: options.signal,
        onError: (error) => (error instanceof MindbgError ? error : kubeError(error, {namespace: this.namespace, verb: 'watch', resource: 'pods'})),
        onTimeout: () =>
          new MindbgError(
            IMAGE_UNAVAILABLE.has(lastReason) ? 'imageUnavailable' : 'sidecarFailed',
            `pod ${this.namespace}/${this.name} did not run ${container} within ${Math.round(options.timeoutMs / 1000)} s${last ? ` (${last})` : ''}`,
            IMAGE_UNAVAILABLE.has(lastReason)
              ? `Check the image name and that the node can pull it; wait longer with --timeout.`
              : `Look at the pod: kubectl describe pod ${this.name} -n ${this.namespace}; wait longer with --timeout.`,
          ),
      })
      if (!(outcome instanceof MindbgError)) return outcome
      // The pod is deleted right after: what the failed container said is shown now, or never.
      if (failedLog === undefined) throw outcome
      const log = await this.api.requestBuffer('GET', `${podPath(this.namespace, this.name, 'log')}?container=${encodeURIComponent(failedLog)}&tailLines=3`).catch(() => Buffer.alloc(0))
      const said = log.toString('utf8').trim().split('\n').filter(Boolean).join(' / ')
      throw said ? new MindbgError('sidecarFailed', `${outcome.message}: ${said}`, outcome.hint) : outcome
    } catch (error) {
      if (error instanceof WatchCancelled) throw new MindbgError('sidecarFailed', `stopped while waiting for pod ${this.name} to start`)
      throw error
    }
  }

  /** Deletes it (a grace period of 1 s: its processes get SIGTERM, then SIGKILL) and lets the watchdog go. Idempotent. */
  delete(): Promise<void> {
    if (this.kept) return Promise.resolve()
    this.deleted ??= deleteOwnedPod(this.api, this.namespace, this.name, this.uid).then(
      () => this.watchdog.release(),
      // Not deleted (the API server is unreachable): the watchdog stays armed and tries once mindbg is gone.
      () => {},
    )
    return this.deleted
  }

  /** The session keeps it (--keep, a detach): marked kept, the watchdog let go; returns how to delete it. */
  async keep(): Promise<string> {
    this.kept = true
    this.watchdog.release()
    await this.api
      .request('PATCH', podPath(this.namespace, this.name), {body: {metadata: {annotations: {[OWNED.kept]: 'true'}}}, contentType: 'application/merge-patch+json'})
      .catch(() => {})
    return `kubectl delete pod ${this.name} -n ${this.namespace}`
  }
}

/** What a pod's state says about waiting for one of its containers (pure). */
export type PodProgress = {kind: 'ready'; status: V1ContainerStatus} | {kind: 'waiting'; text: string; reason: string} | {kind: 'failed'; error: MindbgError; logOf?: string}

export function podProgress(pod: V1Pod, container: string): PodProgress {
  const name = pod.metadata?.name ?? ''
  const ns = pod.metadata?.namespace ?? ''
  const describe = `kubectl describe pod ${name} -n ${ns}`
  const status = pod.status?.containerStatuses?.find((s) => s.name === container)
  if (status?.state?.running || status?.state?.terminated) return {kind: 'ready', status}
  if (pod.metadata?.deletionTimestamp) return {kind: 'failed', error: new MindbgError('sidecarFailed', `pod ${ns}/${name} is being deleted`, describe)}
  for (const init of pod.status?.initContainerStatuses ?? []) {
    const t = init.state?.terminated
    if (t && t.exitCode !== 0) {
      const error = new MindbgError('sidecarFailed', `init container ${init.name} of pod ${ns}/${name} failed (exit code ${t.exitCode}${t.reason ? `, ${t.reason}` : ''})`, `See why: kubectl logs ${name} -c ${init.name} -n ${ns}`)
      return {kind: 'failed', error, logOf: init.name}
    }
    const w = waitingOf(init, `init container ${init.name}`)
    if (w) return w
  }
  const phase = pod.status?.phase
  if (phase === 'Succeeded' || phase === 'Failed') {
    const why = pod.status?.reason ? `${pod.status.reason}${pod.status.message ? `: ${pod.status.message}` : ''}` : `phase ${phase}`
    return {kind: 'failed', error: new MindbgError('sidecarFailed', `pod ${ns}/${name} ended before ${container} ran (${why})`, describe)}
  }
  const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled')
  if (scheduled?.status === 'False') {
    return {kind: 'waiting', text: `cannot be scheduled${scheduled.message ? `: ${scheduled.message}` : ''}`, reason: scheduled.reason ?? 'Unschedulable'}
  }
  const w = status ? waitingOf(status, `container ${container}`) : undefined
  return w ?? {kind: 'waiting', text: '', reason: ''}
}

function waitingOf(status: V1ContainerStatus, subject: string): PodProgress | undefined {
  const waiting = status.state?.waiting
  if (!waiting?.reason || waiting.reason === 'ContainerCreating' || waiting.reason === 'PodInitializing') return undefined
  const text = `${subject} is waiting: ${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}`
  if (CONFIG_ERROR.has(waiting.reason)) return {kind: 'failed', error: new MindbgError('sidecarFailed', text, 'Check the pod spec (rerun with --dry-run to see it).')}
  return {kind: 'waiting', text, reason: waiting.reason}
}

/** DELETE with the uid as precondition (never another pod of the same name); gone already is fine. */
export async function deleteOwnedPod(api: KubeApi, namespace: string, name: string, uid: string | undefined): Promise<void> {
  try {
    await api.request('DELETE', podPath(namespace, name), {body: {kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 1, ...(uid ? {preconditions: {uid}} : {})}})
  } catch (error) {
    if (error instanceof KubeStatusError && (error.code === 404 || error.code === 409)) return
    throw kubeError(error, {namespace, verb: 'delete', resource: 'pods'})
  }
}

function createError(error: unknown, namespace: string, name: string): unknown {
  if (!(error instanceof KubeStatusError)) return error
  const message = error.status.message ?? ''
  if (error.code === 409) return new MindbgError('usage', `pod ${namespace}/${name} already exists`, 'Pick another name, or --replace to delete it first.')
  if (error.code === 403 && /violates PodSecurity/i.test(message)) return new MindbgError('sidecarFailed', `Pod Security refused the pod: ${message}`, 'Rerun with --dry-run to see the spec; a stricter policy than Pod Security may be in place.')
  if (error.code === 422) {
    const causes = (error.status.details?.causes ?? []).map((c) => `${c.field ?? ''}: ${c.message ?? c.reason ?? ''}`)
    return new MindbgError('sidecarFailed', `the API server rejected pod ${name}: ${causes.join('; ') || message}`, 'Rerun with --dry-run to see the spec (and --debug for the full answer).', {cause: error})
  }
  return kubeError(error, {namespace, verb: 'create', resource: 'pods'})
}

/** A pod mindbg owns, as `mindbg ls` shows it. */
export interface OwnedPodSummary extends DebuggerSummary {
  runtime: 'kubernetes'
  namespace: string
  pod: string
  role: string
  kept: boolean
  phase: string
}

async function ownedPods(api: KubeApi, allNamespaces: boolean): Promise<V1Pod[]> {
  const base = allNamespaces ? '/api/v1/pods' : podPath(api.namespace)
  try {
    return (await api.request<V1PodList>('GET', `${base}?labelSelector=${encodeURIComponent(OWNED.role)}`)).items
  } catch (error) {
    throw kubeError(error, {namespace: allNamespaces ? '' : api.namespace, verb: 'list', resource: 'pods'})
  }
}

export async function listOwnedPods(api: KubeApi, allNamespaces: boolean): Promise<OwnedPodSummary[]> {
  const now = Date.now()
  return (await ownedPods(api, allNamespaces)).map((pod) => {
    const a = pod.metadata?.annotations ?? {}
    const identity = readIdentity((field) => a[identityAnnotation(field)])
    const namespace = pod.metadata?.namespace ?? ''
    const name = pod.metadata?.name ?? ''
    const phase = pod.metadata?.deletionTimestamp ? 'Terminating' : (pod.status?.phase ?? 'Pending')
    return {
      runtime: 'kubernetes',
      namespace,
      pod: name,
      location: `${namespace}/${name}`,
      name,
      role: pod.metadata?.labels?.[OWNED.role] ?? '',
      kept: a[OWNED.kept] === 'true',
      phase,
      target: a[OWNED.copyOf] ?? (pod.metadata?.labels?.[OWNED.role] === 'node' && pod.spec?.nodeName ? `node/${pod.spec.nodeName}` : (pod.spec?.nodeName ?? '')),
      image: pod.spec?.containers.map((c) => c.image).join(',') ?? '',
      state: `pod ${phase}${a[OWNED.kept] === 'true' ? ', kept' : ''}`,
      targetState: 'running',
      user: identity.user,
      started: identity.started,
      ageSeconds: identity.started ? Math.max(0, Math.round((now - Date.parse(identity.started)) / 1000)) : 0,
      reason: identity.reason,
      version: identity.version,
    }
  })
}

/**
 * Why an owned pod is an orphan, or undefined if a session may still use it: finished, or its session's debugger
 * (a container named mindbg-*) has ended. A kept pod is the user's: only --all prunes it.
 */
export function ownedOrphanReason(pod: V1Pod): string | undefined {
  if (pod.metadata?.deletionTimestamp) return undefined
  if (pod.metadata?.annotations?.[OWNED.kept] === 'true') return undefined
  const phase = pod.status?.phase
  if (phase === 'Succeeded' || phase === 'Failed') return `pod ${phase}${pod.status?.reason ? ` (${pod.status.reason})` : ''}`
  const debuggers = (pod.status?.containerStatuses ?? []).filter((s) => s.name.startsWith('mindbg-'))
  const ended = debuggers.find((s) => s.state?.terminated)
  if (ended) return `its debugger ${ended.name} exited`
  return undefined
}

export async function pruneOwnedPods(api: KubeApi, all: boolean): Promise<PrunedDebugger[]> {
  const removed: PrunedDebugger[] = []
  for (const pod of await ownedPods(api, false)) {
    const why = ownedOrphanReason(pod) ?? (all && !pod.metadata?.deletionTimestamp ? '--all' : undefined)
    if (!why) continue
    const namespace = pod.metadata?.namespace ?? api.namespace
    const name = pod.metadata?.name ?? ''
    await deleteOwnedPod(api, namespace, name, pod.metadata?.uid)
    removed.push({name, target: `pod ${namespace}/${pod.metadata?.annotations?.[OWNED.copyOf] ?? name}`, why})
  }
  return removed
}
