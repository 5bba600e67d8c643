/**
 * The nodes resource: the simulator's one node (the Docker host), read-only (get, list, watch).
 *
 * The Node carries what kubectl and clients read: labels kubernetes.io/hostname, kubernetes.io/os,
 * kubernetes.io/arch (and their beta twins), the conditions a healthy kubelet posts (Ready=True, no pressure),
 * addresses (127.0.0.1 and the node name only: nothing routable is ever advertised), capacity/allocatable from the
 * engine's CPU and memory, nodeInfo from `docker info`. Heartbeats are not renewed (no node lifecycle controller
 * would notice), and writes are refused: a test that wants another node state would need a second kubelet.
 */
import {randomUUID} from 'node:crypto'
import {listOrWatch, respondObject} from './collection.ts'
import type {Call, SimContext} from './context.ts'
import {VERSION} from './discovery.ts'
import {timestamp} from './pod-status.ts'
import {methodNotAllowed, notFound, pathNotFound} from './status.ts'
import type {Obj} from './store.ts'

/** The fields of `docker info` (GET /info) the Node is made from. */
export interface EngineInfo {
  ID?: string
  Architecture?: string
  NCPU?: number
  MemTotal?: number
  KernelVersion?: string
  OperatingSystem?: string
  ServerVersion?: string
}

/** GOARCH names for what the engine reports (uname -m). */
const GOARCH: Record<string, string> = {x86_64: 'amd64', aarch64: 'arm64', armv7l: 'arm', s390x: 's390x', ppc64le: 'ppc64le'}

/** The kubelet's node object, from the engine's `docker info`. */
export function newNode(name: string, info: EngineInfo = {}): Obj {
  const arch = GOARCH[String(info.Architecture ?? '')] ?? String(info.Architecture ?? 'amd64')
  const now = timestamp(new Date())
  const cpu = String(info.NCPU ?? 1)
  const memory = `${Math.floor(Number(info.MemTotal ?? 0) / 1024)}Ki`
  const resources = {cpu, 'ephemeral-storage': '0', 'hugepages-1Gi': '0', 'hugepages-2Mi': '0', memory, pods: '110'}
  const condition = (type: string, status: string, reason: string, message: string): Obj =>
    ({type, status, lastHeartbeatTime: now, lastTransitionTime: now, reason, message})
  return {
    kind: 'Node', apiVersion: 'v1',
    metadata: {
      name, uid: randomUUID(), creationTimestamp: now,
      labels: {
        'beta.kubernetes.io/arch': arch, 'beta.kubernetes.io/os': 'linux', 'kubernetes.io/arch': arch,
        'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', 'node-role.kubernetes.io/control-plane': '',
      },
      annotations: {'node.alpha.kubernetes.io/ttl': '0', 'volumes.kubernetes.io/controller-managed-attach-detach': 'true'},
    },
    spec: {},
    status: {
      capacity: resources,
      allocatable: resources,
      conditions: [
        condition('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
        condition('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
        condition('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
        condition('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'),
      ],
      addresses: [{type: 'InternalIP', address: '127.0.0.1'}, {type: 'Hostname', address: name}],
      daemonEndpoints: {kubeletEndpoint: {Port: 10250}},
      nodeInfo: {
        machineID: String(info.ID ?? '').replace(/[^0-9a-zA-Z]/g, '').toLowerCase().slice(0, 32),
        systemUUID: randomUUID(),
        bootID: randomUUID(),
        kernelVersion: String(info.KernelVersion ?? ''),
        osImage: String(info.OperatingSystem ?? ''),
        containerRuntimeVersion: `docker://${String(info.ServerVersion ?? '')}`,
        kubeletVersion: VERSION.gitVersion,
        kubeProxyVersion: '',
        operatingSystem: 'linux',
        architecture: arch,
      },
    },
  }
}

export function handleNodes(ctx: SimContext, call: Call): void {
  if (call.subresource !== undefined) throw pathNotFound()
  switch (call.verb) {
    case 'get': {
      const node = ctx.store.get('nodes', undefined, call.name!)
      if (!node) throw notFound('nodes', call.name!)
      return respondObject(call, 200, node)
    }
    case 'list':
    case 'watch':
      return listOrWatch(ctx, call)
    default:
      throw methodNotAllowed()
  }
}
