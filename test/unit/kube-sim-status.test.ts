/**
 * The simulator's kubelet arithmetic, table-driven: pod phase as the kubelet's getPhase computes it from container
 * views (restarts included), and the back-off message's Go durations.
 */
import {describe, expect, it} from 'vitest'

import {goDuration} from '../support/kube-sim/docker-backend.ts'
import {type ContainerView, type TerminatedView, computeStatus} from '../support/kube-sim/pod-status.ts'

const ended = (exitCode: number): TerminatedView => ({state: 'terminated', exitCode, reason: exitCode === 0 ? 'Completed' : 'Error',
  startedAt: '2026-01-01T00:00:00Z', finishedAt: '2026-01-01T00:00:01Z'})
const running: ContainerView = {state: 'running', startedAt: '2026-01-01T00:00:00Z', containerID: 'docker://x', imageID: 'sha256:y'}
const backingOff = (exitCode: number): ContainerView => ({state: 'waiting', reason: 'CrashLoopBackOff', restartCount: 2, lastState: ended(exitCode)})
const creating: ContainerView = {state: 'waiting', reason: 'ContainerCreating'}

function phase(restartPolicy: string | undefined, app: ContainerView[], init: ContainerView[] = []): string {
  const spec = {
    ...(restartPolicy ? {restartPolicy} : {}),
    containers: app.map((_, i) => ({name: `c${i}`, image: 'busybox'})),
    ...(init.length > 0 ? {initContainers: init.map((_, i) => ({name: `i${i}`, image: 'busybox'}))} : {}),
  }
  const containers = new Map<string, ContainerView>([...app.map((v, i) => [`c${i}`, v] as const), ...init.map((v, i) => [`i${i}`, v] as const)])
  return computeStatus({metadata: {name: 'p'}, spec}, {sandboxReady: true, containers}, new Date()).phase
}

describe('getPhase', () => {
  it.each([
    ['Always', [running, ended(0)], [], 'Running'],
    ['Always', [ended(0)], [], 'Running'], // all stopped, but being restarted
    ['Always', [backingOff(2)], [], 'Running'], // CrashLoopBackOff counts as stopped
    [undefined, [ended(1)], [], 'Running'], // the API default is Always
    ['OnFailure', [ended(0), ended(0)], [], 'Succeeded'],
    ['OnFailure', [ended(0), ended(3)], [], 'Running'], // the failed one is restarted
    ['Never', [ended(0), ended(3)], [], 'Failed'],
    ['Never', [ended(0)], [], 'Succeeded'],
    ['Never', [creating], [], 'Pending'],
    ['Never', [running, creating], [], 'Pending'],
    ['Never', [creating], [ended(1)], 'Failed'], // a failed init container fails the pod under Never only
    ['Always', [creating], [ended(1)], 'Pending'],
    ['OnFailure', [creating], [backingOff(1)], 'Pending'], // Init:CrashLoopBackOff
    ['Always', [creating], [ended(0), running], 'Pending'],
    ['Always', [running], [ended(0)], 'Running'],
  ] as Array<[string | undefined, ContainerView[], ContainerView[], string]>)('restartPolicy %s: %j (init %j) -> %s', (policy, app, init, expected) => {
    expect(phase(policy, app, init)).toBe(expected)
  })

  it('a pod the kubelet failed (activeDeadlineSeconds) is Failed with its reason and message, whatever its containers', () => {
    const s = computeStatus({metadata: {name: 'p'}, spec: {containers: [{name: 'c', image: 'busybox'}]}},
      {sandboxReady: false, containers: new Map([['c', running]]), failed: {reason: 'DeadlineExceeded', message: 'too long'}}, new Date())
    expect(s).toMatchObject({phase: 'Failed', reason: 'DeadlineExceeded', message: 'too long'})
    // The kubelet's generate.go: a Failed pod's Ready and ContainersReady say PodFailed (a Succeeded one's PodCompleted).
    for (const type of ['Ready', 'ContainersReady']) {
      expect(s.conditions.find((c: {type: string}) => c.type === type)).toEqual({type, status: 'False', lastProbeTime: null,
        lastTransitionTime: expect.any(String), reason: 'PodFailed'})
    }
  })

  it('restartCount and lastState.terminated come from the view', () => {
    const s = computeStatus({metadata: {name: 'p'}, spec: {containers: [{name: 'c', image: 'busybox'}]}},
      {sandboxReady: true, containers: new Map([['c', backingOff(2)]])}, new Date())
    expect(s.containerStatuses[0]).toMatchObject({restartCount: 2, state: {waiting: {reason: 'CrashLoopBackOff'}},
      lastState: {terminated: {exitCode: 2, reason: 'Error', startedAt: '2026-01-01T00:00:00Z', finishedAt: '2026-01-01T00:00:01Z'}}})
  })
})

describe('goDuration (the back-off message)', () => {
  it.each([[500, '500ms'], [1000, '1s'], [1500, '1.5s'], [10_000, '10s'], [80_000, '1m20s'], [300_000, '5m0s'], [3_600_000, '1h0m0s']])('%i ms -> %s', (ms, text) => {
    expect(goDuration(ms)).toBe(text)
  })
})
