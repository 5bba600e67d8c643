import {imageReferenceProblem} from '../images/reference.js'
import {MindbgError, usageError} from './errors.js'

export const RUNTIMES = ['docker', 'kubernetes'] as const
export type Runtime = (typeof RUNTIMES)[number]

/** Where the target lives, decided from its syntax alone (no engine is contacted to parse). */
export type TargetRef =
  | {runtime: 'docker'; ref: string; /** image://REF: the image's filesystem, no container of the user's */ image?: true}
  | {runtime: 'kubernetes'; pod: string; namespace?: string; container?: string}
  /** node/NAME: a debugger pod on that node, in its host namespaces; `namespace` is where that pod is made. */
  | {runtime: 'kubernetes'; node: string; namespace?: string}

/**
 * Many targets by their labels (a runbook's `-l`): Docker containers' labels, or pods' labels in a namespace (or all).
 * `labels` is KEY=VALUE[,KEY2=VALUE2]; only running targets are selected.
 */
export interface TargetSelector {
  runtime: Runtime
  labels: string
  namespace?: string | undefined
  allNamespaces?: boolean | undefined
  /** Kubernetes: the container of each pod (default: its default-container annotation, else the first). */
  container?: string | undefined
}

const LABEL_TERM = /^[A-Za-z0-9]([A-Za-z0-9._/-]*[A-Za-z0-9])?(=[A-Za-z0-9._-]*)?$/

/** Checks -l's syntax before anything is asked: KEY=VALUE or KEY, comma-separated (the same for both runtimes). */
export function parseLabelSelector(text: string): string[] {
  const terms = text.split(',').map((t) => t.trim())
  const bad = terms.find((t) => !LABEL_TERM.test(t))
  if (bad !== undefined) throw usageError(`bad label selector "${text}"${bad ? ` at "${bad}"` : ''}`, 'Use KEY=VALUE[,KEY2=VALUE2] (or KEY alone for "has the label"), e.g. -l app=web,tier=front.')
  return terms
}

/** What a target is doing now. Not running is data, not an error: whether that is acceptable is decided above. */
export type TargetState = 'running' | 'paused' | 'restarting' | 'stopped' | 'pending'

/** A target as a backend found it: the fields every runtime has, for policies, reports and audit records. */
export interface Target {
  runtime: Runtime
  /** How the user names it: "web", "pod default/web, container app". */
  name: string
  /** The container ID, or the pod's UID. */
  id: string
  /** A reference that names it again, as `attach` takes it: "web", "k8s://NAMESPACE/POD/CONTAINER". */
  ref: string
  image: string
  /** What the image resolved to: the image ID (Docker), the kubelet's imageID with its digest (Kubernetes). */
  imageId?: string
  /** Where it runs: the pod's node (Kubernetes). */
  node?: string
  state: TargetState
  /** The state in the runtime's own words: "exited, exit code 3", "phase Pending". */
  stateDetail: string
  /** The state as a sentence about the target, for when it matters: "web is paused". */
  stateMessage: string
  /** What to do about a target that is not running, in the runtime's own commands. */
  stateHint: string
  /** Set when the target is itself a mindbg debugger: what to say, and what to debug instead. */
  isDebugger?: {message: string; hint: string}
}

// Docker accepts names like these and full or abbreviated hex IDs; a leading "/" is how the engine prints names.
const DOCKER_REF = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]*$/
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/

/**
 * What a bare name (`web`) means: a Docker container, or with MINDBG_RUNTIME=kubernetes (which `kubectl mindbg`
 * sets) a pod of the current namespace. Also the runtime `ls` and `prune` look at.
 */
export function defaultRuntime(env: NodeJS.ProcessEnv): Runtime {
  const value = env.MINDBG_RUNTIME?.trim()
  if (!value) return 'docker'
  if ((RUNTIMES as readonly string[]).includes(value)) return value as Runtime
  throw usageError(`MINDBG_RUNTIME="${value}" is not a runtime`, `Use one of ${RUNTIMES.join(', ')}, or unset it.`)
}

export function parseTarget(input: string, bareNames: Runtime = 'docker'): TargetRef {
  const raw = input.trim()
  if (!raw) throw usageError('empty target', 'Name a container: mindbg attach <name|id|id-prefix>.')

  if (raw.startsWith('docker://')) return dockerRef(raw.slice('docker://'.length), input)
  if (raw.startsWith('image://')) return imageRef(raw.slice('image://'.length), input)

  for (const scheme of ['k8s://', 'kubernetes://']) {
    if (raw.startsWith(scheme)) {
      const [namespace, pod, container, ...rest] = raw.slice(scheme.length).split('/')
      if (!namespace || !pod || rest.length > 0) {
        throw usageError(`bad Kubernetes target "${input}"`, 'Use k8s://NAMESPACE/POD or k8s://NAMESPACE/POD/CONTAINER.')
      }
      return kubernetesRef(input, pod, namespace, container)
    }
  }
  // Before the bare names: `kubectl mindbg attach node/x` is a node too (kubectl's own spelling, as kubectl debug node/x).
  if (raw.startsWith('node/') || raw.startsWith('nodes/')) {
    const [, node, ...rest] = raw.split('/')
    if (!node || rest.length > 0 || !DNS_SUBDOMAIN.test(node)) {
      throw usageError(`bad node target "${input}"`, 'Use node/NAME, with the name as kubectl get nodes prints it.')
    }
    return {runtime: 'kubernetes', node}
  }
  if (raw.startsWith('pod/') || raw.startsWith('pods/')) {
    const [, pod, container, ...rest] = raw.split('/')
    if (!pod || rest.length > 0) throw usageError(`bad Kubernetes target "${input}"`, 'Use pod/NAME or pod/NAME/CONTAINER.')
    return kubernetesRef(input, pod, undefined, container)
  }
  if (bareNames === 'kubernetes') return parseTarget(`pod/${raw}`)
  return dockerRef(raw, input)
}

function dockerRef(ref: string, input: string): TargetRef {
  if (!DOCKER_REF.test(ref)) {
    throw usageError(
      `bad container reference "${input}"`,
      'A Docker target is a container name, a full ID or a unique ID prefix, optionally written docker://NAME.',
    )
  }
  return {runtime: 'docker', ref: ref.replace(/^\//, '')}
}

function imageRef(ref: string, input: string): TargetRef {
  const problem = imageReferenceProblem(ref)
  if (problem) throw usageError(`bad image target "${input}": ${problem}`, 'Write image://[REGISTRY/]NAME[:TAG][@sha256:DIGEST], e.g. image://gcr.io/distroless/static:nonroot.')
  return {runtime: 'docker', ref, image: true}
}

/** A reference to a node (node/NAME) rather than to a pod. */
export const isNodeRef = (ref: TargetRef): ref is Extract<TargetRef, {node: string}> => ref.runtime === 'kubernetes' && 'node' in ref

function kubernetesRef(input: string, pod: string, namespace: string | undefined, container: string | undefined): TargetRef {
  if (!DNS_SUBDOMAIN.test(pod) || (namespace !== undefined && !DNS_LABEL.test(namespace)) || (container !== undefined && !DNS_LABEL.test(container))) {
    throw usageError(`bad Kubernetes target "${input}"`, 'Pod, namespace and container names are lowercase DNS names.')
  }
  const ref: Extract<TargetRef, {pod: string}> = {runtime: 'kubernetes', pod}
  if (namespace !== undefined) ref.namespace = namespace
  if (container) ref.container = container
  return ref
}

/** The policy of `attach`: a debugger goes next to a running target only (and never next to a debugger). */
export function requireRunning(target: Target): void {
  if (target.isDebugger) throw new MindbgError('targetNotDebuggable', target.isDebugger.message, target.isDebugger.hint)
  if (target.state !== 'running') throw new MindbgError('targetNotDebuggable', target.stateMessage, target.stateHint)
}
