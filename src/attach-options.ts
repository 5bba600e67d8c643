import type {MindbgConfig} from './config.js'
import {MindbgError, usageError} from './errors.js'
import type {SiblingMapping} from './images/sibling.js'
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
  sibling?: boolean | undefined
  platform?: string | undefined
  'dry-run'?: boolean | undefined
  pull?: string | undefined
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
  namespace?: string | undefined
  context?: string | undefined
  kubeconfig?: string | undefined
  'target-container'?: string | undefined
  custom?: string | undefined
  timeout?: string | undefined
  reuse?: boolean | undefined
}

/** Settings that only mean something for Kubernetes targets. */
export interface KubeSettings {
  kubeconfig: string | undefined
  context: string | undefined
  namespace: string | undefined
  targetContainer: string | undefined
  custom: string | undefined
  timeoutMs: number
  reuse: boolean
}

export const DEFAULT_KUBE_TIMEOUT_MS = 120_000

export interface AttachInput {
  targetArg: string | undefined
  command: string[]
  flags: AttachFlags
  env: NodeJS.ProcessEnv
  stdinIsTTY: boolean
  stdoutIsTTY: boolean
  terminalSize?: {rows: number; columns: number} | undefined
  config?: MindbgConfig | undefined
}

/** Everything about a new sidecar that can be decided without asking the engine. */
export type ImageSource = 'flag' | 'sibling' | 'MINDBG_IMAGE' | 'config' | 'default'

export interface SidecarRequest {
  /** The debug image; with --sibling it is derived from the target's image once the target is known. */
  image: string
  imageSource: ImageSource
  /** Sibling mappings from the config file, tried before the built-in ones. */
  siblingMappings: SiblingMapping[]
  /** Explicit --platform; otherwise a pull uses the target's platform. */
  platform: string | undefined
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
  | {kind: 'new'; target: TargetRef; sidecar: SidecarRequest; streams: StreamMode; dryRun: boolean; kube: KubeSettings}
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
    const creationFlags = (['image', 'profile', 'user', 'workdir', 'name', 'reason', 'cap-add', 'env', 'platform'] as const).filter(
      (f) => flags[f] !== undefined && !(Array.isArray(flags[f]) && flags[f].length === 0),
    )
    if (flags.privileged) creationFlags.push('privileged' as never)
    if (flags.chroot) creationFlags.push('chroot' as never)
    if (flags.sibling) creationFlags.push('sibling' as never)
    if (flags['dry-run']) creationFlags.push('dry-run' as never)
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
  const sidecar = sidecarRequest(input)
  const kube = kubeSettings(flags)
  if (target.runtime === 'docker') {
    const kubeOnly = (['namespace', 'context', 'kubeconfig', 'target-container', 'custom', 'timeout'] as const).find((f) => flags[f] !== undefined)
    if (kubeOnly || flags.reuse) throw usageError(`--${kubeOnly ?? 'reuse'} is for Kubernetes targets`, 'Name a pod: pod/NAME, pod/NAME/CONTAINER or k8s://NAMESPACE/POD.')
  } else {
    const dockerOnly = flags.name !== undefined ? 'name' : flags.platform !== undefined ? 'platform' : flags.chroot ? 'chroot' : undefined
    if (dockerOnly) throw usageError(`--${dockerOnly} is not available for Kubernetes targets`, 'Drop it, or target a Docker container.')
    if (target.namespace !== undefined && flags.namespace !== undefined && flags.namespace !== target.namespace) {
      throw usageError(`the target names namespace ${target.namespace} but --namespace says ${flags.namespace}`)
    }
    if (target.container !== undefined && flags['target-container'] !== undefined && flags['target-container'] !== target.container) {
      throw usageError(`the target names container ${target.container} but --target-container says ${flags['target-container']}`)
    }
  }
  return {kind: 'new', target, sidecar, streams, dryRun: Boolean(flags['dry-run']), kube}
}

function kubeSettings(flags: AttachFlags): KubeSettings {
  return {
    kubeconfig: flags.kubeconfig,
    context: flags.context,
    namespace: flags.namespace,
    targetContainer: flags['target-container'],
    custom: flags.custom,
    timeoutMs: flags.timeout === undefined ? DEFAULT_KUBE_TIMEOUT_MS : parseDuration(flags.timeout),
    reuse: Boolean(flags.reuse),
  }
}

/** kubectl-style durations: 90s, 2m, 1m30s, 1h; a bare number is seconds. */
export function parseDuration(text: string): number {
  const bare = /^\d+$/.test(text.trim())
  const parts = [...text.trim().matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)]
  const consumed = parts.map((p) => p[0]).join('')
  if (!bare && (parts.length === 0 || consumed !== text.trim())) throw usageError(`bad --timeout "${text}"`, 'Use a duration such as 90s, 2m or 1m30s.')
  const unit: Record<string, number> = {ms: 1, s: 1000, m: 60_000, h: 3_600_000}
  const ms = bare ? Number(text) * 1000 : parts.reduce((sum, p) => sum + Number(p[1]) * unit[p[2]!]!, 0)
  if (ms <= 0) throw usageError(`--timeout must be positive, got "${text}"`)
  return ms
}

const NO_CONFIG: MindbgConfig = {path: undefined, siblings: []}

/** Flags beat environment variables, which beat the config file, which beats the built-in defaults. */
function sidecarRequest({flags, env, command, config = NO_CONFIG}: AttachInput): SidecarRequest {
  const profile = parseProfile(flags.profile ?? (env.MINDBG_PROFILE?.trim() || config.profile || DEFAULT_PROFILE))
  const pull = parsePull(flags.pull ?? (env.MINDBG_PULL?.trim() || config.pull || 'missing'))
  if (config.requireReason && !flags.reason?.trim()) {
    throw usageError(`a --reason is required (requireReason in ${config.path})`, 'Say why, e.g. --reason "INC-1234 checkout latency".')
  }
  if (flags.sibling && flags.image !== undefined) throw usageError('--sibling and --image both choose the debug image', 'Use one of the two.')
  const platform = flags.platform?.trim()
  if (platform !== undefined && !/^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/.test(platform)) {
    throw usageError(`bad --platform "${flags.platform}"`, 'Use OS/ARCH[/VARIANT], e.g. linux/amd64 or linux/arm64/v8.')
  }
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

  if (flags.image !== undefined && !flags.image.trim()) throw usageError('empty --image')
  const [image, imageSource] = chooseImage(flags, env, config)

  return {
    image,
    imageSource,
    siblingMappings: config.siblings,
    platform,
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

function chooseImage(flags: AttachFlags, env: NodeJS.ProcessEnv, config: MindbgConfig): [string, ImageSource] {
  if (flags.image?.trim()) return [flags.image.trim(), 'flag']
  if (flags.sibling) return ['', 'sibling']
  const fromEnv = env.MINDBG_IMAGE?.trim()
  if (fromEnv) return [fromEnv, 'MINDBG_IMAGE']
  if (config.image) return [config.image, 'config']
  return [DEFAULT_IMAGE, 'default']
}

/** Why this image, in words, for --dry-run and notices. */
export function describeImageSource(source: ImageSource, configPath: string | undefined): string {
  switch (source) {
    case 'flag':
      return '--image'
    case 'sibling':
      return "--sibling: the debug twin of the target's image"
    case 'MINDBG_IMAGE':
      return 'the MINDBG_IMAGE environment variable'
    case 'config':
      return `"image" in ${configPath}`
    case 'default':
      return "mindbg's default (a static busybox)"
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
