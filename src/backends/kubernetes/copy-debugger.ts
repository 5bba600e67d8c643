import type {V1Container, V1Pod} from '@kubernetes/client-node'

import {MindbgError} from '../../domain/errors.js'
import type {Reporter} from '../../domain/reporter.js'
import type {StreamMode} from '../../domain/request.js'
import type {Debugger, DebuggerLink} from '../backend.js'
import {type KubeApi, kubeError, KubeStatusError, podPath} from './api.js'
import {RELEASE_COMMAND} from './copy.js'
import {KubeDebugger} from './debugger.js'
import {deleteOwnedPod, OWNED, OwnedPod} from './owned-pod.js'
import {isMindbgDebugger, type PodSecurityLevel} from './spec.js'
import {describeTarget, type KubeTarget} from './target.js'

export interface CopyPlanned {
  /** The copy as it will be created (mindbg's labels included), for a Pod Security level. */
  build: (level: PodSecurityLevel | undefined) => {manifest: V1Pod; notes: string[]}
  manifest: V1Pod
  notes: string[]
  debugger: string
  hold: boolean
  keep: boolean
  replace: boolean
}

/**
 * Creates the copy (after Pod Security refused it at a level mindbg could not see, once more at that level), deletes
 * the original with --replace, and returns its debugger. Whatever fails after the copy exists deletes it again.
 */
export async function createCopy(
  api: KubeApi,
  original: KubeTarget,
  copy: CopyPlanned,
  session: {image: string; streams: StreamMode; session: string; startTimeoutMs: number},
  reporter: Reporter,
  refusedAt: (message: string) => PodSecurityLevel | undefined,
): Promise<Debugger> {
  let {manifest, notes} = copy
  let owned: OwnedPod
  try {
    owned = await OwnedPod.create(api, manifest)
  } catch (error) {
    // The namespace's label may be invisible to us (no "get namespaces"), but the refusal names the level.
    const level = error instanceof MindbgError && /Pod Security refused/.test(error.message) ? refusedAt(error.message) : undefined
    if (!level) throw error
    ;({manifest, notes} = copy.build(level))
    owned = await OwnedPod.create(api, manifest)
  }
  try {
    for (const note of notes) reporter.notice(`mindbg: ${note}`)
    if (copy.replace) {
      // As kubectl: the original goes as soon as the copy exists, at once (grace period 0).
      await api.request('DELETE', podPath(original.namespace, original.podName), {body: {kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 0}}).catch((error: unknown) => {
        // Gone already is what was asked for.
        if (!(error instanceof KubeStatusError && error.code === 404)) throw kubeError(error, {namespace: original.namespace, verb: 'delete', resource: 'pods'})
      })
      reporter.notice(`mindbg: --replace: pod ${original.namespace}/${original.podName} deleted`)
    }
  } catch (error) {
    await owned.delete()
    throw error
  }
  const target = original.container
  const notice = [
    `mindbg: ${copy.debugger} is in ${owned.namespace}/${owned.name}, a copy of pod ${original.namespace}/${original.podName}, next to ${target} (one PID namespace)`,
    ...(copy.hold ? [`mindbg: ${target} is held: run ${RELEASE_COMMAND} in the debugger to start its entrypoint (its output and exit code follow; run it again to restart it)`] : []),
  ]
  // A one-shot command's output is the user's data: only --hold is worth a word then.
  const shown = session.streams.tty ? notice : notice.slice(1)
  return new CopyDebugger(api, owned, copy, original, session, reporter, shown.length > 0 ? shown.join('\n') : undefined)
}

/** The debugger in a copy: the pod's own container, attached as an ephemeral one is; the copy ends with it. */
class CopyDebugger implements Debugger {
  readonly runtime = 'kubernetes'
  readonly fresh = true
  readonly name: string
  readonly image: string
  readonly streams: StreamMode
  target: KubeTarget

  constructor(
    private readonly api: KubeApi,
    private readonly owned: OwnedPod,
    private readonly copy: CopyPlanned,
    original: KubeTarget,
    private readonly session: {image: string; streams: StreamMode; session: string; startTimeoutMs: number},
    private readonly reporter: Reporter,
    readonly notice: string | undefined,
  ) {
    this.name = copy.debugger
    this.image = session.image
    this.streams = session.streams
    this.target = copyTarget(owned.created, owned.namespace, owned.name, original.container)
  }

  async attach(signal: AbortSignal, reporter: Reporter): Promise<DebuggerLink> {
    // The copy's own failures first, in words (unschedulable, an image, the hold init container).
    const {pod} = await this.owned.waitRunning(this.name, {timeoutMs: this.session.startTimeoutMs, signal, reporter})
    this.target = copyTarget(pod, this.owned.namespace, this.owned.name, this.target.container)
    // Containers start in order and the debugger is the last: the target's container ID is known by now (if it has
    // started at all), and the go-ahead tells the wrapper, which then finds the target's processes by it.
    const id = pod.status?.containerStatuses?.find((s) => s.name === this.target.container)?.containerID?.replace(/^[a-z0-9-]+:\/\//, '') ?? ''
    // The copy is the debugger's own pod: a detach keeps it (marked before mindbg lets go), the end deletes it.
    const place = {namespace: this.owned.namespace, pod: this.owned.name, container: this.name, targetEndsWithSession: true, ownPod: {end: () => this.end(), keep: () => this.keepOnDetach(), leave: () => this.leave()}}
    const inner = new KubeDebugger(this.api, this.target, place, this.name, this.image, this.streams, this.notice, {
      session: this.session.session,
      startTimeoutMs: this.session.startTimeoutMs,
      // The copy's target ends at the end (the debugger ends the pod's processes): not a target that "stopped".
      sharedPidNamespace: false,
      goAhead: id,
    })
    return inner.attach(signal, reporter)
  }

  async end(): Promise<void> {
    if (!this.copy.keep) return this.owned.delete()
    const how = await this.owned.keep()
    // With --replace the copy is all that is left of the pod.
    this.reporter.notice(`mindbg: ${this.copy.replace ? '--replace' : '--keep'}: the copy ${this.owned.namespace}/${this.owned.name} is kept; delete it with: ${how}`)
  }

  private kept: Promise<string> | undefined

  private async keepOnDetach(): Promise<void> {
    this.kept ??= this.owned.keep()
    await this.kept
  }

  leave(): string {
    void this.keepOnDetach()
    const {namespace, name} = this.owned
    return `mindbg: detached from ${this.name}; it keeps running in the copy ${namespace}/${name}.\nRe-attach: mindbg attach pod/${name} -n ${namespace} --session ${this.name} (or --reuse)\nDelete the copy: kubectl delete pod ${name} -n ${namespace}`
  }
}

/**
 * --session NAME / --reuse with a copy as the target: its debugger (a container named mindbg-*), left running by a
 * detach. The session that re-attaches deletes the copy when it ends, unless the copy was to be kept (--keep).
 */
export function findCopyDebugger(api: KubeApi, target: KubeTarget, name: string | undefined, streams: StreamMode): KubeDebugger | undefined {
  const pod = target.pod
  const {namespace, podName} = target
  const running = new Set((pod.status?.containerStatuses ?? []).filter((s) => s.state?.running).map((s) => s.name))
  const mine = (pod.spec?.containers ?? []).filter(isMindbgDebugger)
  const list = `List them with: mindbg ls -n ${namespace}`
  let found: V1Container | undefined
  if (name !== undefined) {
    found = mine.find((c) => c.name === name)
    if (!found) throw new MindbgError('sessionNotFound', `session ${name}: no such mindbg debugger in the copy ${namespace}/${podName}`, list)
    if (!running.has(found.name)) throw new MindbgError('sessionNotFound', `session ${name}: has already ended`, list)
  } else {
    found = mine.filter((c) => c.stdin && c.tty && running.has(c.name)).pop()
    if (!found) return undefined
  }
  const keep = pod.metadata?.annotations?.[OWNED.keepCopy] === 'true'
  const uid = pod.metadata?.uid
  const mode: StreamMode = {...streams, stdin: true, tty: Boolean(found.tty)}
  const notice = `mindbg: re-attaching to ${found.name} in the copy ${namespace}/${podName}${mode.tty ? '; press Enter for a prompt' : ''}`
  const debuggerName = found.name
  return new KubeDebugger(
    api,
    target,
    {
      namespace,
      pod: podName,
      container: debuggerName,
      targetEndsWithSession: true,
      ownPod: {
        end: () => (keep ? Promise.resolve() : deleteOwnedPod(api, namespace, podName, uid).catch(() => {})),
        keep: async () => {},
        leave: () => `mindbg: detached from ${debuggerName}; it keeps running in the copy ${namespace}/${podName}.\nRe-attach: mindbg attach pod/${podName} -n ${namespace} --session ${debuggerName}\nDelete the copy: kubectl delete pod ${podName} -n ${namespace}`,
      },
    },
    debuggerName,
    found.image ?? '',
    mode,
    notice,
    undefined,
  )
}

function copyTarget(pod: V1Pod, namespace: string, name: string, container: string): KubeTarget {
  return {runtime: 'kubernetes', namespace, podName: name, container, pod, ...describeTarget(pod, namespace, name, container)}
}
