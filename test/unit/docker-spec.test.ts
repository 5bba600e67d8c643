import {describe, expect, it} from 'vitest'

import {sidecarRequest} from './fixtures.js'

import type {StreamMode} from '../../src/domain/request.js'
import {INIT_PATH} from '../../src/backends/docker/init.js'
import {buildStandInSpec} from '../../src/backends/docker/stand-in.js'
import {buildSidecarSpec, CHROOT_SCRIPT, type DockerTarget, LABEL, sidecarName} from '../../src/backends/docker/spec.js'

const target = (over: Partial<DockerTarget> = {}): DockerTarget => ({
  id: 'abc123def456',
  name: 'web',
  image: 'gcr.io/distroless/static-debian12:nonroot',
  user: '65532:65532',
  env: ['PATH=/app/bin:/usr/bin'],
  pidMode: '',
  ipcMode: 'private',
  pid: 4242,
  labels: {},
  ...over,
})

const request = sidecarRequest

const oneShot: StreamMode = {stdin: false, tty: false, detachKeys: [16, 17], detachKeysSpec: 'ctrl-p,ctrl-q'}
const identity = {user: 'alice@laptop', startedAt: '2026-11-27T03:00:00.000Z', version: '0.1.0', reason: undefined}

describe('buildSidecarSpec per profile', () => {
  it.each([
    {profile: 'general', capAdd: ['SYS_PTRACE'], capDrop: [], privileged: false, securityOpt: [], user: undefined},
    {profile: 'baseline', capAdd: [], capDrop: [], privileged: false, securityOpt: [], user: undefined},
    {profile: 'restricted', capAdd: [], capDrop: ['ALL'], privileged: false, securityOpt: ['no-new-privileges:true'], user: '65532:65532'},
    {profile: 'netadmin', capAdd: ['NET_ADMIN', 'NET_RAW'], capDrop: [], privileged: false, securityOpt: [], user: undefined},
    {profile: 'sysadmin', capAdd: [], capDrop: [], privileged: true, securityOpt: [], user: undefined},
  ] as const)('$profile', ({profile, capAdd, capDrop, privileged, securityOpt, user}) => {
    const spec = buildSidecarSpec(target(), request({profile}), oneShot, identity, 'docker', 'mindbg-web-x', false)
    expect(spec.HostConfig?.CapAdd).toEqual(capAdd)
    expect(spec.HostConfig?.CapDrop).toEqual(capDrop)
    expect(spec.HostConfig?.Privileged).toBe(privileged)
    expect(spec.HostConfig?.SecurityOpt).toEqual(securityOpt)
    expect(spec.User).toBe(user)
  })

  it('restricted next to a root target runs as nobody', () => {
    const spec = buildSidecarSpec(target({user: ''}), request({profile: 'restricted'}), oneShot, identity, 'docker', 'n', false)
    expect(spec.User).toBe('65534:65534')
  })

  it('--user, --cap-add and --privileged are added to the profile', () => {
    const spec = buildSidecarSpec(target(), request({capAdd: ['NET_ADMIN', 'SYS_PTRACE'], privileged: true, user: '1000'}), oneShot, identity, 'docker', 'n', false)
    expect(spec.HostConfig?.CapAdd).toEqual(['SYS_PTRACE', 'NET_ADMIN'])
    expect(spec.HostConfig?.Privileged).toBe(true)
    expect(spec.User).toBe('1000')
  })
})

describe('buildSidecarSpec namespaces and lifecycle', () => {
  it.each([
    {name: 'private IPC is not joined on Docker', ipcMode: 'private', engine: 'docker', ipc: undefined, uts: undefined},
    {name: 'shareable IPC is joined', ipcMode: 'shareable', engine: 'docker', ipc: 'container:abc123def456', uts: undefined},
    {name: 'Podman joins IPC and UTS', ipcMode: 'private', engine: 'podman', ipc: 'container:abc123def456', uts: 'container:abc123def456'},
  ] as const)('$name', ({ipcMode, engine, ipc, uts}) => {
    const spec = buildSidecarSpec(target({ipcMode}), request(), oneShot, identity, engine, 'n', false)
    expect(spec.HostConfig?.PidMode).toBe('container:abc123def456')
    expect(spec.HostConfig?.NetworkMode).toBe('container:abc123def456')
    expect(spec.HostConfig?.IpcMode).toBe(ipc)
    expect(spec.HostConfig?.UTSMode).toBe(uts)
    expect(spec.HostConfig?.AutoRemove).toBe(true)
  })

  it.each([
    {name: 'shell', command: [], chroot: false, entrypoint: ['sh']},
    {name: 'command', command: ['ps', 'aux'], chroot: false, entrypoint: ['ps', 'aux']},
    {name: 'chroot shell', command: [], chroot: true, entrypoint: ['sh', '-c', CHROOT_SCRIPT, 'mindbg-chroot']},
    {name: 'chroot command', command: ['ls', '/app'], chroot: true, entrypoint: ['sh', '-c', CHROOT_SCRIPT, 'mindbg-chroot', 'ls', '/app']},
  ])('entrypoint: $name', ({command, chroot, entrypoint}) => {
    const spec = buildSidecarSpec(target(), request({command, chroot}), oneShot, identity, 'docker', 'n', false)
    expect(spec.Entrypoint).toEqual(entrypoint)
    expect(spec.Cmd).toEqual([])
  })

  it('tells the sidecar where the target root and PATH are', () => {
    const spec = buildSidecarSpec(target(), request({chroot: true, env: ['A=1']}), oneShot, identity, 'docker', 'n', false)
    expect(spec.Env).toEqual(['MINDBG_TARGET=web', 'MINDBG_TARGET_ROOT=/proc/1/root', 'MINDBG_TARGET_PATH=/app/bin:/usr/bin', 'A=1'])
  })

  it('a target in the host PID namespace is reached through its real PID', () => {
    const spec = buildSidecarSpec(target({pidMode: 'host'}), request(), oneShot, identity, 'docker', 'n', false)
    expect(spec.Env).toContain('MINDBG_TARGET_ROOT=/proc/4242/root')
  })

  it.each([
    {streams: {stdin: true, tty: true, detachKeys: []}, expected: {Tty: true, OpenStdin: true, StdinOnce: true, AttachStdin: true}},
    {streams: {stdin: true, tty: false, detachKeys: []}, expected: {Tty: false, OpenStdin: true, StdinOnce: true, AttachStdin: true}},
    {streams: {stdin: false, tty: false, detachKeys: []}, expected: {Tty: false, OpenStdin: false, StdinOnce: false, AttachStdin: false}},
  ])('streams %j', ({streams, expected}) => {
    const spec = buildSidecarSpec(target(), request(), streams, identity, 'docker', 'n', false)
    expect(spec).toMatchObject(expected)
    // No log without a terminal: such a session cannot be left running, so nobody could read it.
    expect(spec.HostConfig?.LogConfig).toEqual(streams.tty ? undefined : {Type: 'none', Config: {}})
  })

  it('a TTY starts at the terminal size', () => {
    const streams: StreamMode = {...oneShot, stdin: true, tty: true, consoleSize: {rows: 30, columns: 100}}
    expect(buildSidecarSpec(target(), request(), streams, identity, 'docker', 'n', false).HostConfig?.ConsoleSize).toEqual([30, 100])
    expect(buildSidecarSpec(target(), request(), oneShot, identity, 'docker', 'n', false).HostConfig?.ConsoleSize).toBeUndefined()
  })

  it('labels identify the session', () => {
    const spec = buildSidecarSpec(target(), request({profile: 'netadmin'}), oneShot, {...identity, reason: 'INC-42'}, 'docker', 'n', false)
    expect(spec.Labels).toEqual({
      [LABEL.sidecar]: 'true',
      [LABEL.target]: 'abc123def456',
      [LABEL.targetName]: 'web',
      'org.mindbg.user': 'alice@laptop',
      'org.mindbg.started': '2026-11-27T03:00:00.000Z',
      'org.mindbg.version': '0.1.0',
      [LABEL.profile]: 'netadmin',
      'org.mindbg.reason': 'INC-42',
    })
  })

  it('--chroot next to a non-root target with baseline is refused (no SYS_PTRACE)', () => {
    expect(() => buildSidecarSpec(target(), request({chroot: true, profile: 'baseline'}), oneShot, identity, 'docker', 'n', false)).toThrow(/SYS_PTRACE/)
    expect(() => buildSidecarSpec(target({user: ''}), request({chroot: true, profile: 'baseline'}), oneShot, identity, 'docker', 'n', false)).not.toThrow()
  })
})

describe('sidecarName', () => {
  it('is mindbg-<target>-<5 chars>', () => {
    expect(sidecarName('web', () => 0)).toBe('mindbg-web-bbbbb')
    expect(sidecarName('a'.repeat(80), () => 0.999).length).toBeLessThanOrEqual(7 + 40 + 6)
  })
})

describe('buildStandInSpec: a running stand-in for a target that is not running', () => {
  const source = {
    image: 'mindbg-snapshot:mindbg-web-abcde-fs',
    env: ['PATH=/app', 'MODE=prod'],
    user: '65532:65532',
    workdir: '/app',
    mounts: [
      {Type: 'volume', Name: 'data', Source: '/var/lib/docker/volumes/data/_data', Destination: '/data'},
      {Type: 'bind', Name: '', Source: '/srv/conf', Destination: '/etc/app'},
      {Type: 'tmpfs', Name: '', Source: '', Destination: '/run'},
    ],
  }

  it.each([
    [false, true],
    [true, false],
  ])('writable volumes %s: volumes and binds where they were, read-only %s; a tmpfs left out', (writable, readOnly) => {
    const spec = buildStandInSpec(target(), source, 'mindbg-web-abcde-fs', writable)
    expect(spec.HostConfig?.Mounts).toEqual([
      {Type: 'volume', Source: 'data', Target: '/data', ReadOnly: readOnly},
      {Type: 'bind', Source: '/srv/conf', Target: '/etc/app', ReadOnly: readOnly},
    ])
  })

  it('holds with mindbg-init, as the target\'s user, with its environment and workdir, offline, never restarted, labelled', () => {
    const spec = buildStandInSpec(target(), source, 'mindbg-web-abcde-fs', false)
    expect(spec).toMatchObject({
      name: 'mindbg-web-abcde-fs',
      Image: source.image,
      Entrypoint: [INIT_PATH, '--hold'],
      Cmd: [],
      Env: source.env,
      User: '65532:65532',
      WorkingDir: '/app',
      Labels: {[LABEL.standIn]: 'true', [LABEL.target]: 'abc123def456', [LABEL.targetName]: 'web'},
      HostConfig: {NetworkMode: 'none', RestartPolicy: {Name: 'no'}},
    })
    // Never mistaken for a debugger (mindbg ls, prune, the "is itself a sidecar" refusal).
    expect(spec.Labels?.[LABEL.sidecar]).toBeUndefined()
  })

  it('an image without USER or WORKDIR keeps the engine\'s defaults', () => {
    const spec = buildStandInSpec(target(), {...source, user: '', workdir: '', mounts: []}, 'n', false)
    expect(spec.User).toBeUndefined()
    expect(spec.WorkingDir).toBeUndefined()
    expect(spec.HostConfig?.Mounts).toEqual([])
  })
})
