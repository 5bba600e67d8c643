import type {V1Pod} from '@kubernetes/client-node'
import {describe, expect, it} from 'vitest'

import {sidecarRequest} from './fixtures.js'

import {asCopied, buildPodCopy, entrypointOf, HOLD_DIR, HOLD_INIT, HOLD_VOLUME, needsImageConfig} from '../../src/backends/kubernetes/copy.js'
import {buildEphemeralContainer} from '../../src/backends/kubernetes/spec.js'
import {describeTarget} from '../../src/backends/kubernetes/target.js'
import {copyRequest as copyFlags} from '../../src/cli/attach-plan.js'
import type {CopyRequest, StreamMode} from '../../src/domain/request.js'

const probe = {httpGet: {path: '/', port: 8080}}
const original: V1Pod = {
  metadata: {name: 'web', namespace: 'shop', labels: {app: 'web'}, annotations: {team: 'payments'}, uid: 'u1', resourceVersion: '7'},
  spec: {
    nodeName: 'node-3',
    initContainers: [{name: 'migrate', image: 'migrate:1'}],
    containers: [
      {name: 'app', image: 'app:1', args: ['--port', '8080'], livenessProbe: probe, readinessProbe: probe, startupProbe: probe},
      {name: 'proxy', image: 'envoy:1', livenessProbe: probe},
    ],
    ephemeralContainers: [{name: 'debugger-abc', image: 'busybox'}],
  },
  status: {phase: 'Running'},
}
const oneShot: StreamMode = {stdin: false, tty: false, detachKeys: [], detachKeysSpec: 'ctrl-p,ctrl-q'}
const identity = {user: 'alice@laptop', startedAt: '2026-11-27T03:00:00.000Z', version: '0.1.0', reason: undefined}
const copyRequest = (over: Partial<CopyRequest> = {}): CopyRequest => ({
  name: 'web-debug',
  setImages: [],
  keep: {labels: false, annotations: false, liveness: false, readiness: false, startup: false, initContainers: true},
  sameNode: false,
  replace: false,
  keepCopy: false,
  hold: false,
  ...over,
})
const debuggerFor = (pod: V1Pod) =>
  buildEphemeralContainer({pod: asCopied(pod), target: 'app', request: sidecarRequest({command: ['ps']}), streams: oneShot, identity, name: 'mindbg-abcde', podSecurity: undefined, custom: undefined, session: 's1'}).container
const copyOf = (over: Partial<CopyRequest> = {}, entrypoint?: string[]) =>
  buildPodCopy({pod: original, target: 'app', copy: copyRequest(over), debugger: debuggerFor(original), image: 'busybox:1.37.0-musl', ...(entrypoint ? {entrypoint} : {})})

describe('buildPodCopy: the copy as kubectl debug --copy-to makes it', () => {
  it.each<[string, Partial<CopyRequest>, (pod: V1Pod) => void]>([
    ['the defaults: labels, annotations and probes dropped, init containers kept, off the node, ephemeral containers gone', {}, (p) => {
      expect(p.metadata).toEqual({name: 'web-debug', namespace: 'shop', annotations: {'kubectl.kubernetes.io/default-container': 'app'}})
      expect(p.spec?.containers.map((c) => [c.livenessProbe, c.readinessProbe, c.startupProbe])).toEqual([[undefined, undefined, undefined], [undefined, undefined, undefined], [undefined, undefined, undefined]])
      expect(p.spec?.initContainers?.map((c) => c.name)).toEqual(['migrate'])
      expect(p.spec?.nodeName).toBeUndefined()
      expect(p.spec?.ephemeralContainers).toBeUndefined()
      expect(p.spec?.shareProcessNamespace).toBe(true)
      expect(p.spec?.restartPolicy).toBe('Never')
      expect(p).not.toHaveProperty('status')
    }],
    ['--keep-labels --keep-annotations', {keep: {labels: true, annotations: true, liveness: false, readiness: false, startup: false, initContainers: true}}, (p) => {
      expect(p.metadata?.labels).toEqual({app: 'web'})
      expect(p.metadata?.annotations).toEqual({team: 'payments', 'kubectl.kubernetes.io/default-container': 'app'})
    }],
    ['--keep-liveness --keep-startup, --no-keep-init-containers', {keep: {labels: false, annotations: false, liveness: true, readiness: false, startup: true, initContainers: false}}, (p) => {
      expect(p.spec?.containers[0]).toMatchObject({livenessProbe: probe, startupProbe: probe})
      expect(p.spec?.containers[0]?.readinessProbe).toBeUndefined()
      expect(p.spec?.containers[1]?.livenessProbe).toEqual(probe)
      expect(p.spec?.initContainers).toBeUndefined()
    }],
    ['--same-node', {sameNode: true}, (p) => expect(p.spec?.nodeName).toBe('node-3')],
    ['--set-image app=..., and "*" for the rest (not for init containers)', {setImages: [{container: '*', image: 'dbg:all'}, {container: 'app', image: 'app:debug'}]}, (p) => {
      expect(p.spec?.containers.slice(0, 2).map((c) => c.image)).toEqual(['app:debug', 'dbg:all'])
      expect(p.spec?.initContainers?.[0]?.image).toBe('migrate:1')
    }],
    ['the debugger: the last container, no targetContainerName, wrapped in the dead-man switch', {}, (p) => {
      const dbg = p.spec!.containers[2]!
      expect(dbg.name).toBe('mindbg-abcde')
      expect(dbg).not.toHaveProperty('targetContainerName')
      expect(dbg.command?.slice(0, 4)).toEqual(['sh', '-c', expect.stringContaining('kill -KILL -1'), 'mindbg'])
      expect(dbg.command?.slice(-1)).toEqual(['ps'])
      expect(dbg.env?.find((e) => e.name === 'MINDBG_TARGET_ROOT')).toBeUndefined()
    }],
    ['--keep: no dead-man switch (the copy outlives the session)', {keepCopy: true}, (p) => {
      expect(p.spec!.containers[2]!.command?.[2]).not.toContain('kill -KILL -1')
    }],
  ])('%s', (_what, over, check) => check(copyOf(over).pod))

  it('--chroot: the words go through the chroot script, as root with SYS_CHROOT', () => {
    const dbg = buildPodCopy({pod: original, target: 'app', copy: copyRequest(), debugger: debuggerFor(original), image: 'busybox', chroot: true}).pod.spec!.containers.at(-1)!
    expect(dbg.command?.slice(-5)).toEqual(['sh', '-c', expect.stringContaining('chroot "$$MINDBG_TARGET_ROOT" "$$@"'), 'mindbg-chroot', 'ps'])
    expect(dbg.securityContext).toMatchObject({runAsUser: 0, runAsNonRoot: false, capabilities: {add: expect.arrayContaining(['SYS_CHROOT'])}})
    expect(dbg.env).toContainEqual({name: 'MINDBG_TARGET_PATH', value: expect.stringContaining('/usr/bin')})
  })

  it('the original is not changed', () => {
    const before = structuredClone(original)
    copyOf({hold: true, setImages: [{container: '*', image: 'x:1'}]}, ['/app/web', '--port', '8080'])
    expect(original).toEqual(before)
  })

  it('--set-image for a container the pod does not have is a usage error', () => {
    expect(() => copyOf({setImages: [{container: 'nope', image: 'x:1'}]})).toThrow(/has no container nope/)
  })
})

describe('--hold', () => {
  const held = copyOf({hold: true}, ['/app/web', '--port', '8080']).pod

  it('the target runs the held wrapper with the busybox of the emptyDir, its entrypoint as arguments', () => {
    const app = held.spec!.containers[0]!
    expect(app.command?.slice(0, 3)).toEqual([`${HOLD_DIR}/busybox`, 'sh', '-c'])
    expect(app.command?.slice(4)).toEqual(['mindbg-hold', '/app/web', '--port', '8080'])
    expect(app).not.toHaveProperty('args')
    // The kubelet would expand $(...) and $$: the wrapper is escaped.
    expect(app.command?.[3]).toContain('$$b mkfifo')
    expect(app.volumeMounts).toContainEqual({name: HOLD_VOLUME, mountPath: HOLD_DIR})
  })

  it('an init container from the debug image puts busybox and mindbg-release there, unprivileged', () => {
    const init = held.spec!.initContainers!.at(-1)!
    expect(init).toMatchObject({name: HOLD_INIT, image: 'busybox:1.37.0-musl', securityContext: {runAsNonRoot: true, runAsUser: 65532, allowPrivilegeEscalation: false, capabilities: {drop: ['ALL']}}})
    expect(held.spec!.volumes).toContainEqual({name: HOLD_VOLUME, emptyDir: {}})
  })

  it('the debugger has mindbg-release on its PATH', () => {
    const dbg = held.spec!.containers.at(-1)!
    expect(dbg.env).toContainEqual({name: 'MINDBG_PATH', value: `${HOLD_DIR}/bin`})
    expect(dbg.volumeMounts).toContainEqual({name: HOLD_VOLUME, mountPath: HOLD_DIR})
  })
})

describe('entrypointOf: what --hold holds', () => {
  const image = {entrypoint: ['/app/web'], cmd: ['8080']}
  it.each<[string, {command?: string[]; args?: string[]}, {entrypoint: string[]; cmd: string[]} | undefined, string[]]>([
    ['command and args from the spec', {command: ['/srv', '-v'], args: ['$(PORT)']}, undefined, ['/srv', '-v', '$(PORT)']],
    ['args only: the image entrypoint, then the args', {args: ['--die-after', '1']}, image, ['/app/web', '--die-after', '1']],
    ['neither: the image entrypoint and cmd', {}, image, ['/app/web', '8080']],
    ["the image's words are escaped for the kubelet", {}, {entrypoint: ['/x'], cmd: ['$HOME']}, ['/x', '$$HOME']],
  ])('%s', (_what, c, img, words) => {
    const container = {name: 'app', image: 'app:1', ...c}
    expect(needsImageConfig(container)).toBe(img !== undefined)
    expect(entrypointOf(container, img)).toEqual(words)
  })

  it('nothing to hold is a usage error', () => {
    expect(() => entrypointOf({name: 'app', image: 'scratch'}, {entrypoint: [], cmd: []})).toThrow(/has no command/)
  })
})

describe('copyRequest: the flags, checked as kubectl checks them', () => {
  it.each<[string, Record<string, unknown>, RegExp | Partial<CopyRequest> | undefined]>([
    ['no --copy-to: nothing', {}, undefined],
    ['--set-image without --copy-to', {'set-image': ['app=x:1']}, /--set-image may only be used with --copy-to/],
    ['--hold without --copy-to', {hold: true}, /--hold may only be used with --copy-to/],
    ['a bad pod name', {'copy-to': 'Web_Debug'}, /not a valid pod name/],
    ['a bad --set-image', {'copy-to': 'c', 'set-image': ['app']}, /bad --set-image "app"/],
    ["kubectl's defaults", {'copy-to': 'c'}, {name: 'c', keep: {labels: false, annotations: false, liveness: false, readiness: false, startup: false, initContainers: true}, keepCopy: false, hold: false}],
    ['comma-separated --set-image, --no-keep-init-containers', {'copy-to': 'c', 'set-image': ['app=a:1,side=b:2'], 'keep-init-containers': false}, {setImages: [{container: 'app', image: 'a:1'}, {container: 'side', image: 'b:2'}], keep: expect.objectContaining({initContainers: false})}],
    ['--replace keeps the copy (the original is gone)', {'copy-to': 'c', replace: true}, {replace: true, keepCopy: true}],
  ])('%s', (_what, flags, expected) => {
    const run = () => copyFlags(flags as never)
    if (expected instanceof RegExp) expect(run).toThrow(expected)
    else if (expected === undefined) expect(run()).toBeUndefined()
    else expect(run()).toMatchObject(expected)
  })
})

describe('describeTarget: a container that is not running points at --copy-to --hold', () => {
  const podWith = (state: object, restartCount: number): V1Pod => ({
    metadata: {name: 'api', namespace: 'shop', uid: 'u'},
    spec: {containers: [{name: 'app', image: 'app:1'}]},
    status: {phase: 'Running', containerStatuses: [{name: 'app', state, restartCount, ready: false, image: 'app:1', imageID: ''}]},
  })
  it.each<[string, object, number, string, RegExp]>([
    ['CrashLoopBackOff', {waiting: {reason: 'CrashLoopBackOff'}}, 4, 'restarting', /CrashLoopBackOff, 4 restarts/],
    ['between two runs of a loop', {terminated: {exitCode: 3}}, 1, 'restarting', /terminated, exit code 3, 1 restart$/],
    ['exited once', {terminated: {exitCode: 3}}, 0, 'stopped', /terminated, exit code 3$/],
  ])('%s', (_what, state, restarts, expected, detail) => {
    const t = describeTarget(podWith(state, restarts), 'shop', 'api', 'app')
    expect(t.state).toBe(expected)
    expect(t.stateDetail).toMatch(detail)
    expect(t.stateHint).toMatch(/cannot join a container that is not running: .*mindbg attach pod\/api -n shop -c app --copy-to api-debug --hold/)
  })
  const restartedAgo = (ms: number, lastRunMs = 1000): V1Pod => {
    const p = podWith({running: {startedAt: new Date(Date.now() - ms)}}, 2)
    const finishedAt = new Date(Date.now() - ms - 500)
    p.status!.containerStatuses![0]!.lastState = {terminated: {exitCode: 3, finishedAt, startedAt: new Date(finishedAt.getTime() - lastRunMs)}}
    return p
  }
  it('running again a moment after a crash: crash-looping, pointed at --copy-to --hold', () => {
    const t = describeTarget(restartedAgo(400), 'shop', 'api', 'app')
    expect(t.state).toBe('restarting')
    expect(t.stateDetail).toMatch(/^restarted 0\.\d s ago after exit code 3, 2 restarts: crash-looping$/)
    expect(t.stateHint).toMatch(/--copy-to api-debug --hold/)
  })
  it('running for a while after a restart, restarted after a long run, restarted once, or never: debugged in place', () => {
    expect(describeTarget(restartedAgo(60_000), 'shop', 'api', 'app').state).toBe('running')
    expect(describeTarget(restartedAgo(400, 3_600_000), 'shop', 'api', 'app').state).toBe('running')
    const once = restartedAgo(400)
    once.status!.containerStatuses![0]!.restartCount = 1
    expect(describeTarget(once, 'shop', 'api', 'app').state).toBe('running')
    expect(describeTarget(podWith({running: {}}, 0), 'shop', 'api', 'app').state).toBe('running')
  })
})
