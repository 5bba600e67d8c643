import type {V1Pod} from '@kubernetes/client-node'
import {describe, expect, it} from 'vitest'

import {sidecarRequest} from './fixtures.js'

import {parseDuration} from '../../src/domain/duration.js'
import type {DebuggerRequest as SidecarRequest, StreamMode} from '../../src/domain/request.js'
import {buildEphemeralContainer, chooseTargetContainer, ephemeralName, mergeCustom, ONE_SHOT_WRAPPER, RELAY_WRAPPER, restrictedCompliant, TTY_WRAPPER, targetIdentity, unverbatim, verbatim} from '../../src/backends/kubernetes/spec.js'

const pod = (over: Partial<V1Pod['spec']> = {}, annotations: Record<string, string> = {}): V1Pod => ({
  metadata: {name: 'web', namespace: 'default', annotations},
  spec: {containers: [{name: 'app', image: 'gcr.io/distroless/static-debian12:nonroot'}, {name: 'proxy', image: 'envoy'}], ...over},
})

const request = sidecarRequest
const shell: StreamMode = {stdin: true, tty: true, detachKeys: [], detachKeysSpec: 'ctrl-p,ctrl-q'}
const oneShot: StreamMode = {stdin: false, tty: false, detachKeys: [], detachKeysSpec: 'ctrl-p,ctrl-q'}
const identity = {user: 'alice@laptop', startedAt: '2026-11-27T03:00:00.000Z', version: '0.1.0', reason: 'INC-9'}

const build = (over: {pod?: V1Pod; request?: Partial<SidecarRequest>; streams?: StreamMode; restricted?: boolean; podSecurity?: 'baseline' | 'restricted'; custom?: Record<string, unknown>; session?: string} = {}) =>
  buildEphemeralContainer({
    pod: over.pod ?? pod(),
    target: 'app',
    request: request(over.request),
    streams: over.streams ?? shell,
    identity,
    name: 'mindbg-abcde',
    podSecurity: over.podSecurity ?? (over.restricted ? 'restricted' : undefined),
    custom: over.custom,
    ...(over.session !== undefined ? {session: over.session} : {}),
  })

describe('profiles, as kubectl debug applies them to ephemeral containers', () => {
  it.each([
    ['general', {capabilities: {add: ['SYS_PTRACE']}}],
    ['baseline', undefined],
    ['legacy', undefined],
    ['restricted', {runAsNonRoot: true, capabilities: {drop: ['ALL']}, allowPrivilegeEscalation: false, seccompProfile: {type: 'RuntimeDefault'}}],
    ['netadmin', {capabilities: {add: ['NET_ADMIN', 'NET_RAW']}}],
    ['sysadmin', {privileged: true}],
  ] as const)('%s', (profile, securityContext) => {
    expect(build({request: {profile}}).container.securityContext).toEqual(securityContext)
  })
})

describe('buildEphemeralContainer', () => {
  it('a shell: sh with stdin, tty, stdinOnce, the target, identity env', () => {
    const {container, notes} = build()
    expect(container).toMatchObject({name: 'mindbg-abcde', image: 'busybox:1.37.0-musl', imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', verbatim(TTY_WRAPPER), 'mindbg', 'sh'], stdin: true, stdinOnce: true, tty: true, targetContainerName: 'app'})
    expect(container.env).toEqual([
      {name: 'MINDBG_USER', value: 'alice@laptop'},
      {name: 'MINDBG_STARTED', value: '2026-11-27T03:00:00.000Z'},
      {name: 'MINDBG_VERSION', value: '0.1.0'},
      {name: 'MINDBG_REASON', value: 'INC-9'},
      {name: 'MINDBG_TARGET', value: 'app'},
      {name: 'MINDBG_TARGET_ROOT', value: '/proc/1/root'},
    ])
    expect(notes).toEqual([])
  })

  it.each([
    {name: 'a command', command: ['ps', 'aux'], streams: oneShot, wrapper: ONE_SHOT_WRAPPER, tty: false},
    {name: 'a command with piped input', command: ['ps', 'aux'], streams: {...oneShot, stdin: true}, wrapper: RELAY_WRAPPER, tty: false},
    {name: 'a command on a terminal (-it)', command: ['ps', 'aux'], streams: shell, wrapper: TTY_WRAPPER, tty: true},
    {name: 'a shell reading a piped script', command: [], streams: {...oneShot, stdin: true}, wrapper: RELAY_WRAPPER, tty: false},
  ])('$name: wrapped so it cannot outlive the session', ({command, streams, wrapper, tty}) => {
    const {container} = build({request: {command}, streams})
    // The wrapper is escaped like the command: the kubelet turns $$ into $ (the wrappers use $$).
    expect(container.command).toEqual(['sh', '-c', verbatim(wrapper), 'mindbg', ...(command.length > 0 ? command : ['sh'])])
    expect(unverbatim(container.command![2]!)).toBe(wrapper)
    expect(container).toMatchObject({stdin: true, stdinOnce: true, tty})
  })

  it.each([
    ['always', 'Always'],
    ['missing', 'IfNotPresent'],
    ['never', 'Never'],
  ] as const)('--pull %s -> %s', (pull, policy) => expect(build({request: {pull}}).container.imagePullPolicy).toBe(policy))

  it('--env, --workdir, --user, --cap-add, --privileged', () => {
    const {container} = build({request: {env: ['A=1', 'B=x=y'], workdir: '/tmp', user: '1000:2000', capAdd: ['NET_ADMIN'], privileged: true}})
    expect(container.env?.slice(-2)).toEqual([{name: 'A', value: '1'}, {name: 'B', value: 'x=y'}])
    expect(container.workingDir).toBe('/tmp')
    expect(container.securityContext).toEqual({capabilities: {add: ['SYS_PTRACE', 'NET_ADMIN']}, privileged: true, runAsUser: 1000, runAsGroup: 2000})
  })

  it('a user name cannot be used on Kubernetes', () => {
    expect(() => build({request: {user: 'nobody'}})).toThrow(/numeric UID/)
  })

  it.each([
    ['echo $$', 'echo $$$$'],
    ['echo $(HOME)', 'echo $$(HOME)'],
    ['no dollar', 'no dollar'],
  ])('the command runs as typed: %s is sent as %s (the kubelet expands $(VAR) and $$)', (typed, sent) => {
    const {container} = build({request: {command: ['sh', '-c', typed]}, streams: {tty: false, stdin: false}})
    expect(container.command?.slice(-1)).toEqual([sent])
  })

  it('--env values and --reason arrive as typed too; unverbatim reads them back', () => {
    const {container} = buildEphemeralContainer({pod: pod(), target: 'app', request: request({env: ['PRICE=$(HOME) and $$']}), streams: shell,
      identity: {...identity, reason: 'INC-1 costs $5'}, name: 'mindbg-abcde', podSecurity: undefined, custom: undefined})
    const env = new Map(container.env?.map((e) => [e.name, e.value ?? '']))
    expect(env.get('PRICE')).toBe('$$(HOME) and $$$$')
    expect(env.get('MINDBG_REASON')).toBe('INC-1 costs $$5')
    expect(unverbatim(env.get('MINDBG_REASON')!)).toBe('INC-1 costs $5')
  })

  it('the session id travels as MINDBG_SESSION, for the exit trailer', () => {
    expect(build({session: '0123456789ab'}).container.env).toContainEqual({name: 'MINDBG_SESSION', value: '0123456789ab'})
    expect(build({}).container.env?.map((e) => e.name)).not.toContain('MINDBG_SESSION')
  })

  it('--chroot is refused on Kubernetes', () => expect(() => build({request: {chroot: true}})).toThrow(/--chroot/))

  it('shareProcessNamespace: PID 1 is not the target, so no MINDBG_TARGET_ROOT; the wrapper finds it by container ID', () => {
    expect(build({pod: pod({shareProcessNamespace: true})}).container.env?.map((e) => e.name)).not.toContain('MINDBG_TARGET_ROOT')
    const running = {...pod({shareProcessNamespace: true}), status: {containerStatuses: [{name: 'app', containerID: 'containerd://abc123', image: 'x', imageID: '', ready: true, restartCount: 0}]}}
    const env = build({pod: running}).container.env ?? []
    expect(env).toContainEqual({name: 'MINDBG_TARGET_ID', value: 'abc123'})
    expect(env).toContainEqual({name: 'MINDBG_TARGET_NOTICE', value: '1'})
    expect(build({pod: running, request: {command: ['ps']}}).container.env?.map((e) => e.name)).not.toContain('MINDBG_TARGET_NOTICE')
  })
})

describe('non-root targets and Pod Security', () => {
  it.each([
    {name: 'container runAsUser', spec: {containers: [{name: 'app', image: 'x', securityContext: {runAsUser: 65532, runAsGroup: 65532}}]}, uid: 65532, gid: 65532},
    {name: 'pod runAsUser', spec: {securityContext: {runAsUser: 1001}, containers: [{name: 'app', image: 'x'}]}, uid: 1001, gid: undefined},
    {name: 'runAsNonRoot without uid', spec: {securityContext: {runAsNonRoot: true}, containers: [{name: 'app', image: 'x'}]}, uid: 65532, gid: undefined},
    {name: 'container overrides pod', spec: {securityContext: {runAsUser: 1001}, containers: [{name: 'app', image: 'x', securityContext: {runAsUser: 2002}}]}, uid: 2002, gid: undefined},
  ])('$name: the debugger runs as the target uid', ({spec, uid, gid}) => {
    const {container, notes} = build({pod: {metadata: {name: 'web'}, spec} as V1Pod})
    expect(container.securityContext).toMatchObject({runAsUser: uid, runAsNonRoot: true, capabilities: {add: ['SYS_PTRACE']}})
    expect(container.securityContext?.runAsGroup).toBe(gid)
    expect(notes).toEqual([expect.stringMatching(new RegExp(`runs as uid ${uid}`))])
  })

  it('a root target keeps a root debugger', () => {
    expect(targetIdentity(pod(), 'app')).toEqual({uid: undefined, gid: undefined, nonRoot: false})
    expect(build().container.securityContext?.runAsUser).toBeUndefined()
  })

  it.each([
    {name: 'general', over: {}},
    {name: 'sysadmin', over: {profile: 'sysadmin'} as const},
    {name: 'netadmin + NET_BIND_SERVICE', over: {profile: 'netadmin', capAdd: ['NET_BIND_SERVICE']} as const},
  ])('restricted namespace: $name becomes compliant', ({over}) => {
    const {container, notes} = build({request: over, restricted: true})
    const sc = container.securityContext!
    expect(sc).toMatchObject({runAsNonRoot: true, allowPrivilegeEscalation: false, seccompProfile: {type: 'RuntimeDefault'}})
    expect(sc.capabilities?.drop).toEqual(['ALL'])
    expect(sc.capabilities?.add ?? []).toEqual(over.capAdd?.includes('NET_BIND_SERVICE') ? ['NET_BIND_SERVICE'] : [])
    expect(sc.privileged).toBeUndefined()
    expect(sc.runAsUser).toBe(65532)
    expect(notes.at(-1)).toMatch(/Pod Security "restricted"/)
  })

  it.each([
    {name: 'general: SYS_PTRACE goes, root stays', request: {}, dropped: 'SYS_PTRACE', sc: {}},
    {name: 'netadmin: NET_ADMIN and NET_RAW go', request: {profile: 'netadmin' as const}, dropped: 'NET_ADMIN, NET_RAW', sc: {}},
    {name: 'sysadmin: no privileged mode', request: {profile: 'sysadmin' as const}, dropped: 'privileged mode', sc: {}},
    {name: 'allowed capabilities stay', request: {profile: 'baseline' as const, capAdd: ['NET_BIND_SERVICE', 'SYS_ADMIN']}, dropped: 'SYS_ADMIN', sc: {capabilities: {add: ['NET_BIND_SERVICE']}}},
  ])('baseline namespace: $name', ({request, dropped, sc}) => {
    const {container, notes} = build({request, podSecurity: 'baseline'})
    expect(container.securityContext ?? {}).toEqual(sc)
    expect(notes.at(-1)).toBe(`Pod Security "baseline" is enforced here: the debugger runs without ${dropped}`)
  })

  it('baseline namespace: a profile it allows as it is gets no note', () => {
    expect(build({request: {profile: 'baseline'}, podSecurity: 'baseline'}).notes.filter((n) => /Pod Security/.test(n))).toEqual([])
  })

  it('--custom: an unknown field is refused, as kubectl refuses it', () => {
    expect(() => build({custom: {securityContex: {runAsUser: 0}}})).toThrow(/--custom: unknown field "securityContex"/)
  })

  it('--custom with its own runAsUser: the note says the uid the debugger really runs as', () => {
    const pod = {metadata: {name: 'web'}, spec: {securityContext: {runAsUser: 65532, runAsNonRoot: true}, containers: [{name: 'app', image: 'x'}]}} as V1Pod
    const {container, notes} = build({pod, custom: {securityContext: {runAsUser: 0, runAsNonRoot: false}}})
    expect(container.securityContext).toMatchObject({runAsUser: 0})
    expect(notes).toEqual(['--custom: the debugger runs as uid 0'])
  })

  it('restrictedCompliant keeps a non-root uid already chosen', () => {
    expect(restrictedCompliant({runAsUser: 1000}, 65532).runAsUser).toBe(1000)
    expect(restrictedCompliant({runAsUser: 0}, 2000).runAsUser).toBe(2000)
  })
})

describe('--custom', () => {
  it('merges like kubectl: maps merge, env by name, lists replace', () => {
    const {container} = build({custom: {env: [{name: 'MINDBG_TARGET', value: 'x'}, {name: 'EXTRA', value: '1'}], securityContext: {capabilities: {add: ['NET_ADMIN']}}, workingDir: '/data'}})
    expect(container.env?.find((e) => e.name === 'MINDBG_TARGET')?.value).toBe('x')
    expect(container.env?.at(-1)).toEqual({name: 'EXTRA', value: '1'})
    expect(container.securityContext).toEqual({capabilities: {add: ['NET_ADMIN']}})
    expect(container.workingDir).toBe('/data')
  })

  it.each(['name', 'command', 'args', 'image', 'lifecycle', 'stdin', 'stdinOnce', 'tty', 'targetContainerName'])('refuses %s', (field) => {
    expect(() => mergeCustom({name: 'x'}, {[field]: 'y'})).toThrow(new RegExp(`--custom may not set ${field}`))
  })

  it('passes fields the API server will judge (ports) through untouched', () => {
    expect(build({custom: {ports: [{containerPort: 80}]}}).container).toMatchObject({ports: [{containerPort: 80}]})
  })
})

describe('target container and names', () => {
  it.each([
    {name: 'explicit', requested: 'proxy', annotations: {}, expected: 'proxy'},
    {name: 'annotation', requested: undefined, annotations: {'kubectl.kubernetes.io/default-container': 'proxy'}, expected: 'proxy'},
    {name: 'first', requested: undefined, annotations: {}, expected: 'app'},
  ])('$name', ({requested, annotations, expected}) => expect(chooseTargetContainer(pod({}, annotations), requested)).toBe(expected))

  it('an unknown container lists the real ones', () => {
    expect(() => chooseTargetContainer(pod(), 'nope')).toThrow(/no container "nope"/)
  })

  it('ephemeral names avoid every existing container name', () => {
    const p = pod({initContainers: [{name: 'mindbg-bbbbb'}], ephemeralContainers: [{name: 'mindbg-ccccc'}]})
    const sequence = [0, 0, 0, 0, 0, 0.04, 0.04, 0.04, 0.04, 0.04, 0.99, 0.99, 0.99, 0.99, 0.99]
    let i = 0
    expect(ephemeralName(p, () => sequence[i++]!)).toBe('mindbg-99999')
  })
})

describe('parseDuration', () => {
  it.each([
    ['90', 90_000],
    ['90s', 90_000],
    ['2m', 120_000],
    ['1m30s', 90_000],
    ['1h', 3_600_000],
    ['500ms', 500],
  ])('%s', (text, ms) => expect(parseDuration(text)).toBe(ms))
  it.each(['', 'x', '2 m', '1d', '0s', '-1s'])('rejects %j', (text) => expect(() => parseDuration(text)).toThrow(/timeout/))
})

describe('--share-volumes', () => {
  const withMounts = pod({
    containers: [
      {
        name: 'app',
        image: 'x',
        volumeMounts: [
          {name: 'data', mountPath: '/data'},
          {name: 'conf', mountPath: '/etc/app/app.yaml', subPath: 'app.yaml', readOnly: true},
          {name: 'conf', mountPath: '/etc/app/log.yaml', subPath: 'log.yaml'},
          {name: 'cache', mountPath: '/cache', readOnly: true, mountPropagation: 'HostToContainer'},
        ],
      },
      {name: 'proxy', image: 'envoy', volumeMounts: [{name: 'other', mountPath: '/other'}]},
    ],
  })

  it.each([
    [false, [true, true, true]],
    [true, [false, true, true]],
  ])('writable %s: the target\'s mounts at its paths, read-only %j; a subPath volume whole, once, under /mindbg-volumes', (writable, readOnly) => {
    const {container, notes} = build({pod: withMounts, request: {shareVolumes: true, writableVolumes: writable}})
    expect(container.volumeMounts).toEqual([
      {name: 'data', mountPath: '/data', readOnly: readOnly[0]},
      {name: 'conf', mountPath: '/mindbg-volumes/conf', readOnly: readOnly[1]},
      {name: 'cache', mountPath: '/cache', readOnly: readOnly[2]},
    ])
    expect(notes).toContain('app mounts a subPath of volume conf at /etc/app/app.yaml, which an ephemeral container cannot: the whole volume is at /mindbg-volumes/conf')
    expect(notes.at(-1)).toBe(`--share-volumes: 3 volume mounts of app mounted ${writable ? 'as it has them' : 'read-only'} (/data, /mindbg-volumes/conf, /cache)`)
  })

  it('without the flag nothing is mounted; a target without mounts is said so', () => {
    expect(build({pod: withMounts}).container.volumeMounts).toBeUndefined()
    const {container, notes} = build({request: {shareVolumes: true}})
    expect(container.volumeMounts).toBeUndefined()
    expect(notes).toContain('--share-volumes: app mounts no volumes')
  })
})
