import type {V1Pod, V1PodStatus} from '@kubernetes/client-node'
import {describe, expect, it} from 'vitest'

import {OWNED, OWNED_POD_DEADLINE_SECONDS, ownedOrphanReason, ownedPodManifest, podProgress, reaperArgs} from '../../src/backends/kubernetes/owned-pod.js'

const identity = {user: 'alice@laptop', startedAt: '2026-11-27T03:00:00.000Z', version: '0.1.0', reason: 'INC-9'}
const base: V1Pod = {metadata: {name: 'web-copy', namespace: 'shop', labels: {app: 'web'}}, spec: {containers: [{name: 'app', image: 'app'}, {name: 'mindbg-abcde', image: 'busybox'}]}}
const withStatus = (status: V1PodStatus, meta: Partial<NonNullable<V1Pod['metadata']>> = {}): V1Pod => ({...base, metadata: {...base.metadata, ...meta}, status})

describe('ownedPodManifest', () => {
  it.each([
    ['the default bound', undefined, undefined, OWNED_POD_DEADLINE_SECONDS],
    ["the pod's own, smaller bound kept", 600, undefined, 600],
    ['a given bound', undefined, 60, 60],
    ['no bound (a kept copy)', 600, null, undefined],
  ] as const)('%s', (_what, own, given, expected) => {
    const pod = {...base, spec: {...base.spec!, ...(own === undefined ? {} : {activeDeadlineSeconds: own})}}
    const m = ownedPodManifest({pod, role: 'copy', session: 's1', identity, annotations: {[OWNED.copyOf]: 'web'}, ...(given === undefined ? {} : {deadlineSeconds: given})})
    expect(m.spec?.activeDeadlineSeconds).toBe(expected)
    expect(m.metadata?.labels).toEqual({app: 'web', [OWNED.role]: 'copy', [OWNED.session]: 's1'})
    expect(m.metadata?.annotations).toMatchObject({'mindbg.org/user': 'alice@laptop', 'mindbg.org/reason': 'INC-9', [OWNED.copyOf]: 'web'})
    expect(m.kind).toBe('Pod')
  })
})

describe('podProgress: waiting for a container of an owned pod', () => {
  const running = {name: 'mindbg-abcde', state: {running: {}}, ready: true, restartCount: 0, image: '', imageID: ''}
  it.each<[string, V1Pod, string, RegExp?]>([
    ['running', withStatus({phase: 'Running', containerStatuses: [running]}), 'ready'],
    ['ended already', withStatus({phase: 'Running', containerStatuses: [{...running, state: {terminated: {exitCode: 3}}}]}), 'ready'],
    ['unschedulable', withStatus({phase: 'Pending', conditions: [{type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available'}]}), 'waiting', /cannot be scheduled: 0\/3 nodes/],
    ['an image that cannot be pulled', withStatus({phase: 'Pending', containerStatuses: [{...running, state: {waiting: {reason: 'ImagePullBackOff', message: 'Back-off pulling image "x"'}}}]}), 'waiting', /container mindbg-abcde is waiting: ImagePullBackOff: Back-off/],
    ['an init container pulling', withStatus({phase: 'Pending', initContainerStatuses: [{...running, name: 'mindbg-hold', state: {waiting: {reason: 'ErrImagePull'}}}]}), 'waiting', /init container mindbg-hold is waiting: ErrImagePull/],
    ['just created', withStatus({phase: 'Pending', containerStatuses: [{...running, state: {waiting: {reason: 'ContainerCreating'}}}]}), 'waiting', /^$/],
    ['a failed init container', withStatus({phase: 'Pending', initContainerStatuses: [{...running, name: 'mindbg-hold', state: {terminated: {exitCode: 1, reason: 'Error'}}}]}), 'failed', /init container mindbg-hold of pod shop\/web-copy failed \(exit code 1, Error\)/],
    ['a config error', withStatus({phase: 'Pending', containerStatuses: [{...running, state: {waiting: {reason: 'CreateContainerConfigError', message: 'secret "s" not found'}}}]}), 'failed', /CreateContainerConfigError: secret "s" not found/],
    ['the pod ended', withStatus({phase: 'Failed', reason: 'DeadlineExceeded', message: 'Pod was active too long'}), 'failed', /ended before mindbg-abcde ran \(DeadlineExceeded: Pod was active/],
    ['being deleted', withStatus({phase: 'Pending'}, {deletionTimestamp: new Date()}), 'failed', /is being deleted/],
  ])('%s', (_what, pod, kind, text) => {
    const p = podProgress(pod, 'mindbg-abcde')
    expect(p.kind).toBe(kind)
    if (p.kind === 'waiting') expect(p.text).toMatch(text!)
    if (p.kind === 'failed') expect(p.error.message).toMatch(text!)
  })
})

describe('ownedOrphanReason: what prune deletes', () => {
  const dbg = (state: object) => ({name: 'mindbg-abcde', state, ready: true, restartCount: 0, image: '', imageID: ''})
  it.each<[string, V1Pod, string | undefined]>([
    ['a live session', withStatus({phase: 'Running', containerStatuses: [dbg({running: {}})]}), undefined],
    ['its debugger exited', withStatus({phase: 'Running', containerStatuses: [dbg({terminated: {exitCode: 0}})]}), 'its debugger mindbg-abcde exited'],
    ['finished', withStatus({phase: 'Failed', reason: 'DeadlineExceeded'}), 'pod Failed (DeadlineExceeded)'],
    ['kept by --keep', withStatus({phase: 'Succeeded'}, {annotations: {[OWNED.kept]: 'true'}}), undefined],
    ['being deleted', withStatus({phase: 'Failed'}, {deletionTimestamp: new Date()}), undefined],
  ])('%s', (_what, pod, why) => expect(ownedOrphanReason(pod)).toBe(why))
})

it("the reaper's arguments: the same kubeconfig and context, then the pod of this session", () => {
  expect(reaperArgs({kubeconfig: '/k', context: undefined}, 'ctx', 'shop', 'web-copy', 's1')).toEqual(['--kubeconfig', '/k', '--context', 'ctx', 'shop', 'web-copy', 's1'])
  expect(reaperArgs({context: 'other'}, 'ctx', 'shop', 'web-copy', 's1')).toEqual(['--context', 'other', 'shop', 'web-copy', 's1'])
})

describe('deleteOwnedPod on the wire', () => {
  it("sends DeleteOptions the server reads (uid precondition, 1 s grace) and takes the server's answer", async () => {
    const {createServer} = await import('node:http')
    const {mkdtempSync, writeFileSync} = await import('node:fs')
    const {tmpdir} = await import('node:os')
    const {join} = await import('node:path')
    const {KubeApi} = await import('../../src/backends/kubernetes/api.js')
    const {deleteOwnedPod} = await import('../../src/backends/kubernetes/owned-pod.js')
    const seen: Array<{method: string; url: string; body: string}> = []
    const server = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        seen.push({method: req.method ?? '', url: req.url ?? '', body: Buffer.concat(chunks).toString()})
        res.setHeader('Content-Type', 'application/json')
        res.end('{"kind":"Pod","metadata":{"name":"web-copy"}}')
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as {port: number}).port
    const kubeconfig = join(mkdtempSync(join(tmpdir(), 'mindbg-owned-')), 'config')
    writeFileSync(kubeconfig, `apiVersion: v1\nkind: Config\ncurrent-context: t\nclusters: [{name: t, cluster: {server: "http://127.0.0.1:${port}"}}]\nusers: [{name: t, user: {token: x}}]\ncontexts: [{name: t, context: {cluster: t, user: t}}]\n`)
    const api = await KubeApi.connect({kubeconfig})
    try {
      await deleteOwnedPod(api, 'shop', 'web-copy', 'uid-1')
      await deleteOwnedPod(api, 'shop', 'web-copy', 'uid-1')
    } finally {
      api.close()
      server.close()
    }
    expect(seen).toHaveLength(2)
    for (const r of seen) {
      expect(r).toMatchObject({method: 'DELETE', url: '/api/v1/namespaces/shop/pods/web-copy'})
      expect(JSON.parse(r.body)).toMatchObject({gracePeriodSeconds: 1, preconditions: {uid: 'uid-1'}})
    }
  })
})
