import {MindbgError, usageError} from './errors.js'
import {DEFAULT_PROFILE, type Profile, PROFILES} from './profiles.js'
import {parseTarget, type TargetRef} from './target.js'
import {DEFAULT_DETACH_KEYS, parseDetachKeys} from './terminal/detach-keys.js'

/** A static busybox: it must run inside a chroot of the target's filesystem, where no libc may exist. */
export const DEFAULT_IMAGE = 'busybox:1.37.0-musl'
export const PULL_POLICIES = ['always', 'missing', 'never'] as const
export type PullPolicy = (typeof PULL_POLICIES)[number]

/** The flags of `mindbg attach` as oclif hands them over. */
export interface AttachFlags {
  image?: string | undefined
  pull: string
  profile?: string | undefined
  privileged: boolean
  'cap-add'?: string[] | undefined
  user?: string | undefined
  env?: string[] | undefined
  workdir?: string | undefined
  name?: string | undefined
  chroot: boolean
  reason?: string | undefined
  stdin?: boolean | undefined
  tty?: boolean | undefined
  'detach-keys': string
  session?: string | undefined
}

export interface AttachInput {
  targetArg: string | undefined
  command: string[]
  flags: AttachFlags
  env: NodeJS.ProcessEnv
  stdinIsTTY: boolean
  stdoutIsTTY: boolean
  terminalSize?: {rows: number; columns: number} | undefined
}

/** Everything about a new sidecar that can be decided without asking the engine. */
export interface SidecarRequest {
  image: string
  imageSource: 'flag' | 'MINDBG_IMAGE' | 'default'
  pull: PullPolicy
  profile: Profile
  privileged: boolean
  capAdd: string[]
  user: string | undefined
  env: string[]
  workdir: string | undefined
  name: string | undefined
  chroot: boolean
  reason: string | undefined
  command: string[]
}

export interface StreamMode {
  stdin: boolean
  tty: boolean
  detachKeys: number[]
  /** The same keys in Docker's notation, also given to the engine so that its default never cuts in. */
  detachKeysSpec: string
  /** The terminal's size when a TTY is allocated, so the shell starts at the right size. */
  consoleSize?: {rows: number; columns: number}
}

export type AttachPlan =
  | {kind: 'new'; target: TargetRef; sidecar: SidecarRequest; streams: StreamMode}
  | {kind: 'reattach'; session: string; streams: StreamMode}

// Linux capabilities Docker knows by name; checked here so a typo fails before anything is created.
const CAPABILITIES = new Set(
  ('AUDIT_CONTROL AUDIT_READ AUDIT_WRITE BLOCK_SUSPEND BPF CHECKPOINT_RESTORE CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER ' +
    'FSETID IPC_LOCK IPC_OWNER KILL LEASE LINUX_IMMUTABLE MAC_ADMIN MAC_OVERRIDE MKNOD NET_ADMIN NET_BIND_SERVICE ' +
    'NET_BROADCAST NET_RAW PERFMON SETFCAP SETGID SETPCAP SETUID SYS_ADMIN SYS_BOOT SYS_CHROOT SYS_MODULE SYS_NICE ' +
    'SYS_PACCT SYS_PTRACE SYS_RAWIO SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG SYSLOG WAKE_ALARM ALL').split(' '),
)
const CONTAINER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/
const ENV_KEY = /^[^=\s]+$/

/** Complete, then validate: turns flags into a plan, or throws a usage error before anything is created. */
export function planAttach(input: AttachInput): AttachPlan {
  const {flags} = input
  const streams = streamMode(input)

  if (flags.session !== undefined) {
    const creationFlags = (['image', 'profile', 'user', 'workdir', 'name', 'reason', 'cap-add', 'env'] as const).filter(
      (f) => flags[f] !== undefined && !(Array.isArray(flags[f]) && flags[f].length === 0),
    )
    if (flags.privileged) creationFlags.push('privileged' as never)
    if (flags.chroot) creationFlags.push('chroot' as never)
    if (creationFlags.length > 0) {
      throw usageError(
        `--session re-attaches to an existing sidecar and cannot be combined with --${creationFlags[0]}`,
        'Drop the sidecar settings, or start a new session without --session.',
      )
    }
    if (input.targetArg !== undefined || input.command.length > 0) {
      throw usageError('--session takes no target and no command', 'Use: mindbg attach --session NAME')
    }
    return {kind: 'reattach', session: flags.session, streams}
  }

  if (input.targetArg === undefined) {
    throw usageError('missing target', 'Use: mindbg attach <container> [-- COMMAND...], or --session NAME to re-attach.')
  }
  const target = parseTarget(input.targetArg)
  return {kind: 'new', target, sidecar: sidecarRequest(input), streams}
}

function sidecarRequest({flags, env, command}: AttachInput): SidecarRequest {
  const profile = parseProfile(flags.profile ?? DEFAULT_PROFILE)
  const pull = parsePull(flags.pull)
  const capAdd = (flags['cap-add'] ?? []).map(normalizeCapability)
  const user = flags.user === undefined ? undefined : flags.user.trim()
  if (user === '') throw usageError('empty --user', 'Use --user UID[:GID] or a user name known to the debug image.')

  if (profile === 'restricted') {
    if (flags.privileged) throw conflict('--privileged', '--profile restricted')
    if (capAdd.length > 0) throw conflict('--cap-add', '--profile restricted')
    if (user !== undefined && /^(0|root)(:|$)/.test(user)) throw conflict('--user root', '--profile restricted')
    if (flags.chroot) {
      throw usageError('--chroot needs CAP_SYS_CHROOT, which --profile restricted drops', 'Use --profile general (the default) for --chroot.')
    }
  }
  if (flags.chroot && user !== undefined && !/^(0|root)(:|$)/.test(user)) {
    throw usageError('--chroot needs a root user in the sidecar', 'Drop --user, or drop --chroot and read the target at /proc/1/root.')
  }
  if (flags.workdir !== undefined && !flags.workdir.startsWith('/')) {
    throw usageError(`--workdir must be an absolute path, got "${flags.workdir}"`)
  }
  if (flags.name !== undefined && !CONTAINER_NAME.test(flags.name)) {
    throw usageError(`bad --name "${flags.name}"`, 'Container names use letters, digits, "_", "." and "-", and start with a letter or digit.')
  }
  if (flags.reason !== undefined && /[\r\n]/.test(flags.reason)) {
    throw usageError('--reason must be a single line')
  }

  const fromEnv = env.MINDBG_IMAGE?.trim()
  const image = flags.image?.trim() || fromEnv || DEFAULT_IMAGE
  if (flags.image !== undefined && !flags.image.trim()) throw usageError('empty --image')

  return {
    image,
    imageSource: flags.image ? 'flag' : fromEnv ? 'MINDBG_IMAGE' : 'default',
    pull,
    profile,
    privileged: flags.privileged,
    capAdd,
    user,
    env: (flags.env ?? []).map((e) => parseEnv(e, env)),
    workdir: flags.workdir,
    name: flags.name,
    chroot: flags.chroot,
    reason: flags.reason,
    command,
  }
}

/**
 * The automatic choice, overridable with -i/-t (and --no-stdin/--no-tty): a shell gets stdin, and a terminal when
 * both ends are terminals; a one-shot command gets stdin only when something is piped in.
 */
function streamMode(input: AttachInput): StreamMode {
  const {flags, command, stdinIsTTY, stdoutIsTTY} = input
  const shell = command.length === 0
  const stdin = flags.stdin ?? (shell || !stdinIsTTY)
  const tty = flags.tty ?? (shell && stdinIsTTY && stdoutIsTTY)
  if (tty && !stdinIsTTY && flags.tty) {
    throw usageError('--tty needs a terminal on stdin', 'Drop -t when piping input, e.g. echo ps | mindbg attach web')
  }
  const detachKeysSpec = flags['detach-keys'] || DEFAULT_DETACH_KEYS
  const mode: StreamMode = {stdin, tty, detachKeys: parseDetachKeys(detachKeysSpec), detachKeysSpec}
  if (tty && input.terminalSize) mode.consoleSize = input.terminalSize
  return mode
}

export function parseProfile(value: string): Profile {
  if ((PROFILES as readonly string[]).includes(value)) return value as Profile
  throw usageError(`unknown profile "${value}"`, `Profiles: ${PROFILES.join(', ')}.`)
}

function parsePull(value: string): PullPolicy {
  if ((PULL_POLICIES as readonly string[]).includes(value)) return value as PullPolicy
  throw usageError(`bad --pull "${value}"`, `Use one of ${PULL_POLICIES.join(', ')}.`)
}

function normalizeCapability(raw: string): string {
  const cap = raw.trim().toUpperCase().replace(/^CAP_/, '')
  if (!CAPABILITIES.has(cap)) throw usageError(`unknown capability "${raw}" in --cap-add`, 'Use names like SYS_PTRACE or NET_ADMIN (see capabilities(7)).')
  return cap
}

/** KEY=VALUE, or KEY alone to copy KEY from mindbg's own environment (as docker run -e does). */
export function parseEnv(spec: string, env: NodeJS.ProcessEnv): string {
  const eq = spec.indexOf('=')
  const key = eq < 0 ? spec : spec.slice(0, eq)
  if (!ENV_KEY.test(key)) throw usageError(`bad --env "${spec}"`, 'Use --env KEY=VALUE (the key has no spaces and no "=").')
  if (eq >= 0) return spec
  const value = env[key]
  if (value === undefined) throw usageError(`--env ${key}: ${key} is not set in mindbg's environment`, `Use --env ${key}=VALUE.`)
  return `${key}=${value}`
}

function conflict(a: string, b: string): MindbgError {
  return usageError(`${a} conflicts with ${b}`, `${b} exists to run without extra privileges; drop one of the two.`)
}
