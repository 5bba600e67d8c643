import type {V1Node} from '@kubernetes/client-node'
import {describe, expect, it} from 'vitest'

import {sidecarRequest} from './fixtures.js'

import {CHROOT_SCRIPT} from '../../src/backends/chroot.js'
import {buildNodeDebugPod, describeNode, HOST_ROOT, NODE_LABEL, nodeDebuggerName} from '../../src/backends/kubernetes/node-spec.js'
import {planNode} from '../../src/backends/kubernetes/node.js'
import {formatDryRun} from '../../src/cli/dry-run.js'
import {ONE_SHOT_WRAPPER, RELAY_WRAPPER, TTY_WRAPPER, verbatim} from '../../src/backends/kubernetes/spec.js'
import {MindbgError} from '../../src/domain/errors.js'
import type {DebuggerRequest, StreamMode} from '../../src/domain/request.js'

const shell: StreamMode = {stdin: true, tty: true, detachKeys: [], detachKeysSpec: 'ctrl-p,ctrl-q'}
const oneShot: StreamMode = {stdin: false, tty: false, detachKeys: [], detachKeysSpec: 'ctrl-p,ctrl-q'}
const identity = {user: 'alice@laptop', startedAt: '2026-11-27T03:00:00.000Z', version: '0.1.0', reason: 'INC-9'}

const build = (request: Partial<DebuggerRequest> = {}, streams: StreamMode = shell, custom?: Record<string, unknown>) =>
  buildNodeDebugPod({node: 'worker-1', namespace: 'ops', request: sidecarRequest(request), streams, identity, name: 'mindbg-node-worker-1-bcdfg', session: 'abc123', custom})

const HOST = {hostPID: true, hostNetwork: true, hostIPC: true}
const ROOT_VOLUME = [{name: 'host-root', hostPath: {path: '/'}}]
const ROOT_MOUNT = [{name: 'host-root', mountPath: '/host'}]

// kubectl 1.34, pkg/cmd/debug/profiles.go, the `node` debug style of each profile.
describe('profiles, as kubectl debug node/NAME applies them', () => {
  it.each([
    {profile: 'legacy', host: true, root: true, sc: undefined},
    {profile: 'general', host: true, root: true, sc: undefined},
    {profile: 'baseline', host: false, root: false, sc: undefined},
    {profile: 'restricted', host: false, root: false, sc: {runAsNonRoot: true, runAsUser: 65532, capabilities: {drop: ['ALL']}, allowPrivilegeEscalation: false, seccompProfile: {type: 'RuntimeDefault'}}},
    {profile: 'netadmin', host: true, root: false, sc: {capabilities: {add: ['NET_ADMIN', 'NET_RAW']}}},
    {profile: 'sysadmin', host: true, root: true, sc: {privileged: true}},
  ] as const)('$profile', ({profile, host, root, sc}) => {
    const {pod} = build({profile})
    const spec = pod.spec!
    const container = spec.containers[0]!
    expect({hostPID: spec.hostPID, hostNetwork: spec.hostNetwork, hostIPC: spec.hostIPC}).toEqual(host ? HOST : {hostPID: undefined, hostNetwork: undefined, hostIPC: undefined})
    expect(spec.volumes).toEqual(root ? ROOT_VOLUME : undefined)
    expect(container.volumeMounts).toEqual(root ? ROOT_MOUNT : undefined)
    expect(container.securityContext).toEqual(sc)
    // Where the node's filesystem is, for the session's scripts.
    expect(container.env?.find((e) => e.name === 'MINDBG_TARGET_ROOT')?.value).toBe(root ? HOST_ROOT : undefined)
  })
})

describe('buildNodeDebugPod', () => {
  it("a shell: kubectl's node pod (nodeName, every taint tolerated, never restarted), under the terminal wrapper", () => {
    const {pod, notes} = build()
    expect(pod.metadata).toEqual({name: 'mindbg-node-worker-1-bcdfg', namespace: 'ops', labels: {[NODE_LABEL]: 'worker-1'}})
    expect(pod.spec).toMatchObject({nodeName: 'worker-1', restartPolicy: 'Never', tolerations: [{operator: 'Exists'}], terminationGracePeriodSeconds: 1, ...HOST, volumes: ROOT_VOLUME})
    expect(pod.spec!.containers).toHaveLength(1)
    expect(pod.spec!.containers[0]).toMatchObject({
      name: 'debugger',
      image: 'busybox:1.37.0-musl',
      imagePullPolicy: 'IfNotPresent',
      command: ['sh', '-c', verbatim(TTY_WRAPPER), 'mindbg', 'sh'],
      stdin: true,
      stdinOnce: true,
      tty: true,
    })
    expect(pod.spec!.containers[0]!.env).toEqual([
      {name: 'MINDBG_USER', value: 'alice@laptop'},
      {name: 'MINDBG_STARTED', value: '2026-11-27T03:00:00.000Z'},
      {name: 'MINDBG_VERSION', value: '0.1.0'},
      {name: 'MINDBG_REASON', value: 'INC-9'},
      {name: 'MINDBG_TARGET', value: 'node/worker-1'},
      {name: 'MINDBG_SESSION', value: 'abc123'},
      {name: 'MINDBG_TARGET_ROOT', value: '/host'},
    ])
    expect(notes).toEqual([])
  })

  it.each([
    {name: 'a command', command: ['ps'], streams: oneShot, wrapper: ONE_SHOT_WRAPPER},
    {name: 'a command with piped input', command: ['sh'], streams: {...oneShot, stdin: true}, wrapper: RELAY_WRAPPER},
    {name: 'a command on a terminal', command: ['top'], streams: shell, wrapper: TTY_WRAPPER},
  ])('$name: the wrapper for its streams, words escaped for the kubelet', ({command, streams, wrapper}) => {
    const {pod} = build({command: [...command, '$HOME']}, streams)
    expect(pod.spec!.containers[0]!.command).toEqual(['sh', '-c', verbatim(wrapper), 'mindbg', ...command, '$$HOME'])
    expect(pod.spec!.containers[0]!.tty).toBe(streams.tty)
  })

  it('--chroot: the chroot script into /host, the debug tools on PATH', () => {
    const {pod} = build({chroot: true, command: ['cat', '/etc/hostname']}, oneShot)
    const container = pod.spec!.containers[0]!
    expect(container.command).toEqual(['sh', '-c', verbatim(ONE_SHOT_WRAPPER), 'mindbg', 'sh', '-c', verbatim(CHROOT_SCRIPT), 'mindbg-chroot', 'cat', '/etc/hostname'])
    expect(container.env).toEqual(expect.arrayContaining([{name: 'MINDBG_TARGET_ROOT', value: '/host'}, {name: 'MINDBG_TARGET_PATH', value: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'}]))
  })

  it('--pull, --env, --workdir, --user, --cap-add, --privileged', () => {
    const {pod} = build({pull: 'never', env: ['A=$(B)'], workdir: '/host/var/log', user: '1000:2000', capAdd: ['SYS_PTRACE'], privileged: true})
    const container = pod.spec!.containers[0]!
    expect(container).toMatchObject({imagePullPolicy: 'Never', workingDir: '/host/var/log', securityContext: {privileged: true, runAsUser: 1000, runAsGroup: 2000, capabilities: {add: ['SYS_PTRACE']}}})
    expect(container.env?.at(-1)).toEqual({name: 'A', value: '$$(B)'})
  })

  it('restricted with --user: that user, not the fallback', () => {
    expect(build({profile: 'restricted', user: '4242'}).pod.spec!.containers[0]!.securityContext?.runAsUser).toBe(4242)
  })

  it('says what a profile without host namespaces or /host leaves out', () => {
    expect(build({profile: 'baseline'}).notes).toEqual([expect.stringMatching(/own namespaces/)])
    expect(build({profile: 'netadmin'}).notes).toEqual([expect.stringMatching(/not mounted/)])
    expect(build({profile: 'restricted'}).notes).toEqual([expect.stringMatching(/uid 65532/), expect.stringMatching(/own namespaces/)])
  })

  it('--custom merges into the container', () => {
    const {pod} = build({}, shell, {resources: {limits: {memory: '64Mi'}}, env: [{name: 'X', value: '1'}]})
    expect(pod.spec!.containers[0]).toMatchObject({resources: {limits: {memory: '64Mi'}}})
    expect(pod.spec!.containers[0]!.env?.at(-1)).toEqual({name: 'X', value: '1'})
  })

  it('a node name too long for a label value is left out of the labels', () => {
    const node = `n${'x'.repeat(70)}`
    const {pod} = buildNodeDebugPod({node, namespace: 'ops', request: sidecarRequest(), streams: shell, identity, name: nodeDebuggerName(node), session: 's', custom: undefined})
    expect(pod.metadata?.labels).toEqual({})
    expect(pod.spec?.nodeName).toBe(node)
  })

  it.each([
    [{chroot: true, profile: 'baseline'}, /--chroot needs the node's filesystem at \/host, which --profile baseline/],
    [{chroot: true, profile: 'netadmin'}, /--profile netadmin does not mount/],
    [{shareVolumes: true}, /--share-volumes/],
    [{imageSource: 'sibling', image: ''}, /--sibling/],
  ] as const)('refuses %j', (request, message) => {
    let error: unknown
    try {
      build(request as Partial<DebuggerRequest>)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(MindbgError)
    expect((error as MindbgError).exitCode).toBe(2)
    expect((error as MindbgError).message).toMatch(message)
  })
})

describe('nodeDebuggerName', () => {
  it.each(['worker-1', 'ip-10-0-1-23.eu-west-1.compute.internal', 'a'.repeat(253)])('%s: a DNS label of at most 63 characters', (node) => {
    const name = nodeDebuggerName(node, () => 0)
    expect(name.length).toBeLessThanOrEqual(63)
    expect(name).toMatch(/^mindbg-node-[a-z0-9]([-a-z0-9.]*[a-z0-9])?-bbbbb$/)
  })
})

describe('describeNode', () => {
  const node = (ready: {status: string; reason?: string; message?: string} | undefined): V1Node => ({
    metadata: {name: 'worker-1', uid: 'u-1'},
    status: {conditions: ready ? [{type: 'MemoryPressure', status: 'False'}, {type: 'Ready', ...ready}] : [], nodeInfo: {osImage: 'Debian GNU/Linux 12'} as never},
  })

  it.each([
    [{status: 'True'}, 'running', ''],
    [{status: 'False', reason: 'KubeletNotReady', message: 'container runtime is down'}, 'stopped', 'node worker-1 is not Ready (Ready is False (KubeletNotReady: container runtime is down))'],
    [{status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.'}, 'pending', 'node worker-1 is not Ready (Ready is Unknown (NodeStatusUnknown: Kubelet stopped posting node status.))'],
    [undefined, 'pending', 'node worker-1 is not Ready (no Ready condition)'],
  ] as const)('%j -> %s', (ready, state, message) => {
    const target = describeNode(node(ready), 'ops')
    expect(target).toMatchObject({runtime: 'kubernetes', kind: 'node', name: 'node worker-1', ref: 'node/worker-1', id: 'u-1', node: 'worker-1', namespace: 'ops', image: 'Debian GNU/Linux 12', state, stateMessage: message})
    if (state !== 'running') expect(target.stateHint).toBe('Look at why: kubectl describe node worker-1')
  })
})

describe('planNode: what --dry-run shows', () => {
  const target = describeNode({metadata: {name: 'worker-1', uid: 'u-1'}, status: {conditions: [{type: 'Ready', status: 'True'}], nodeInfo: {osImage: 'Debian GNU/Linux 12'} as never}}, 'ops')
  const plan = (request: Partial<DebuggerRequest>, podSecurity?: 'baseline' | 'restricted') =>
    planNode(target, sidecarRequest(request), oneShot, {version: '0.1.0', configPath: undefined}, {custom: undefined, podSecurity, session: 's1'})

  it('the pod, what it joins, and no note where nothing is refused', () => {
    const {report, name, spec} = plan({command: ['ps']})
    expect(report).toMatchObject({runtime: 'kubernetes', profile: 'general', pull: 'IfNotPresent', user: '(the image default)', name, notes: [], command: ['ps']})
    expect(report.joins).toEqual(['the PID, network and IPC namespaces of node worker-1', 'its filesystem at /host'])
    expect(report.spec).toBe(spec.pod)
    expect(name).toMatch(/^mindbg-node-worker-1-[a-z0-9]{5}$/)
    // A node runs no image: the line says what it does run.
    expect(formatDryRun(report)).toMatch(/^target: +node worker-1, OS Debian GNU\/Linux 12$/m)
  })

  it.each([
    ['baseline', 'general', 'host namespaces, hostPath volumes'],
    ['restricted', 'sysadmin', 'host namespaces, hostPath volumes, privileged'],
    ['baseline', 'netadmin', 'host namespaces'],
  ] as const)('namespace enforcing %s, --profile %s: a note that it will be refused (%s)', (level, profile, what) => {
    expect(plan({profile}, level).report.notes.at(-1)).toBe(`namespace ops enforces Pod Security "${level}", which refuses this pod (${what})`)
  })

  it('a profile the namespace admits: no such note', () => {
    expect(plan({profile: 'baseline'}, 'baseline').report.notes.join('\n')).not.toMatch(/refuses/)
    expect(plan({profile: 'restricted'}, 'restricted').report.notes.join('\n')).not.toMatch(/refuses/)
  })
})
