import type {ContainerCreateOptions} from 'dockerode'

import type {SidecarRequest, StreamMode} from '../attach-options.js'
import {usageError} from '../errors.js'
import {dockerSecurity, isRootUser} from '../profiles.js'

/** What mindbg needs to know about a target container, read from one inspect call. */
export interface DockerTarget {
  id: string
  name: string
  /** The image reference the target was created from, as written then (tag, digest or ID). */
  image: string
  imageId: string
  user: string
  env: string[]
  pidMode: string
  ipcMode: string
  pid: number
  labels: Record<string, string>
}

export type EngineKind = 'docker' | 'podman'

/** Who started the session and why: recorded as labels so `mindbg ls` and `docker inspect` can answer. */
export interface SessionIdentity {
  user: string
  startedAt: string
  version: string
  reason: string | undefined
}

export const LABEL = {
  sidecar: 'org.mindbg.sidecar',
  target: 'org.mindbg.target',
  targetName: 'org.mindbg.target-name',
  user: 'org.mindbg.user',
  started: 'org.mindbg.started',
  version: 'org.mindbg.version',
  reason: 'org.mindbg.reason',
  profile: 'org.mindbg.profile',
} as const

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

/**
 * --chroot without writing into the target: a small shell keeps running with the sidecar's root, so its
 * /proc/<pid>/root is the debug image's filesystem, reachable from inside the target's chroot. Every directory of
 * the sidecar's PATH is reachable through that link, ahead of the target's own PATH. The tools must be hard links or
 * real files (busybox images use hard links): an absolute symlink would be resolved inside the target instead.
 */
export const CHROOT_SCRIPT = [
  'k=$$',
  'tools= shell=',
  'IFS=:',
  'for d in $PATH; do',
  '  tools="$tools:/proc/$k/root$d"',
  '  [ -z "$shell" ] && [ -x "$d/sh" ] && shell=$(readlink -f "$d/sh")',
  'done',
  'unset IFS',
  // The debug tools come first: in a compromised target, "ls" must not run the target's binary as root.
  'export PATH="${tools#:}:$MINDBG_TARGET_PATH" HISTFILE=/dev/null',
  'if [ $# -eq 0 ]; then chroot "$MINDBG_TARGET_ROOT" "/proc/$k/root$shell"; else chroot "$MINDBG_TARGET_ROOT" "$@"; fi',
  'exit $?',
].join('\n')

export function targetRootPath(target: DockerTarget): string {
  // A target in the host's PID namespace is not PID 1 there; its root is reached through its real PID.
  return target.pidMode === 'host' ? `/proc/${target.pid}/root` : '/proc/1/root'
}

/** Pure: the create request for a sidecar next to `target`. Throws usage errors for combinations that cannot work. */
export function buildSidecarSpec(
  target: DockerTarget,
  request: SidecarRequest,
  streams: StreamMode,
  identity: SessionIdentity,
  engine: EngineKind,
  name: string,
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

  const entrypoint = request.chroot
    ? ['sh', '-c', CHROOT_SCRIPT, 'mindbg-chroot', ...request.command]
    : request.command.length > 0
      ? request.command
      : ['sh']

  const labels: Record<string, string> = {
    [LABEL.sidecar]: 'true',
    [LABEL.target]: target.id,
    [LABEL.targetName]: target.name,
    [LABEL.user]: identity.user,
    [LABEL.started]: identity.startedAt,
    [LABEL.version]: identity.version,
    [LABEL.profile]: request.profile,
  }
  if (identity.reason !== undefined) labels[LABEL.reason] = identity.reason

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
  // Docker joins another container's IPC namespace only when that one was created "shareable"; Podman always can.
  if (target.ipcMode === 'shareable' || engine === 'podman') hostConfig.IpcMode = join
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
    StdinOnce: streams.stdin,
    AttachStdin: streams.stdin,
    AttachStdout: true,
    AttachStderr: true,
    HostConfig: hostConfig,
  }
  const user = request.user ?? security.user
  if (user !== undefined) spec.User = user
  if (request.workdir !== undefined) spec.WorkingDir = request.workdir
  // The shell starts at the right size (engines from API 1.42 on); older ones get the resize right after start.
  if (streams.tty && streams.consoleSize) hostConfig.ConsoleSize = [streams.consoleSize.rows, streams.consoleSize.columns]
  return spec
}

// kubectl's alphabet for generated names: no vowels (no accidental words), no look-alikes (0/o, 1/l).
const NAME_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789'

/** Five random characters, as kubectl uses for debugger names. */
export function randomSuffix(random: () => number = Math.random): string {
  return Array.from({length: 5}, () => NAME_ALPHABET[Math.floor(random() * NAME_ALPHABET.length)]).join('')
}

/** mindbg-<target>-<5 random chars>, within Docker's name limits. */
export function sidecarName(targetName: string, random: () => number = Math.random): string {
  const suffix = randomSuffix(random)
  const base = targetName.replace(/[^a-zA-Z0-9_.-]/g, '').slice(0, 40) || 'target'
  return `mindbg-${base}-${suffix}`
}
