import type {V1Container, V1EnvVar, V1Node, V1Pod, V1SecurityContext} from '@kubernetes/client-node'

import {usageError} from '../../domain/errors.js'
import {randomSuffix} from '../../domain/names.js'
import type {Profile} from '../../domain/profiles.js'
import type {DebuggerRequest, StreamMode} from '../../domain/request.js'
import type {SessionIdentity} from '../../domain/session.js'
import type {Target} from '../../domain/target.js'
import {chrootCommand, DEFAULT_PATH} from '../chroot.js'
import {ENV_PREFIX, FALLBACK_NON_ROOT_UID, identityVars, mergeCustom, profiles, PULL, SESSION_ENV, userEnv, withRequestedPrivileges, wrapperCommand} from './spec.js'

/** Where the node's filesystem is in the debugger (kubectl's /host, a hostPath volume of "/"). */
export const HOST_ROOT = '/host'
/** The debugger pod's only container, named as kubectl names it. */
export const NODE_CONTAINER = 'debugger'
/** Which node a node debugger is on, as a label (kubectl get pods -l mindbg.org/node=NAME); mindbg's own labels come with owned-pod.ts. */
export const NODE_LABEL = 'mindbg.org/node'

/** A node as found: the node, and the namespace its debugger pod would be made in. */
export interface NodeTarget extends Target {
  runtime: 'kubernetes'
  kind: 'node'
  nodeName: string
  /** The namespace of the debugger pod (-n, else the context's). */
  namespace: string
  nodeObject: V1Node
}

export const isNodeTarget = (target: Target): target is NodeTarget => (target as Partial<NodeTarget>).kind === 'node'

/**
 * A node's state as data: Ready is running; a Ready condition that is False (the kubelet says it is not) or Unknown
 * (the kubelet stopped posting status) is not, with the condition's own reason and message.
 */
export function describeNode(node: V1Node, namespace: string): NodeTarget {
  const nodeName = node.metadata?.name ?? ''
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready')
  const base = {
    runtime: 'kubernetes' as const,
    kind: 'node' as const,
    nodeName,
    namespace,
    nodeObject: node,
    name: `node ${nodeName}`,
    id: node.metadata?.uid ?? '',
    ref: `node/${nodeName}`,
    image: node.status?.nodeInfo?.osImage ?? '',
    node: nodeName,
  }
  if (ready?.status === 'True') return {...base, state: 'running', stateDetail: 'Ready', stateMessage: '', stateHint: ''}
  const why = ready ? `Ready is ${ready.status}${ready.reason ? ` (${ready.reason}${ready.message ? `: ${ready.message}` : ''})` : ''}` : 'no Ready condition'
  return {
    ...base,
    state: ready?.status === 'False' ? 'stopped' : 'pending',
    stateDetail: why,
    stateMessage: `node ${nodeName} is not Ready (${why})`,
    stateHint: `Look at why: kubectl describe node ${nodeName}`,
  }
}

/**
 * What each profile gives a node debugger, as kubectl 1.34's profiles.go does for `kubectl debug node/NAME`: the
 * host's PID, network and IPC namespaces; the node's filesystem at /host; the container's security context.
 * baseline and restricted are what Pod Security of those names admits: neither host namespaces nor /host.
 * netadmin has the host namespaces but not /host.
 */
interface NodeProfile {
  hostNamespaces: boolean
  hostRoot: boolean
  securityContext: () => V1SecurityContext | undefined
}

export const NODE_PROFILES: Record<Profile, NodeProfile> = {
  legacy: {hostNamespaces: true, hostRoot: true, securityContext: () => undefined},
  // kubectl clears the container's security context here (no SYS_PTRACE, unlike its ephemeral "general"): in the
  // host's namespaces as root, the node's processes are readable as they are.
  general: {hostNamespaces: true, hostRoot: true, securityContext: () => undefined},
  baseline: {hostNamespaces: false, hostRoot: false, securityContext: profiles.baseline},
  restricted: {hostNamespaces: false, hostRoot: false, securityContext: profiles.restricted},
  netadmin: {hostNamespaces: true, hostRoot: false, securityContext: profiles.netadmin},
  sysadmin: {hostNamespaces: true, hostRoot: true, securityContext: profiles.sysadmin},
}

/** mindbg-node-NODE-xxxxx, cut to 63 characters (a DNS label: it becomes the pod's hostname off the host network). */
export function nodeDebuggerName(node: string, random: () => number = Math.random): string {
  const suffix = randomSuffix(random)
  const room = 63 - 'mindbg-node-'.length - 1 - suffix.length
  const base = node.slice(0, room).replace(/[.-]+$/, '')
  return `mindbg-node-${base}-${suffix}`
}

export interface NodePodInput {
  node: string
  namespace: string
  request: DebuggerRequest
  streams: StreamMode
  identity: SessionIdentity
  name: string
  /** Random id of this session: the wrappers' control messages carry it. */
  session: string
  /** A partial container spec from --custom, already parsed. */
  custom: Record<string, unknown> | undefined
}

export interface NodePodSpec {
  pod: V1Pod
  /** One-line notices about adaptations mindbg made on its own. */
  notes: string[]
}

/**
 * Pure: the pod of a node debugger, as kubectl's generateNodeDebugPod makes it (bound to the node by nodeName, so
 * no scheduler is involved; every taint tolerated; never restarted), under the same wrappers as ephemeral debuggers
 * (./spec.ts: the go-ahead, mindbg-init, the exit trailer, the end with the session's stream). Throws usage errors
 * for what cannot work on a node.
 */
export function buildNodeDebugPod(input: NodePodInput): NodePodSpec {
  const {node, request, streams, name} = input
  const profile = NODE_PROFILES[request.profile]
  const notes: string[] = []
  if (request.shareVolumes) throw usageError('--share-volumes shares the volumes of a target container; a node has none', `The node's filesystem is at ${HOST_ROOT}.`)
  if (request.imageSource === 'sibling') throw usageError('--sibling derives the debug image from the target container\'s image; a node has none', 'Name one with --image.')
  if (request.chroot && !profile.hostRoot) {
    throw usageError(`--chroot needs the node's filesystem at ${HOST_ROOT}, which --profile ${request.profile} does not mount`, 'Use --profile general (the default), legacy or sysadmin.')
  }

  const sc: V1SecurityContext = withRequestedPrivileges(profile.securityContext() ?? {}, request)
  if (request.user === undefined && sc.runAsNonRoot) {
    // kubectl sets runAsNonRoot alone, which the kubelet refuses for an image that runs as root (busybox): a uid
    // makes the debugger start.
    sc.runAsUser = FALLBACK_NON_ROOT_UID
    notes.push(`--profile ${request.profile}: the debugger runs as uid ${FALLBACK_NON_ROOT_UID}`)
  }
  if (!profile.hostNamespaces) notes.push(`--profile ${request.profile}: the debugger stays in a pod's own namespaces (neither the host's processes nor its network)`)
  else if (!profile.hostRoot) notes.push(`--profile ${request.profile}: the node's filesystem is not mounted (kubectl's netadmin mounts no /host)`)

  const env: V1EnvVar[] = [
    ...identityVars(input.identity),
    {name: `${ENV_PREFIX}TARGET`, value: `node/${node}`},
    {name: SESSION_ENV, value: input.session},
    ...(profile.hostRoot ? [{name: `${ENV_PREFIX}TARGET_ROOT`, value: HOST_ROOT}] : []),
    ...(request.chroot ? [{name: `${ENV_PREFIX}TARGET_PATH`, value: DEFAULT_PATH}] : []),
    ...userEnv(request.env),
  ]
  const words = request.chroot ? chrootCommand(request.command) : request.command.length > 0 ? request.command : ['sh']
  let container: V1Container = {
    name: NODE_CONTAINER,
    image: request.image,
    imagePullPolicy: PULL[request.pull],
    command: wrapperCommand(streams, words),
    env,
    // stdin carries the go-ahead and is the session's lifeline, even for one-shot commands (see the wrappers).
    stdin: true,
    stdinOnce: true,
    tty: streams.tty,
    terminationMessagePolicy: 'File',
  }
  if (Object.keys(sc).length > 0) container.securityContext = sc
  if (request.workdir !== undefined) container.workingDir = request.workdir
  if (profile.hostRoot) container.volumeMounts = [{name: 'host-root', mountPath: HOST_ROOT}]
  if (input.custom) container = mergeCustom(container, input.custom) as V1Container

  // A label value is at most 63 characters; a longer node name is in the pod's spec (nodeName) all the same.
  const labels: Record<string, string> = node.length <= 63 ? {[NODE_LABEL]: node} : {}
  const pod: V1Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {name, namespace: input.namespace, labels},
    spec: {
      nodeName: node,
      restartPolicy: 'Never',
      tolerations: [{operator: 'Exists'}],
      // Nothing in it is worth a grace period: a debugger that outlives its session is ended at once.
      terminationGracePeriodSeconds: 1,
      containers: [container],
      ...(profile.hostNamespaces ? {hostPID: true, hostNetwork: true, hostIPC: true} : {}),
      ...(profile.hostRoot ? {volumes: [{name: 'host-root', hostPath: {path: '/'}}]} : {}),
    },
  }
  return {pod, notes}
}
