import type {BackendOptions} from '../backends/registry.js'
import {parseDuration} from '../domain/duration.js'
import {MindbgError, usageError} from '../domain/errors.js'
import {CONTROL, printable} from '../domain/printable.js'
import {DEFAULT_PROFILE, isRootUser, type Profile, PROFILES} from '../domain/profiles.js'
import {DEFAULT_IMAGE, DEFAULT_START_TIMEOUT_MS, type DebuggerRequest, describeImageSource, type CopyRequest, type ImageSource, PULL_POLICIES, type PullPolicy, type StreamMode} from '../domain/request.js'
import {imageReferenceProblem} from '../images/reference.js'
import {defaultRuntime, isNodeRef, parseTarget, type Runtime, type TargetRef} from '../domain/target.js'
import type {AttachRequest} from '../session/attach.js'
import {SERVE_COMMAND} from '../session/serve.js'
import {DEFAULT_DETACH_KEYS, parseDetachKeys} from '../session/detach-keys.js'
import type {MindbgConfig} from './config.js'
import {readEnvFiles} from './env-file.js'
import {ATTACH_FLAGS, type AttachFlags, creationFlags, flagsOnlyFor, given, kubeConnection, targetContainer} from './flag-table.js'

export interface AttachInput {
  targetArg: string | undefined
  command: string[]
  flags: AttachFlags
  env: NodeJS.ProcessEnv
  stdinIsTTY: boolean
  /**
   * Whether stdin brings data: a pipe, a socket or a file. /dev/null, a closed stdin or another device brings none
   * (cron, CI, `ssh host mindbg ...`): a command then runs without input. Default: whenever stdin is no terminal.
   */
  stdinHasData?: boolean | undefined
  stdoutIsTTY: boolean
  terminalSize?: {rows: number; columns: number} | undefined
  config?: MindbgConfig | undefined
}

/** A new debugger (or, with `reuse`, one left running next to the target if there is one), or one by name. */
export type AttachPlan = AttachRequest & {dryRun: boolean}

const CREATION_FLAGS = creationFlags(ATTACH_FLAGS)
const ONLY_FOR: Record<Runtime, string[]> = {docker: flagsOnlyFor(ATTACH_FLAGS, 'docker'), kubernetes: flagsOnlyFor(ATTACH_FLAGS, 'kubernetes')}
const OTHER: Record<Runtime, Runtime> = {docker: 'kubernetes', kubernetes: 'docker'}
/** Docker's flags that a node debugger and a pod copy take too (a filesystem mindbg can chroot into as root). */
const NODES_TOO = new Set(['chroot'])

// Linux capabilities Docker knows by name; checked here so a typo fails before anything is created.
const CAPABILITIES = new Set(
  ('AUDIT_CONTROL AUDIT_READ AUDIT_WRITE BLOCK_SUSPEND BPF CHECKPOINT_RESTORE CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER ' +
    'FSETID IPC_LOCK IPC_OWNER KILL LEASE LINUX_IMMUTABLE MAC_ADMIN MAC_OVERRIDE MKNOD NET_ADMIN NET_BIND_SERVICE ' +
    'NET_BROADCAST NET_RAW PERFMON SETFCAP SETGID SETPCAP SETUID SYS_ADMIN SYS_BOOT SYS_CHROOT SYS_MODULE SYS_NICE ' +
    'SYS_PACCT SYS_PTRACE SYS_RAWIO SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG SYSLOG WAKE_ALARM ALL').split(' '),
)
/** How long a debugger started with --detach lives at most, when --ttl does not say. */
export const DEFAULT_TTL_MS = 60 * 60 * 1000
const CONTAINER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/
const ENV_KEY = /^[^=\s]+$/

/** Complete, then validate: turns flags into a plan, or throws a usage error before anything is created. */
export function planAttach(input: AttachInput): AttachPlan {
  const {flags} = input
  const streams = streamMode(input)
  const target = input.targetArg === undefined ? undefined : kubeFlagsInto(parseTarget(input.targetArg, defaultRuntime(input.env)), flags)
  const runtime = target?.runtime ?? 'docker'
  const node = target !== undefined && isNodeRef(target)
  // A pod copy is ours too: its debugger may chroot into the target.
  const ours = node || flags['copy-to'] !== undefined
  const misplaced = ONLY_FOR[OTHER[runtime]].find((f) => given(flags[f as keyof AttachFlags]) && !(ours && NODES_TOO.has(f)))
  if (misplaced) {
    throw runtime === 'docker'
      ? usageError(`--${misplaced} is for Kubernetes targets`, 'Name a pod: pod/NAME, pod/NAME/CONTAINER or k8s://NAMESPACE/POD.')
      : usageError(`--${misplaced} is not available for Kubernetes targets${NODES_TOO.has(misplaced) ? ' other than nodes and pod copies (--copy-to)' : ''}`, 'Drop it, or target a Docker container.')
  }
  const backend: BackendOptions = kubeConnection(flags)

  if (flags.session !== undefined) {
    const creation = CREATION_FLAGS.find((f) => given(flags[f as keyof AttachFlags]))
    if (creation || flags.reuse) {
      throw usageError(
        `--session re-attaches to an existing debugger and cannot be combined with --${creation ?? 'reuse'}`,
        'Drop the debugger settings, or start a new session without --session.',
      )
    }
    if (target !== undefined && runtime === 'docker') {
      throw usageError('--session takes no target', 'Use: mindbg attach --session NAME [-- COMMAND...] (for a pod: mindbg attach pod/NAME --session NAME).')
    }
    if (flags.end && input.command.length > 0) throw usageError('--end takes no command', 'Use: mindbg attach --session NAME --end')
    if (runtime === 'kubernetes' && (input.command.length > 0 || flags.end)) throw liveCommandOnKubernetes()
    return {kind: 'reattach', runtime, target, session: flags.session, streams, backend, dryRun: false, command: input.command, end: Boolean(flags.end)}
  }
  if (flags.end) throw usageError('--end goes with --session NAME', 'Use: mindbg attach --session NAME --end (mindbg ls lists the names).')

  if (target === undefined) {
    throw usageError('missing target', 'Use: mindbg attach <container> [-- COMMAND...], or --session NAME to re-attach.')
  }
  if (runtime === 'kubernetes' && flags.reuse && input.command.length > 0) throw liveCommandOnKubernetes()
  const request = debuggerRequest(input)
  if (flags.ttl !== undefined && !flags.detach) throw usageError('--ttl goes with --detach', 'Use: mindbg attach TARGET --detach --ttl 30m')
  if (flags.detach) {
    if (input.command.length > 0) throw usageError('--detach starts a debugger for later commands and takes none', 'Start it with: mindbg attach TARGET --detach, then: mindbg attach --session NAME -- COMMAND')
    if (flags.reuse) throw usageError('--reuse and --detach: --detach always starts a new debugger', 'Drop one of them.')
    if (flags.chroot) throw usageError('--detach and --chroot: a serving debugger runs its commands as they are', 'Run: mindbg attach --session NAME -- chroot /proc/1/root CMD')
    const ttlMs = flags.ttl === undefined ? DEFAULT_TTL_MS : parseDuration(flags.ttl, '--ttl')
    if (ttlMs < 1000) throw usageError(`--ttl ${flags.ttl} is too short`, 'Give at least 1s, e.g. --ttl 30m.')
    request.serve = {ttlMs}
    request.command = SERVE_COMMAND
    return {kind: 'new', target, request, streams: {...streams, stdin: true, tty: false}, dryRun: Boolean(flags['dry-run']), reuse: false, backend}
  }
  const copy = copyRequest(flags)
  if (copy) {
    if (flags.reuse) throw usageError('--reuse and --copy-to: a copy is new by definition', 'Drop one of them.')
    if (isNodeRef(target)) throw usageError(`--copy-to copies a pod; node/${target.node} is a node`, 'Name a pod: pod/NAME --copy-to NAME.')
    request.copy = copy
  }
  return {kind: 'new', target, request, streams, dryRun: Boolean(flags['dry-run']), reuse: Boolean(flags.reuse), backend}
}

/** What a debugger left running in a pod does not do yet: take commands (no exec into it, no step server). */
function liveCommandOnKubernetes(): MindbgError {
  return usageError('a command (or --end) in a debugger left running is for Docker targets; in a pod, a live debugger is a shell', 'Get back into it: mindbg attach pod/NAME --session DEBUGGER, or run a one-shot: mindbg attach pod/NAME -- COMMAND')
}

const COPY_ONLY = ['set-image', 'hold', 'keep', 'keep-labels', 'keep-annotations', 'keep-liveness', 'keep-readiness', 'keep-startup', 'keep-init-containers', 'same-node', 'replace'] as const
/** A pod name (DNS-1123 subdomain), as the API server checks it. */
const POD_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/

/** --copy-to and its companions, checked as kubectl checks them; undefined without --copy-to. */
export function copyRequest(flags: AttachFlags): CopyRequest | undefined {
  const name = flags['copy-to']
  if (name === undefined) {
    const stray = COPY_ONLY.find((f) => given(flags[f]))
    if (stray) throw usageError(`--${stray} may only be used with --copy-to`, 'Debug a copy of the pod: --copy-to NAME.')
    return undefined
  }
  if (!POD_NAME.test(name) || name.length > 253) throw usageError(`bad --copy-to "${printable(name)}": not a valid pod name`, 'Lower-case letters, digits, "-" and ".", e.g. --copy-to web-debug.')
  const setImages = (flags['set-image'] ?? []).flatMap((v) => v.split(',')).map((pair) => {
    const eq = pair.indexOf('=')
    const container = pair.slice(0, eq).trim()
    const image = pair.slice(eq + 1).trim()
    if (eq <= 0 || !image) throw usageError(`bad --set-image "${printable(pair)}"`, 'Use --set-image CONTAINER=IMAGE, or "*=IMAGE" for every container.')
    const problem = imageReferenceProblem(image)
    if (problem) throw usageError(`bad image reference "${printable(image)}" for container ${container}: ${problem}`, 'Use [REGISTRY/]NAME[:TAG][@sha256:DIGEST].')
    return {container, image}
  })
  return {
    name,
    setImages,
    keep: {
      labels: Boolean(flags['keep-labels']),
      annotations: Boolean(flags['keep-annotations']),
      liveness: Boolean(flags['keep-liveness']),
      readiness: Boolean(flags['keep-readiness']),
      startup: Boolean(flags['keep-startup']),
      initContainers: flags['keep-init-containers'] ?? true,
    },
    sameNode: Boolean(flags['same-node']),
    replace: Boolean(flags.replace),
    // The original is gone with --replace: the copy is not deleted after the session.
    keepCopy: Boolean(flags.keep) || Boolean(flags.replace),
    hold: Boolean(flags.hold),
  }
}

/** -n and -c complete a pod reference; they may not contradict what the reference itself says. */
export function kubeFlagsInto(target: TargetRef, flags: Pick<AttachFlags, 'namespace' | 'target-container' | 'target'>): TargetRef {
  const targetFlag = targetContainer(flags)
  if (target.runtime !== 'kubernetes') return target
  if ('node' in target) {
    if (targetFlag !== undefined) throw usageError(`-c/--target names a container of a pod; node/${target.node} is a node`, 'Drop -c, or name a pod: pod/NAME/CONTAINER.')
    // -n: where the debugger pod is made (the namespace's Pod Security must allow host namespaces).
    return flags.namespace === undefined ? target : {...target, namespace: flags.namespace}
  }
  if (target.namespace !== undefined && flags.namespace !== undefined && flags.namespace !== target.namespace) {
    throw usageError(`the target names namespace ${target.namespace} but --namespace says ${flags.namespace}`)
  }
  if (target.container !== undefined && targetFlag !== undefined && targetFlag !== target.container) {
    throw usageError(`the target names container ${target.container} but -c/--target says ${targetFlag}`)
  }
  const completed = {...target}
  const namespace = target.namespace ?? flags.namespace
  const container = target.container ?? targetFlag
  if (namespace !== undefined) completed.namespace = namespace
  if (container !== undefined) completed.container = container
  return completed
}

const NO_CONFIG: MindbgConfig = {path: undefined, siblings: []}

/** Flags beat environment variables, which beat the config file, which beats the built-in defaults. */
export function debuggerRequest({flags, env, command, config = NO_CONFIG}: Pick<AttachInput, 'flags' | 'env' | 'command' | 'config'>): DebuggerRequest {
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
    if (user !== undefined && isRootUser(user)) throw conflict('--user root', '--profile restricted')
    if (flags.chroot) {
      throw usageError('--chroot needs CAP_SYS_CHROOT, which --profile restricted drops', 'Use --profile general (the default) for --chroot.')
    }
  }
  if (flags.chroot && user !== undefined && !isRootUser(user)) {
    throw usageError('--chroot needs a root user in the sidecar', 'Drop --user, or drop --chroot and read the target at /proc/1/root.')
  }
  if (flags.workdir !== undefined && !flags.workdir.startsWith('/')) {
    throw usageError(`--workdir must be an absolute path, got "${flags.workdir}"`, `Start it with "/", e.g. --workdir /${flags.workdir.replace(/^\.?\/*/, '')}.`)
  }
  if (flags.name !== undefined && !CONTAINER_NAME.test(flags.name)) {
    throw usageError(`bad --name "${flags.name}"`, 'Container names use letters, digits, "_", "." and "-", and start with a letter or digit.')
  }
  // It is shown to whoever runs `mindbg ls`: no line breaks, no terminal escape sequences.
  if (flags.reason !== undefined && CONTROL.test(flags.reason)) {
    throw usageError('--reason must be a single line of printable text', 'Drop the line breaks and control characters, e.g. --reason "INC-1234 checkout latency".')
  }

  if (flags.image !== undefined && !flags.image.trim()) throw usageError('empty --image', 'Name an image, e.g. --image busybox:1.37.0-musl, or drop --image for the default.')
  const [image, imageSource] = chooseImage(flags, env, config)
  const problem = imageSource === 'sibling' ? undefined : imageReferenceProblem(image)
  if (problem) {
    throw usageError(`bad image reference "${printable(image)}" (${describeImageSource(imageSource, config.path)}): ${problem}`, 'Use [REGISTRY/]NAME[:TAG][@sha256:DIGEST], e.g. busybox:1.37.0-musl.')
  }

  return {
    image,
    imageSource,
    siblingMappings: config.siblings,
    platform,
    pull,
    profile,
    privileged: Boolean(flags.privileged),
    capAdd,
    user,
    env: mergeEnv(readEnvFiles(flags['env-file'] ?? [], env), (flags.env ?? []).map((e) => parseEnv(e, env))),
    workdir: flags.workdir,
    name: flags.name,
    chroot: Boolean(flags.chroot),
    writableVolumes: Boolean(flags['writable-volumes']),
    stopRestarts: Boolean(flags['stop-restarts']),
    shareVolumes: Boolean(flags['share-volumes']),
    reason: flags.reason,
    command,
    custom: flags.custom,
    startTimeoutMs: flags.timeout === undefined ? DEFAULT_START_TIMEOUT_MS : parseDuration(flags.timeout),
  }
}

function chooseImage(flags: AttachFlags, env: NodeJS.ProcessEnv, config: MindbgConfig): [string, ImageSource] {
  if (flags.image !== undefined) return [flags.image, 'flag']
  if (flags.sibling) return ['', 'sibling']
  const fromEnv = env.MINDBG_IMAGE?.trim()
  if (fromEnv) return [fromEnv, 'MINDBG_IMAGE']
  if (config.image) return [config.image, 'config']
  return [DEFAULT_IMAGE, 'default']
}

/**
 * The automatic choice, overridable with -i/-t (and --no-stdin/--no-tty): a shell gets stdin, and a terminal when
 * both ends are terminals; a one-shot command gets stdin only when something is piped in.
 */
function streamMode(input: AttachInput): StreamMode {
  const {flags, command, stdinIsTTY, stdoutIsTTY} = input
  const shell = command.length === 0
  // A command in a debugger left running (--session, --reuse) gets a terminal as a shell would: it is a
  // `docker exec -it` then, not a one-shot sidecar.
  const live = flags.session !== undefined || Boolean(flags.reuse)
  const terminals = stdinIsTTY && stdoutIsTTY
  const stdin = flags.stdin ?? (shell || (live && terminals) || (input.stdinHasData ?? !stdinIsTTY))
  const tty = flags.tty ?? ((shell || live) && terminals)
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

/** The env files' variables, then -e's: a key given twice keeps its last value, in the place it first had (as docker). */
function mergeEnv(...lists: string[][]): string[] {
  const byKey = new Map<string, string>()
  for (const entry of lists.flat()) byKey.set(entry.slice(0, entry.indexOf('=')), entry)
  return [...byKey.values()]
}

function conflict(a: string, b: string): MindbgError {
  return usageError(`${a} conflicts with ${b}`, `${b} exists to run without extra privileges; drop one of the two.`)
}
