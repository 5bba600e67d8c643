import {readFileSync} from 'node:fs'

import type {V1EphemeralContainer, V1Namespace, V1Pod, V1PodList} from '@kubernetes/client-node'

import {deps} from '../../deps.js'
import {firstLine, MindbgError, usageError} from '../../domain/errors.js'
import type {Reporter} from '../../domain/reporter.js'
import {type DebuggerRequest, describeImageSource, type StreamMode} from '../../domain/request.js'
import {invokingUser} from '../../domain/session.js'
import {parseLabelSelector, type TargetRef, type TargetSelector} from '../../domain/target.js'
import {readImageCommand} from '../../images/image-config.js'
import {siblingImage} from '../../images/sibling.js'
import type {Backend, BackendOptions, Debugger, DebuggerPlan, DebuggerSummary, ListScope, PlanContext, PrunedDebugger} from '../backend.js'
import {KubeApi, kubeError, KubeStatusError, podPath} from './api.js'
import {ephemeralPlace, KubeDebugger} from './debugger.js'
import {createNode, findNodeDebugger, isNodePlan, type NodePlan, planNode, resolveNode} from './node.js'
import {isNodeTarget, type NodeTarget} from './node-spec.js'
import {describeTarget, type KubeTarget} from './target.js'
import {listDebuggers} from './list.js'
import {asCopied, buildPodCopy, entrypointOf, needsImageConfig} from './copy.js'
import {type CopyPlanned, createCopy, findCopyDebugger} from './copy-debugger.js'
import {listOwnedPods, OWNED, ownedPodManifest, pruneOwnedPods} from './owned-pod.js'
import {buildEphemeralContainer, chooseTargetContainer, describeRunAs, type EphemeralSpec, ephemeralName, isMindbgDebugger, POD_SECURITY_LEVELS, type PodSecurityLevel, targetIdentity} from './spec.js'

const PSS_LABEL = 'pod-security.kubernetes.io/enforce'

interface KubePlan extends DebuggerPlan<KubeTarget> {
  readonly request: DebuggerRequest
  /** The ephemeral container; `build(level)` makes it comply with that Pod Security level. */
  readonly spec: EphemeralSpec
  readonly build: (podSecurity: PodSecurityLevel | undefined) => EphemeralSpec
  readonly podSecurity: PodSecurityLevel | undefined
  readonly session: string
  /** --copy-to: the copy to create, with the debugger as one of its containers. */
  readonly copy?: CopyPlanned
}

/**
 * Kubernetes: the debugger is an ephemeral container added to the pod (pods/{name}/ephemeralcontainers), targeting
 * the container's PID namespace. Ephemeral containers cannot be deleted, so every debugger runs under a wrapper
 * that makes its processes end with the session's stream (./spec.ts).
 */
export class KubernetesBackend implements Backend<KubeTarget | NodeTarget, KubePlan | NodePlan> {
  readonly runtime = 'kubernetes'
  /** Per namespace: the Pod Security level it enforces, asked once, in parallel with the pod lookup. */
  private readonly levelOf = new Map<string, Promise<PodSecurityLevel | undefined>>()

  private constructor(private readonly api: KubeApi) {}

  static async connect(options: BackendOptions): Promise<KubernetesBackend> {
    return new KubernetesBackend(await KubeApi.connect(options))
  }

  async resolve(ref: TargetRef): Promise<Array<KubeTarget | NodeTarget>> {
    if (ref.runtime !== 'kubernetes') throw new Error(`the Kubernetes backend was given a ${ref.runtime} reference`)
    const namespace = ref.namespace ?? this.api.namespace
    void this.enforcedLevel(namespace)
    if ('node' in ref) return resolveNode(this.api, ref.node, namespace)
    let pod: V1Pod
    try {
      pod = await this.api.request<V1Pod>('GET', podPath(namespace, ref.pod))
    } catch (error) {
      if (error instanceof KubeStatusError && error.code === 404) {
        throw new MindbgError('targetNotFound', `pod ${ref.pod} not found in namespace ${namespace}`, `List pods with: kubectl get pods -n ${namespace}`)
      }
      throw kubeError(error, {namespace, verb: 'get', resource: 'pods'})
    }
    const container = chooseTargetContainer(pod, ref.container)
    return [{runtime: 'kubernetes', namespace, podName: ref.pod, container, pod, ...describeTarget(pod, namespace, ref.pod, container)}]
  }

  async select(selector: TargetSelector): Promise<KubeTarget[]> {
    if (selector.runtime !== 'kubernetes') throw new Error(`the Kubernetes backend was given a ${selector.runtime} selector`)
    parseLabelSelector(selector.labels)
    const namespace = selector.namespace ?? this.api.namespace
    const base = selector.allNamespaces ? '/api/v1/pods' : `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`
    let list: V1PodList
    try {
      list = await this.api.request<V1PodList>('GET', `${base}?labelSelector=${encodeURIComponent(selector.labels)}`)
    } catch (error) {
      throw kubeError(error, {namespace: selector.allNamespaces ? '' : namespace, verb: 'list', resource: 'pods'})
    }
    const targets: KubeTarget[] = []
    for (const pod of list.items) {
      const ns = pod.metadata?.namespace ?? namespace
      const podName = pod.metadata?.name ?? ''
      if (pod.metadata?.deletionTimestamp) continue
      const container = chooseTargetContainer(pod, selector.container)
      const target: KubeTarget = {runtime: 'kubernetes', namespace: ns, podName, container, pod, ...describeTarget(pod, ns, podName, container)}
      if (target.state === 'running') targets.push(target)
    }
    return targets.sort((a, b) => a.ref.localeCompare(b.ref))
  }

  async plan(target: KubeTarget | NodeTarget, requested: DebuggerRequest, streams: StreamMode, context: PlanContext): Promise<KubePlan | NodePlan> {
    const [custom, podSecurity] = await Promise.all([requested.custom === undefined ? undefined : readCustom(requested.custom), this.enforcedLevel(target.namespace)])
    if (isNodeTarget(target)) return planNode(target, requested, streams, context, {custom, podSecurity, session: sessionId()})
    const {pod, container, namespace} = target
    let request = requested
    let imageReason = describeImageSource(request.imageSource, context.configPath)
    if (request.imageSource === 'sibling') {
      const sibling = siblingFor(pod, container, request)
      request = sibling.request
      imageReason = `--sibling (${sibling.rule})`
    }
    const identity = {user: invokingUser(), startedAt: new Date().toISOString(), version: context.version, reason: request.reason}
    const name = ephemeralName(pod)
    const session = sessionId()
    const copy = request.copy
    // A copy's debugger is made as an ephemeral one would be in a pod that shares its PID namespace.
    const seen = copy ? asCopied(pod) : pod
    // A copy's --chroot is the copy builder's (./copy.ts): the ephemeral builder refuses it.
    const asked = copy && request.chroot ? {...request, chroot: false} : request
    const build = (level: PodSecurityLevel | undefined): EphemeralSpec => buildEphemeralContainer({pod: seen, target: container, request: asked, streams, identity, name, podSecurity: level, custom, session})
    const spec = build(podSecurity)
    let copyPlan: CopyPlanned | undefined
    if (copy) {
      const original = pod.spec?.containers.find((c) => c.name === container)
      const entrypoint = copy.hold && original ? entrypointOf(original, needsImageConfig(original) ? await readImageCommand(original.image ?? '', nodePlatform(pod)) : undefined) : undefined
      const buildCopy = (level: PodSecurityLevel | undefined): {manifest: V1Pod; notes: string[]} => {
        if (request.chroot && level === 'restricted') {
          throw usageError('--chroot needs root in the debugger, which Pod Security "restricted" forbids here', "Drop --chroot: the target's filesystem is at $MINDBG_TARGET_ROOT.")
        }
        const dbg = level === podSecurity ? spec : build(level)
        const made = buildPodCopy({pod, target: container, copy, debugger: dbg.container, image: request.image, chroot: request.chroot, ...(entrypoint ? {entrypoint} : {})})
        // Under --chroot the debugger runs as root: what the ephemeral builder said of its user no longer holds.
        const notes = request.chroot ? dbg.notes.filter((n) => !/the debugger runs as uid/.test(n)) : dbg.notes
        const manifest = ownedPodManifest({pod: made.pod, role: 'copy', session, identity, annotations: {[OWNED.copyOf]: target.podName, ...(copy.keepCopy ? {[OWNED.keepCopy]: 'true'} : {})}, deadlineSeconds: copy.keepCopy ? null : undefined})
        return {manifest, notes: [...notes, ...made.notes, ...(request.chroot ? ['--chroot: the debugger runs as root, chrooted into the target'] : [])]}
      }
      const first = buildCopy(podSecurity)
      copyPlan = {build: buildCopy, manifest: first.manifest, notes: first.notes, debugger: name, hold: copy.hold, keep: copy.keepCopy, replace: copy.replace}
    }
    // What the debugger runs as: in a copy, as the copy says (--chroot makes it root).
    const sc = copyPlan ? copyPlan.manifest.spec?.containers.find((c) => c.name === name)?.securityContext : spec.container.securityContext
    return {
      target,
      name,
      image: request.image,
      streams,
      command: request.command,
      request,
      spec,
      build,
      podSecurity,
      session,
      ...(copyPlan ? {copy: copyPlan} : {}),
      report: {
        runtime: 'kubernetes',
        target: {name: target.name, id: target.id, image: target.image, label: target.name, namespace, pod: target.podName, container},
        image: request.image,
        imageReason,
        pull: spec.container.imagePullPolicy ?? '',
        profile: request.profile,
        user: describeRunAs(sc),
        joins: copyPlan
          ? [`a copy of the pod, ${namespace}/${copy!.name}, as one of its containers`, `its one PID namespace (shareProcessNamespace), with ${container}`]
          : [`the pod's network and IPC`, `the PID namespace of ${container}`],
        name,
        notes: copyPlan ? copyPlan.notes : spec.notes,
        command: request.command,
        // --copy-to: the whole copy, as it would be created.
        spec: copyPlan ? copyPlan.manifest : spec.container,
      },
    }
  }

  async create(plan: KubePlan | NodePlan, reporter: Reporter): Promise<Debugger> {
    if (isNodePlan(plan)) return createNode(this.api, plan, reporter)
    if (plan.copy) {
      return createCopy(this.api, plan.target, plan.copy, {image: plan.image, streams: plan.streams, session: plan.session, startTimeoutMs: plan.request.startTimeoutMs}, reporter, refusedAt)
    }
    const {namespace, podName} = plan.target
    let spec = plan.spec
    try {
      const patched = this.addEphemeral(namespace, podName, spec.container)
      // The attach right after the PATCH needs ws: loaded while the PATCH is with the API server, neither after it nor
      // before it goes out (an import started first ran, ~5 ms of it, in the microtasks before the request was
      // written): a turn of the event loop later.
      setImmediate(() => void deps.ws().catch(() => undefined))
      await patched
    } catch (error) {
      // The namespace label may be invisible to us (no "get namespaces"), but the server says which level refused.
      const level = error instanceof KubeStatusError && error.code === 403 ? refusedAt(error.status.message ?? '') : undefined
      if (level && level !== plan.podSecurity) {
        spec = plan.build(level)
        await this.addEphemeral(namespace, podName, spec.container).catch((e: unknown) => {
          throw patchError(e, namespace, podName)
        })
      } else throw patchError(error, namespace, podName)
    }
    for (const note of spec.notes) reporter.notice(`mindbg: ${note}`)
    // In a shared PID namespace the wrapper finds the target's PID and says it (LOCATE_TARGET in spec.ts).
    const where = plan.target.pod.spec?.shareProcessNamespace === true ? 'in the shared PID namespace' : 'its filesystem is at /proc/1/root'
    const notice = plan.command.length === 0 ? `mindbg: ${plan.name} is next to ${plan.target.container} in pod ${namespace}/${podName}; ${where}` : undefined
    return new KubeDebugger(this.api, plan.target, ephemeralPlace(plan.target, plan.name), plan.name, plan.image, plan.streams, notice, {
      session: plan.session,
      startTimeoutMs: plan.request.startTimeoutMs,
      sharedPidNamespace: plan.target.pod.spec?.shareProcessNamespace === true,
    })
  }

  async find(query: {name?: string | undefined; target?: KubeTarget | NodeTarget | undefined}, streams: StreamMode): Promise<Debugger | undefined> {
    const target = query.target
    if (!target) throw usageError('re-attaching to a debugger in a pod needs the pod', 'Use: mindbg attach pod/NAME --session DEBUGGER (or --reuse).')
    if (isNodeTarget(target)) return findNodeDebugger(this.api, target, query.name, streams)
    if (target.pod.metadata?.labels?.[OWNED.role] === 'copy') return findCopyDebugger(this.api, target, query.name, streams)
    const pod = target.pod
    const running = new Set((pod.status?.ephemeralContainerStatuses ?? []).filter((s) => s.state?.running).map((s) => s.name))
    const mine = (pod.spec?.ephemeralContainers ?? []).filter(isMindbgDebugger)
    let found: V1EphemeralContainer | undefined
    if (query.name !== undefined) {
      found = mine.find((c) => c.name === query.name)
      const where = `pod ${target.namespace}/${target.podName}`
      if (!found) throw new MindbgError('sessionNotFound', `session ${query.name}: no such mindbg debugger in ${where}`, `List them with: mindbg ls -n ${target.namespace}`)
      if (!running.has(found.name)) throw new MindbgError('sessionNotFound', `session ${query.name}: has already ended`, `List them with: mindbg ls -n ${target.namespace}`)
    } else {
      // The newest shell on a terminal that still runs: the only kind that outlives a session (after a kill -9 of
      // mindbg), and so the one worth getting back into.
      found = mine.filter((c) => c.stdin && c.tty && running.has(c.name)).pop()
      if (!found) return undefined
    }
    const mode: StreamMode = {...streams, stdin: true, tty: Boolean(found.tty)}
    const notice = `mindbg: re-attaching to ${found.name} in pod ${target.namespace}/${target.podName}${mode.tty ? '; press Enter for a prompt' : ''}`
    return new KubeDebugger(this.api, target, ephemeralPlace(target, found.name), found.name, found.image ?? '', mode, notice, undefined)
  }

  /** The ephemeral debuggers, then the pods mindbg made (copies, node debuggers). */
  async list(scope: ListScope): Promise<DebuggerSummary[]> {
    const all = Boolean(scope.allNamespaces)
    const [debuggers, pods] = await Promise.all([listDebuggers(this.api, all), listOwnedPods(this.api, all)])
    return [...debuggers, ...pods]
  }

  /** Ephemeral containers cannot be removed from a pod (they end with their sessions); the pods mindbg made can. */
  prune({all}: {all: boolean}): Promise<PrunedDebugger[]> {
    return pruneOwnedPods(this.api, all)
  }

  close(): void {
    this.api.close()
  }

  private enforcedLevel(namespace: string): Promise<PodSecurityLevel | undefined> {
    let known = this.levelOf.get(namespace)
    if (!known) {
      known = this.api.request<V1Namespace>('GET', `/api/v1/namespaces/${encodeURIComponent(namespace)}`).then(
        (ns) => podSecurityLevel(ns.metadata?.labels?.[PSS_LABEL]),
        // Not allowed to read namespaces: the server's 403 will tell.
        () => undefined,
      )
      this.levelOf.set(namespace, known)
    }
    return known
  }

  /**
   * Strategic merge on the subresource: the list is merged by name, so only the new container needs sending. The
   * answer, the whole pod, is not parsed: nothing needs it.
   */
  private async addEphemeral(namespace: string, pod: string, container: V1EphemeralContainer): Promise<void> {
    await this.api.requestBuffer('PATCH', podPath(namespace, pod, 'ephemeralcontainers'), {
      body: {spec: {ephemeralContainers: [container]}},
      contentType: 'application/strategic-merge-patch+json',
    })
  }
}

const podSecurityLevel = (value: string | undefined): PodSecurityLevel | undefined =>
  (POD_SECURITY_LEVELS as readonly string[]).includes(value ?? '') ? (value as PodSecurityLevel) : undefined

/** The level named in an admission refusal: `violates PodSecurity "baseline:latest": ...`. */
export function refusedAt(message: string): PodSecurityLevel | undefined {
  return podSecurityLevel(/violates PodSecurity "([a-z]+)(?::[^"]*)?"/i.exec(message)?.[1]?.toLowerCase())
}

/** --sibling: the debug twin of the target container's image; a nonroot twin runs as the target's user. */
function siblingFor(pod: V1Pod, target: string, request: DebuggerRequest): {request: DebuggerRequest; rule: string} {
  const image = pod.spec?.containers.find((c) => c.name === target)?.image ?? ''
  const twin = siblingImage(image, request.siblingMappings)
  const {uid, gid} = targetIdentity(pod, target)
  const user = twin.nonRoot && request.user === undefined && uid !== undefined ? `${uid}${gid !== undefined ? `:${gid}` : ''}` : request.user
  return {request: {...request, image: twin.image, user}, rule: twin.rule}
}

async function readCustom(path: string): Promise<Record<string, unknown>> {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    throw usageError(`--custom ${path}: ${(error as Error).message}`)
  }
  const {parse} = await deps.yaml()
  let data: unknown
  try {
    data = parse(text) // YAML is a superset of JSON: one parser for both
  } catch (error) {
    throw usageError(`--custom ${path}: not valid JSON or YAML: ${firstLine((error as Error).message)}`)
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw usageError(`--custom ${path}: must be a partial container spec (an object)`)
  return data as Record<string, unknown>
}

function patchError(error: unknown, namespace: string, pod: string): unknown {
  if (!(error instanceof KubeStatusError)) return error
  const message = error.status.message ?? ''
  if (error.code === 404 && !error.status.details?.name) {
    return new MindbgError('sidecarFailed', 'ephemeral containers are disabled on this cluster (the API server has no pods/ephemeralcontainers)', 'They are on by default since Kubernetes 1.23; ask your cluster admin, or debug a copy of the pod.')
  }
  if (error.code === 404) return new MindbgError('targetStopped', `pod ${namespace}/${pod} disappeared`, `kubectl get pods -n ${namespace}`)
  if (error.code === 403 && /violates PodSecurity/i.test(message)) {
    return new MindbgError('sidecarFailed', `Pod Security refused the debugger: ${message}`, `mindbg already made it compliant with "${refusedAt(message) ?? 'restricted'}"; a stricter admission policy is in place: try --custom.`)
  }
  if (error.code === 422) {
    const causes = (error.status.details?.causes ?? []).map((c) => `${c.field ?? ''}: ${c.message ?? c.reason ?? ''}`)
    return new MindbgError('sidecarFailed', `the API server rejected the debugger: ${causes.join('; ') || message}`, 'Check --custom and the flags (rerun with --debug for the full answer).', {cause: error})
  }
  return kubeError(error, {namespace, verb: 'patch', resource: 'pods/ephemeralcontainers'})
}

/**
 * The platform of the pod's node, for an image index: the kubelet reports the node's, which a reader of pods cannot
 * see without nodes access; a pod's image that ran there is of that platform, and mindbg's own CPU is the best guess.
 */
function nodePlatform(_pod: V1Pod): {os: string; architecture: string} {
  return {os: 'linux', architecture: process.arch === 'x64' ? 'amd64' : process.arch}
}

/** 12 random hex digits: tells this session's exit trailer from anything a command prints. */
function sessionId(): string {
  return Array.from({length: 12}, () => Math.floor(Math.random() * 16).toString(16)).join('')
}
