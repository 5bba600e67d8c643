import type {V1Node, V1Pod, V1PodList} from '@kubernetes/client-node'

import {MindbgError} from '../../domain/errors.js'
import type {Reporter} from '../../domain/reporter.js'
import {type DebuggerRequest, describeImageSource, type StreamMode} from '../../domain/request.js'
import {invokingUser, type SessionIdentity} from '../../domain/session.js'
import type {DebuggerPlan, PlanContext} from '../backend.js'
import {type KubeApi, kubeError, KubeStatusError, podPath} from './api.js'
import {KubeDebugger} from './debugger.js'
import {buildNodeDebugPod, describeNode, HOST_ROOT, NODE_CONTAINER, NODE_PROFILES, nodeDebuggerName, type NodePodSpec, type NodeTarget} from './node-spec.js'
import {deleteOwnedPod, OWNED, OwnedPod, ownedPodManifest} from './owned-pod.js'
import {describeRunAs, type PodSecurityLevel} from './spec.js'

/**
 * `mindbg attach node/NAME`: a pod of mindbg's on that node, in the host's PID, network and IPC namespaces with the
 * node's filesystem at /host, as `kubectl debug node/NAME` makes it, except that mindbg deletes it when the session
 * ends, on every path (./owned-pod.ts: the session's end, and a reaper after a SIGKILL of mindbg). The session itself
 * is an ordinary KubeDebugger in that pod: the same wrappers, init, exit trailer and fast attach as for ephemeral
 * debuggers.
 */
export interface NodePlan extends DebuggerPlan<NodeTarget> {
  readonly kind: 'node'
  readonly request: DebuggerRequest
  readonly spec: NodePodSpec
  readonly identity: SessionIdentity
  readonly session: string
}

export const isNodePlan = (plan: DebuggerPlan): plan is NodePlan => (plan as Partial<NodePlan>).kind === 'node'

/** The node, in whatever state it is (Ready or not: requireRunning decides), with the namespace its debugger would go to. */
export async function resolveNode(api: KubeApi, node: string, namespace: string): Promise<NodeTarget[]> {
  try {
    return [describeNode(await api.request<V1Node>('GET', `/api/v1/nodes/${encodeURIComponent(node)}`), namespace)]
  } catch (error) {
    if (error instanceof KubeStatusError && error.code === 404) throw new MindbgError('targetNotFound', `node ${node} not found`, 'List nodes with: kubectl get nodes')
    // Nodes are cluster-scoped: "get nodes" is a ClusterRole's.
    throw kubeError(error, {namespace: '', verb: 'get', resource: 'nodes'})
  }
}

export function planNode(
  target: NodeTarget,
  request: DebuggerRequest,
  streams: StreamMode,
  context: PlanContext,
  extra: {custom: Record<string, unknown> | undefined; podSecurity: PodSecurityLevel | undefined; session: string},
): NodePlan {
  const identity = {user: invokingUser(), startedAt: new Date().toISOString(), version: context.version, reason: request.reason}
  const name = nodeDebuggerName(target.nodeName)
  const spec = buildNodeDebugPod({node: target.nodeName, namespace: target.namespace, request, streams, identity, name, session: extra.session, custom: extra.custom})
  const profile = NODE_PROFILES[request.profile]
  const refused = refusesHostAccess(extra.podSecurity, spec)
  const notes = refused ? [...spec.notes, `namespace ${target.namespace} enforces Pod Security "${extra.podSecurity}", which refuses this pod (${refused})`] : spec.notes
  const sc = spec.pod.spec?.containers[0]?.securityContext
  return {
    kind: 'node',
    target,
    name,
    image: request.image,
    streams,
    command: request.command,
    request,
    spec: {...spec, notes},
    identity,
    session: extra.session,
    report: {
      runtime: 'kubernetes',
      // A node has no image: what it runs is its OS image (the kubelet's nodeInfo), said as such.
      target: {name: target.name, id: target.id, image: target.image, os: target.image, label: target.name, node: target.nodeName, namespace: target.namespace},
      image: request.image,
      imageReason: describeImageSource(request.imageSource, context.configPath),
      pull: spec.pod.spec?.containers[0]?.imagePullPolicy ?? '',
      profile: request.profile,
      user: describeRunAs(sc),
      joins: [
        ...(profile.hostNamespaces ? [`the PID, network and IPC namespaces of node ${target.nodeName}`] : [`a pod of its own on node ${target.nodeName}`]),
        ...(profile.hostRoot ? [`its filesystem at ${HOST_ROOT}`] : []),
      ],
      name,
      notes,
      command: request.command,
      spec: spec.pod,
    },
  }
}

/** What a namespace's Pod Security level refuses of the pod: host namespaces (baseline and up), hostPath, privileged. */
function refusesHostAccess(level: PodSecurityLevel | undefined, spec: NodePodSpec): string | undefined {
  if (level !== 'baseline' && level !== 'restricted') return undefined
  const podSpec = spec.pod.spec
  const what = [
    ...(podSpec?.hostPID || podSpec?.hostNetwork || podSpec?.hostIPC ? ['host namespaces'] : []),
    ...(podSpec?.volumes?.some((v) => v.hostPath) ? ['hostPath volumes'] : []),
    ...(podSpec?.containers.some((c) => c.securityContext?.privileged) ? ['privileged'] : []),
  ]
  return what.length > 0 ? what.join(', ') : undefined
}

/** Creates the pod (its watchdog armed first) and hands back the session's debugger, which deletes it at the end. */
export async function createNode(api: KubeApi, plan: NodePlan, reporter: Reporter): Promise<KubeDebugger> {
  const {namespace, nodeName} = plan.target
  let owned: OwnedPod
  try {
    owned = await OwnedPod.create(api, ownedPodManifest({pod: plan.spec.pod, role: 'node', session: plan.session, identity: plan.identity}))
  } catch (error) {
    throw podSecurityHint(error, namespace)
  }
  for (const note of plan.spec.notes) reporter.notice(`mindbg: ${note}`)
  const root = plan.spec.pod.spec?.volumes?.some((v) => v.hostPath) ? `; its filesystem is at ${HOST_ROOT}${plan.request.chroot ? ' (here /)' : ''}` : ''
  const notice = plan.command.length === 0 ? `mindbg: ${plan.name} is on node ${nodeName} (pod ${namespace}/${plan.name}, deleted when the session ends)${root}` : undefined
  return new KubeDebugger(
    api,
    plan.target,
    {
      namespace,
      pod: plan.name,
      container: NODE_CONTAINER,
      ownPod: {
        end: () => owned.delete(),
        keep: async () => void (await owned.keep()),
        leave: () =>
          `mindbg: detached from ${plan.name} on node ${nodeName}; it keeps running and is not deleted.\nRe-attach: mindbg attach node/${nodeName} -n ${namespace} --session ${plan.name}\nEnd it: kubectl delete pod ${plan.name} -n ${namespace}`,
      },
    },
    plan.name,
    plan.image,
    plan.streams,
    notice,
    {session: plan.session, startTimeoutMs: plan.request.startTimeoutMs, sharedPidNamespace: false},
  )
}

/**
 * A node debugger left running by a detach: by name (--session), or the newest shell on a terminal on that node
 * (--reuse). Taken over: the session that re-attaches deletes it when it ends (a detach keeps it again).
 */
export async function findNodeDebugger(api: KubeApi, target: NodeTarget, name: string | undefined, streams: StreamMode): Promise<KubeDebugger | undefined> {
  const {namespace, nodeName} = target
  const mine = (pod: V1Pod): boolean => pod.metadata?.labels?.[OWNED.role] === 'node' && pod.spec?.nodeName === nodeName && !pod.metadata.deletionTimestamp
  const running = (pod: V1Pod): boolean => Boolean(pod.status?.containerStatuses?.find((c) => c.name === NODE_CONTAINER)?.state?.running)
  let found: V1Pod | undefined
  const list = `List them with: mindbg ls -n ${namespace}`
  if (name !== undefined) {
    try {
      found = await api.request<V1Pod>('GET', podPath(namespace, name))
    } catch (error) {
      if (!(error instanceof KubeStatusError && error.code === 404)) throw kubeError(error, {namespace, verb: 'get', resource: 'pods'})
    }
    if (!found || !mine(found)) throw new MindbgError('sessionNotFound', `session ${name}: no mindbg debugger of node ${nodeName} in namespace ${namespace}`, list)
    if (!running(found)) throw new MindbgError('sessionNotFound', `session ${name}: has already ended`, list)
  } else {
    let pods: V1Pod[]
    try {
      pods = (await api.request<V1PodList>('GET', `${podPath(namespace)}?labelSelector=${encodeURIComponent(`${OWNED.role}=node`)}`)).items
    } catch (error) {
      throw kubeError(error, {namespace, verb: 'list', resource: 'pods'})
    }
    const shells = pods.filter((p) => mine(p) && running(p) && p.spec?.containers[0]?.tty && p.spec.containers[0].stdin)
    found = shells.sort((a, b) => String(a.metadata?.creationTimestamp ?? '').localeCompare(String(b.metadata?.creationTimestamp ?? ''))).pop()
    if (!found) return undefined
  }
  const pod = found.metadata?.name ?? ''
  const uid = found.metadata?.uid
  const container = found.spec?.containers[0]
  const mode: StreamMode = {...streams, stdin: true, tty: Boolean(container?.tty)}
  const notice = `mindbg: re-attaching to ${pod} on node ${nodeName}${mode.tty ? '; press Enter for a prompt' : ''}`
  return new KubeDebugger(
    api,
    target,
    {
      namespace,
      pod,
      container: NODE_CONTAINER,
      ownPod: {
        end: () => deleteOwnedPod(api, namespace, pod, uid).catch(() => {}),
        keep: async () => {},
        leave: () => `mindbg: detached from ${pod} on node ${nodeName}; it keeps running.\nRe-attach: mindbg attach node/${nodeName} -n ${namespace} --session ${pod}\nEnd it: kubectl delete pod ${pod} -n ${namespace}`,
      },
    },
    pod,
    container?.image ?? '',
    mode,
    notice,
    undefined,
  )
}

/** A Pod Security refusal of a node debugger, with what to do about it (the namespace label is often unreadable). */
function podSecurityHint(error: unknown, namespace: string): unknown {
  if (!(error instanceof MindbgError) || !/violates PodSecurity/i.test(error.message)) return error
  return new MindbgError(
    'sidecarFailed',
    `namespace ${namespace} does not admit a node debugger: ${error.message.replace(/^Pod Security refused the pod: /, '')}`,
    `Its Pod Security level forbids host namespaces and hostPath volumes: make the debugger in a namespace that allows them (-n NAMESPACE, one labelled pod-security.kubernetes.io/enforce=privileged), or use --profile baseline (no host namespaces, no ${HOST_ROOT}).`,
  )
}
