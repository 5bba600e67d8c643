import type {ContainerCreateOptions} from 'dockerode'

import {usageError} from '../../domain/errors.js'
import {isRootUser, type Profile} from '../../domain/profiles.js'
import type {DebuggerRequest, StreamMode} from '../../domain/request.js'
import {type IdentityField, identityEntries, type SessionIdentity} from '../../domain/session.js'
import type {Target} from '../../domain/target.js'
import {randomSuffix} from '../../domain/names.js'
import {INIT_PATH} from './init.js'
import {chrootCommand, DEFAULT_PATH} from '../chroot.js'

/** What mindbg needs to know about a target container, read from one inspect call. `image` is the reference it was created from, as written then (tag, digest or ID). */
export interface DockerTarget extends Target {
  runtime: 'docker'
  imageId: string
  user: string
  env: string[]
  pidMode: string
  ipcMode: string
  pid: number
  labels: Record<string, string>
  /**
   * A file the engine keeps for the container on its own host (HostnamePath): seen here too, it tells that the
   * engine and mindbg share a filesystem. '' when unknown.
   */
  enginePath?: string
  /** image://REF: not a container at all, only an image (its `image`) to debug a container made from. */
  fromImage?: true
}

export type EngineKind = 'docker' | 'podman'

export const LABEL = {
  sidecar: 'org.mindbg.sidecar',
  target: 'org.mindbg.target',
  targetName: 'org.mindbg.target-name',
  profile: 'org.mindbg.profile',
  /** A container mindbg made from a stopped target's snapshot (or an image), for a debugger to join. */
  standIn: 'org.mindbg.stand-in',
  /** An image mindbg committed from a stopped target, removed with its stand-in. */
  snapshot: 'org.mindbg.snapshot',
  /** A debugger left serving commands (attach --detach): the version of its protocol. */
  serve: 'org.mindbg.serve',
  /** When a serving debugger ends by itself (its --ttl), ISO 8601. */
  expires: 'org.mindbg.expires',
  /** A run's shared debugger (run --shared-debugger): it has no one target, it enters each one's namespaces. */
  shared: 'org.mindbg.shared',
  /** HOST:PID of the mindbg process a shared debugger is for: an orphan once that process is gone. */
  owner: 'org.mindbg.owner',
} as const

/** Who started a sidecar, and why: `org.mindbg.user`, `.started`, `.version`, `.reason`. */
export const identityLabel = (field: IdentityField): string => `org.mindbg.${field}`

/** The part of a Docker HostConfig (plus user) a profile decides. */
export interface DockerSecurity {
  capAdd: string[]
  capDrop: string[]
  privileged: boolean
  securityOpt: string[]
  /** A user the profile requires, or undefined to keep the image's. */
  user: string | undefined
}

/** Used when a restricted sidecar needs a non-root user and the target runs as root: the conventional "nobody". */
export const FALLBACK_NON_ROOT_USER = '65534:65534'

type Applier = (security: DockerSecurity, targetUser: string) => void

/** kubectl debug's profiles, translated to Docker: one applier per profile. */
const appliers: Record<Profile, Applier> = {
  // SYS_PTRACE lets root in the sidecar read /proc/<pid>/root and attach strace/gdb to a process of another uid.
  general: (s) => s.capAdd.push('SYS_PTRACE'),
  // The engine's defaults, nothing added; kubectl's legacy profile (1.23's behaviour) adds nothing either.
  baseline: () => {},
  legacy: () => {},
  // What Pod Security "restricted" demands: no capabilities, no privilege escalation, not root.
  restricted: (s, targetUser) => {
    s.capDrop.push('ALL')
    s.securityOpt.push('no-new-privileges:true')
    s.user = isRootUser(targetUser) ? FALLBACK_NON_ROOT_USER : targetUser
  },
  netadmin: (s) => s.capAdd.push('NET_ADMIN', 'NET_RAW'),
  sysadmin: (s) => {
    s.privileged = true
  },
}

export function dockerSecurity(profile: Profile, targetUser: string): DockerSecurity {
  const security: DockerSecurity = {capAdd: [], capDrop: [], privileged: false, securityOpt: [], user: undefined}
  appliers[profile](security, targetUser)
  return security
}

export {CHROOT_SCRIPT} from '../chroot.js'

export function targetRootPath(target: DockerTarget): string {
  // A target in the host's PID namespace is not PID 1 there; its root is reached through its real PID.
  return target.pidMode === 'host' ? `/proc/${target.pid}/root` : '/proc/1/root'
}

/** Pure: the create request for a sidecar next to `target`. Throws usage errors for combinations that cannot work. */
export function buildSidecarSpec(
  target: DockerTarget,
  request: DebuggerRequest,
  streams: StreamMode,
  identity: SessionIdentity,
  engine: EngineKind,
  name: string,
  init: boolean,
  /** mindbg-init as a file of the engine's host, bind-mounted read-only at INIT_PATH; else it is copied in. */
  initSource?: string,
): ContainerCreateOptions {
  const security = dockerSecurity(request.profile, target.user)
  if (request.chroot && !isRootUser(target.user) && request.profile === 'baseline' && !request.capAdd.includes('SYS_PTRACE')) {
    throw usageError(
      `--chroot into ${target.name} (user ${target.user}) needs SYS_PTRACE, which --profile baseline does not add`,
      'Use --profile general (the default), or add --cap-add SYS_PTRACE.',
    )
  }
  const root = targetRootPath(target)
  const targetPath = target.env.find((e) => e.startsWith('PATH='))?.slice(5) || DEFAULT_PATH
  const env = [`MINDBG_TARGET=${target.name}`, `MINDBG_TARGET_ROOT=${root}`, ...(request.chroot ? [`MINDBG_TARGET_PATH=${targetPath}`] : []), ...request.env]
  // A serving debugger's life is bounded inside it: mindbg-init ends it (and everything it runs) after its ttl.
  if (request.serve) {
    if (!init) throw usageError('--detach needs mindbg-init for the debug image\'s CPU, which this build lacks', 'Use an amd64 or arm64 debug image.')
    env.push(`MINDBG_TIMEOUT_MS=${request.serve.ttlMs}`)
  }

  const command = request.chroot
    ? chrootCommand(request.command)
    : request.command.length > 0
      ? request.command
      : ['sh']
  const entrypoint = init ? [INIT_PATH, ...command] : command

  const labels: Record<string, string> = {
    [LABEL.sidecar]: 'true',
    [LABEL.target]: target.id,
    [LABEL.targetName]: target.name,
    ...Object.fromEntries(identityEntries(identity, identityLabel)),
    [LABEL.profile]: request.profile,
  }
  if (request.serve) {
    labels[LABEL.serve] = '1'
    labels[LABEL.expires] = new Date(Date.parse(identity.startedAt) + request.serve.ttlMs).toISOString()
  }

  const join = `container:${target.id}`
  const hostConfig: NonNullable<ContainerCreateOptions['HostConfig']> = {
    PidMode: join,
    NetworkMode: join,
    AutoRemove: true,
    Privileged: security.privileged || request.privileged,
    CapAdd: [...new Set([...security.capAdd, ...request.capAdd])],
    CapDrop: security.capDrop,
    SecurityOpt: security.securityOpt,
  }
  if (init && initSource) hostConfig.Mounts = [{Type: 'bind', Source: initSource, Target: INIT_PATH, ReadOnly: true}]
  // Docker joins another container's IPC namespace only when that one was created "shareable"; Podman always can.
  if (target.ipcMode === 'shareable' || engine === 'podman') hostConfig.IpcMode = join
  // Without a terminal the session cannot be left running (no detach keys) and the sidecar is removed at its end, so
  // nobody can ever read its log: the engine's json-file copy of every byte only costs (200 MB through stdout: ~16 s
  // against ~3 s without). On a terminal it stays, for `docker logs` of a debugger left running.
  if (!streams.tty) hostConfig.LogConfig = {Type: 'none', Config: {}}
  // Docker has no "container:" UTS mode; Podman has.
  if (engine === 'podman') hostConfig.UTSMode = join

  const spec: ContainerCreateOptions = {
    name,
    Image: request.image,
    Entrypoint: entrypoint,
    Cmd: [],
    Env: env,
    Labels: labels,
    Tty: streams.tty,
    OpenStdin: streams.stdin,
    // A serving debugger's stdin outlives every attach: each caller writes its request into it.
    StdinOnce: streams.stdin && !request.serve,
    AttachStdin: streams.stdin,
    AttachStdout: true,
    AttachStderr: true,
    HostConfig: hostConfig,
  }
  // mindbg-init ends the session's processes on SIGTERM, whatever STOPSIGNAL the debug image declares.
  if (init) spec.StopSignal = 'SIGTERM'
  const user = request.user ?? security.user
  if (user !== undefined) spec.User = user
  if (request.workdir !== undefined) spec.WorkingDir = request.workdir
  // The shell starts at the right size (engines from API 1.42 on); older ones get the resize right after start.
  if (streams.tty && streams.consoleSize) hostConfig.ConsoleSize = [streams.consoleSize.rows, streams.consoleSize.columns]
  return spec
}

/** mindbg-<target>-<5 random chars>, within Docker's name limits. */
export function sidecarName(targetName: string, random: () => number = Math.random): string {
  const suffix = randomSuffix(random)
  const base = targetName.replace(/[^a-zA-Z0-9_.-]/g, '').slice(0, 40) || 'target'
  return `mindbg-${base}-${suffix}`
}

/** What a run's shared debugger needs to be: one container for every target of the run (run --shared-debugger). */
export interface SharedDebuggerSpecInput {
  image: string
  name: string
  identity: SessionIdentity
  /** HOST:PID of this process (LABEL.owner). */
  owner: string
  /** mindbg-init as a file of the engine's host, bind-mounted at INIT_PATH; else it is copied in before the start. */
  initSource: string | undefined
  platform: string | undefined
}

/**
 * Pure: the create request for a run's shared debugger. It runs `mindbg-init --mux`; each target's steps are a session
 * of it, a `mindbg-init --enter PID` (sharedStepEnv), which needs the host's PID namespace (to find the target's
 * processes), CAP_SYS_ADMIN (setns, a mount namespace and a /proc of its own) and no AppArmor or SELinux confinement
 * that forbids mount. mindbg-init gives CAP_SYS_ADMIN up before a step runs: a step has the general profile's
 * capabilities (the engine's defaults and SYS_PTRACE) inside the target's namespaces, as a sidecar's command has.
 */
export function buildSharedSpec(input: SharedDebuggerSpecInput): ContainerCreateOptions {
  const hostConfig: NonNullable<ContainerCreateOptions['HostConfig']> = {
    PidMode: 'host',
    NetworkMode: 'none',
    AutoRemove: true,
    Privileged: false,
    CapAdd: ['SYS_ADMIN', 'SYS_PTRACE'],
    CapDrop: [],
    SecurityOpt: ['apparmor=unconfined', 'label=disable'],
    LogConfig: {Type: 'none', Config: {}},
  }
  if (input.initSource) hostConfig.Mounts = [{Type: 'bind', Source: input.initSource, Target: INIT_PATH, ReadOnly: true}]
  const spec: ContainerCreateOptions = {
    name: input.name,
    Image: input.image,
    Entrypoint: [INIT_PATH, '--mux'],
    Cmd: [],
    Env: [],
    Labels: {
      [LABEL.sidecar]: 'true',
      [LABEL.shared]: '1',
      [LABEL.owner]: input.owner,
      [LABEL.targetName]: '(shared)',
      ...Object.fromEntries(identityEntries(input.identity, identityLabel)),
      [LABEL.profile]: 'general',
    },
    // Its sessions come and go over the one attach of the run (mindbg-init --mux); when that attach ends, its stdin
    // does (StdinOnce), and it ends every session and itself: a run that is killed leaves nothing running in it.
    Tty: false,
    OpenStdin: true,
    StdinOnce: true,
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    StopSignal: 'SIGTERM',
    HostConfig: hostConfig,
  }
  if (input.platform) spec.platform = input.platform
  return spec
}

/** The environment of a target's steps in the shared debugger, as a sidecar's (MINDBG_TARGET, MINDBG_TARGET_ROOT). */
export function sharedStepEnv(target: DockerTarget, env: string[]): string[] {
  return [`MINDBG_TARGET=${target.name}`, `MINDBG_TARGET_ROOT=${targetRootPath(target)}`, ...env]
}

/** mindbg-shared-<5 random chars>. */
export function sharedName(random: () => number = Math.random): string {
  return `mindbg-shared-${randomSuffix(random)}`
}
