import type {BackendOptions} from '../backends/backend.js'
import {parseDuration} from '../domain/duration.js'
import {usageError} from '../domain/errors.js'
import {PROFILES} from '../domain/profiles.js'
import {PULL_POLICIES} from '../domain/request.js'
import type {Runtime} from '../domain/target.js'
import {DEFAULT_DETACH_KEYS} from '../session/detach-keys.js'

/**
 * Every flag of every command is declared once, here, as data: the oclif flags (src/cli/oclif-flags.ts), their
 * TypeScript types (FlagValues) and the scope lists that validation uses (creation-only, one runtime only) are all
 * derived from these tables, so they cannot drift apart.
 */
export interface FlagSpec {
  kind: 'string' | 'boolean'
  description: string
  char?: string
  /** Other long names, as other tools spell the flag (docker's --interactive for -i). */
  aliases?: readonly string[]
  multiple?: true
  options?: readonly string[]
  /** A boolean that also has a --no- form: undefined when neither was given. */
  allowNo?: true
  default?: string
  helpGroup?: 'SECURITY' | 'IMAGE' | 'KUBERNETES' | 'GLOBAL'
  /** Settles how a new debugger is made: meaningless (and refused) when re-attaching to one by name. */
  creation?: true
  /** Means something for this runtime only: refused for a target of the other. */
  runtime?: Runtime
}

type ValueOf<S extends FlagSpec> = S extends {kind: 'boolean'} ? boolean : S extends {multiple: true} ? string[] : string

/** The parsed flags of a table, as oclif hands them over (an absent flag is undefined). */
export type FlagValues<T extends Record<string, FlagSpec>> = {[K in keyof T]?: ValueOf<T[K]> | undefined}

const table = <T extends Record<string, FlagSpec>>(t: T): T => t

/** The flags of every command (src/cli/base-command.ts). */
export const GLOBAL_FLAGS = table({
  debug: {kind: 'boolean', description: 'Show stack traces for errors (also with DEBUG set).', helpGroup: 'GLOBAL'},
  quiet: {kind: 'boolean', char: 'q', description: 'No progress or notices on stderr; errors are still printed.', helpGroup: 'GLOBAL'},
})

/** The Kubernetes connection flags, shared by every command that can talk to a cluster. */
export const KUBE_FLAGS = table({
  context: {kind: 'string', description: 'Kubernetes: kubeconfig context (default: the current one).', helpGroup: 'KUBERNETES', runtime: 'kubernetes'},
  kubeconfig: {kind: 'string', description: 'Kubernetes: kubeconfig file (default: KUBECONFIG, else ~/.kube/config).', helpGroup: 'KUBERNETES', runtime: 'kubernetes'},
  namespace: {kind: 'string', char: 'n', description: "Kubernetes: the namespace (default: the context's).", helpGroup: 'KUBERNETES', runtime: 'kubernetes'},
  'request-timeout': {
    kind: 'string',
    description: 'Kubernetes: how long a request may go unanswered before mindbg gives up (default 30s; 0: no limit), as kubectl --request-timeout.',
    helpGroup: 'KUBERNETES',
    runtime: 'kubernetes',
  },
})

/** The connection settings the Kubernetes flags give, for any command that has them. */
export function kubeConnection(flags: FlagValues<typeof KUBE_FLAGS>): BackendOptions {
  const timeout = flags['request-timeout']
  return {
    kubeconfig: flags.kubeconfig,
    context: flags.context,
    namespace: flags.namespace,
    requestTimeoutMs: timeout === undefined ? undefined : timeout.trim() === '0' ? 0 : parseDuration(timeout, '--request-timeout'),
  }
}

/** How the new debugger is made: `attach` and every later command that starts debuggers. */
export const DEBUGGER_FLAGS = table({
  'cap-add': {kind: 'string', multiple: true, description: 'Add a Linux capability to the debugger (repeatable).', helpGroup: 'SECURITY', creation: true},
  // Also for node/NAME (src/cli/attach-plan.ts NODES_TOO): the node's filesystem as /.
  chroot: {kind: 'boolean', description: "Run with the target's filesystem (a node's, for node/NAME) as / (debug tools stay on PATH); writes nothing into the target.", creation: true, runtime: 'docker'},
  env: {kind: 'string', char: 'e', multiple: true, description: 'Set KEY=VALUE in the debugger, or KEY to copy it from here (repeatable).', creation: true},
  'env-file': {kind: 'string', multiple: true, description: "Read variables from a file of KEY=VALUE lines, as docker's --env-file (repeatable; -e wins).", creation: true},
  image: {kind: 'string', description: 'Debug image (default: MINDBG_IMAGE, else the config file, else a pinned static busybox).', helpGroup: 'IMAGE', creation: true},
  platform: {kind: 'string', description: "Platform of the debug image to pull, OS/ARCH[/VARIANT] (default: the target's).", helpGroup: 'IMAGE', creation: true, runtime: 'docker'},
  name: {kind: 'string', description: 'Name of the sidecar container (default: mindbg-<target>-<random>).', creation: true, runtime: 'docker'},
  privileged: {kind: 'boolean', description: 'Run the debugger privileged.', helpGroup: 'SECURITY', creation: true},
  profile: {kind: 'string', description: 'Security profile, as in kubectl debug.', options: PROFILES, helpGroup: 'SECURITY', creation: true},
  pull: {kind: 'string', description: 'When to pull the debug image (default: missing).', options: PULL_POLICIES, helpGroup: 'IMAGE', creation: true},
  reason: {kind: 'string', description: 'Why this session exists (e.g. an incident ticket); recorded on the debugger.', creation: true},
  sibling: {kind: 'boolean', description: "Use the debug twin of the target's image (distroless :debug, Chainguard -dev, config mappings).", helpGroup: 'IMAGE', creation: true},
  user: {kind: 'string', char: 'u', description: 'User in the debugger, UID[:GID] (or, on Docker, a name).', helpGroup: 'SECURITY', creation: true},
  workdir: {kind: 'string', char: 'w', description: 'Working directory in the debugger.', creation: true},
  'stop-restarts': {
    kind: 'boolean',
    description: 'A crash-looping target: hold its restart loop (its restart policy is set to "no" and stays so) and debug it once it has stopped.',
    creation: true,
    runtime: 'docker',
  },
  'writable-volumes': {
    kind: 'boolean',
    description: "Mount the target's volumes writable where mindbg mounts them (a snapshot of a stopped container, --share-volumes): read-only otherwise.",
    creation: true,
  },
  'share-volumes': {
    kind: 'boolean',
    description: "Kubernetes: mount the target container's volumes in the debugger at the same paths (read-only), for when /proc/1/root cannot be read.",
    helpGroup: 'KUBERNETES',
    creation: true,
    runtime: 'kubernetes',
  },
  custom: {kind: 'string', description: 'Kubernetes: partial container spec (JSON or YAML) merged into the debugger, as kubectl debug --custom.', helpGroup: 'KUBERNETES', creation: true, runtime: 'kubernetes'},
  timeout: {kind: 'string', description: 'Kubernetes: how long to wait for the debugger to start (default 2m).', helpGroup: 'KUBERNETES', creation: true, runtime: 'kubernetes'},
  'target-container': {kind: 'string', char: 'c', description: "Kubernetes: the container to debug (default: the pod's default-container annotation, else the first).", helpGroup: 'KUBERNETES', runtime: 'kubernetes'},
  target: {kind: 'string', description: "Kubernetes: the same as -c, as kubectl debug --target spells it (kubectl debug's own -c names the debug container).", helpGroup: 'KUBERNETES', runtime: 'kubernetes'},
})

/** -c and --target are one setting under two names: the container to debug. Giving both is fine only if they agree. */
export function targetContainer(flags: {'target-container'?: string | undefined; target?: string | undefined}): string | undefined {
  const {'target-container': c, target} = flags
  if (c !== undefined && target !== undefined && c !== target) {
    throw usageError(`--target-container ${c} and --target ${target} name different containers`, 'They are the same setting (kubectl debug spells it --target): give one.')
  }
  return c ?? target
}

/** kubectl debug --copy-to and its companions (same names, same defaults as kubectl 1.34); attach only. */
export const COPY_FLAGS = table({
  'copy-to': {kind: 'string', description: 'Kubernetes: debug a copy of the pod, made under this name, with the debugger as one of its containers (kubectl debug --copy-to); deleted after the session.', helpGroup: 'KUBERNETES', creation: true, runtime: 'kubernetes'},
  'set-image': {kind: 'string', multiple: true, description: 'With --copy-to: CONTAINER=IMAGE in the copy, "*=IMAGE" for every container (repeatable, or comma-separated as kubectl).', helpGroup: 'KUBERNETES', creation: true, runtime: 'kubernetes'},
  hold: {kind: 'boolean', description: "With --copy-to: the target container's entrypoint waits until you start it from the debugger with mindbg-release (a crash-looping or distroless target).", helpGroup: 'KUBERNETES', creation: true, runtime: 'kubernetes'},
  keep: {kind: 'boolean', description: 'With --copy-to: keep the copy after the session (mindbg says how to delete it).', helpGroup: 'KUBERNETES', creation: true, runtime: 'kubernetes'},
  'keep-labels': {kind: 'boolean', description: "With --copy-to: keep the pod's labels (kubectl's default: dropped, so that no Service or controller picks the copy up).", helpGroup: 'KUBERNETES', creation: true, runtime: 'kubernetes'},
  'keep-annotations': {kind: 'boolean', description: "With --copy-to: keep the pod's annotations (default: dropped).", helpGroup: 'KUBERNETES', creation: true, runtime: 'kubernetes'},
  'keep-liveness': {kind: 'boolean', description: 'With --copy-to: keep the liveness probes (default: removed).', helpGroup: 'KUBERNETES', creation: true, runtime: 'kubernetes'},
  'keep-readiness': {kind: 'boolean', description: 'With --copy-to: keep the readiness probes (default: removed).', helpGroup: 'KUBERNETES', creation: true, runtime: 'kubernetes'},
  'keep-startup': {kind: 'boolean', description: 'With --copy-to: keep the startup probes (default: removed).', helpGroup: 'KUBERNETES', creation: true, runtime: 'kubernetes'},
  'keep-init-containers': {kind: 'boolean', allowNo: true, description: 'With --copy-to: run the init containers in the copy (default: on; --no-keep-init-containers to skip them).', helpGroup: 'KUBERNETES', creation: true, runtime: 'kubernetes'},
  'same-node': {kind: 'boolean', description: "With --copy-to: schedule the copy on the original's node.", helpGroup: 'KUBERNETES', creation: true, runtime: 'kubernetes'},
  replace: {kind: 'boolean', description: 'With --copy-to: delete the original pod once the copy exists.', helpGroup: 'KUBERNETES', creation: true, runtime: 'kubernetes'},
})

export const ATTACH_FLAGS = table({
  ...DEBUGGER_FLAGS,
  ...COPY_FLAGS,
  ...KUBE_FLAGS,
  'detach-keys': {kind: 'string', description: 'Key sequence that detaches and leaves the debugger running.', default: DEFAULT_DETACH_KEYS},
  'dry-run': {kind: 'boolean', description: 'Show the debugger that would be created (image and why, user, namespaces) and stop.', creation: true},
  session: {kind: 'string', description: 'The debugger of that name, left running (--detach, or a detached shell): run -- COMMAND in it, or get back into its shell (with a pod target: one in that pod).'},
  detach: {kind: 'boolean', char: 'd', description: 'Start a debugger that keeps running without a terminal and serves later commands (attach --session NAME -- COMMAND); prints its name.', creation: true, runtime: 'docker'},
  ttl: {kind: 'string', description: 'With --detach: how long the debugger may live, ended inside it whatever happens to mindbg (default 1h).', creation: true, runtime: 'docker'},
  end: {kind: 'boolean', description: 'With --session: end that debugger.'},
  record: {kind: 'string', description: 'Record the session in asciicast v2 (asciinema play FILE.cast); what is typed is left out.'},
  'record-input': {kind: 'boolean', description: 'With --record: record what is typed too (passwords included).'},
  reuse: {kind: 'boolean', description: 'Use the newest debugger left running next to the target (one that serves commands first) for the shell or -- COMMAND; a new one if there is none.'},
  stdin: {kind: 'boolean', char: 'i', aliases: ['interactive'], allowNo: true, description: "Keep stdin attached, docker's --interactive (default: on for a shell or piped input)."},
  tty: {kind: 'boolean', char: 't', allowNo: true, description: 'Allocate a terminal (default: on for a shell in a terminal).'},
})
export type AttachFlags = FlagValues<typeof ATTACH_FLAGS>

/** How a run's debuggers are made: attach's settings, less those that name or shape one sidecar. */
const { chroot: _chroot, name: _name, timeout: _startTimeout, ...RUN_DEBUGGER_FLAGS } = DEBUGGER_FLAGS

/** Selecting many targets: Docker containers' labels, or pods' labels with any Kubernetes flag. */
const SELECT_FLAGS = table({
  selector: {kind: 'string', char: 'l', multiple: true, description: 'Targets by label, KEY=VALUE[,KEY2=VALUE2] (repeatable): running Docker containers, or pods with a Kubernetes flag.'},
  'all-namespaces': {kind: 'boolean', char: 'A', description: 'Kubernetes: select pods in every namespace.', helpGroup: 'KUBERNETES', runtime: 'kubernetes'},
  kubernetes: {kind: 'boolean', description: "Kubernetes: select pods (in the context's namespace) rather than Docker containers.", helpGroup: 'KUBERNETES', runtime: 'kubernetes'},
  'start-timeout': {kind: 'string', description: 'Kubernetes: how long to wait for each debugger to start (default 2m).', helpGroup: 'KUBERNETES', runtime: 'kubernetes'},
})

export const RUN_FLAGS = table({
  ...RUN_DEBUGGER_FLAGS,
  ...KUBE_FLAGS,
  ...SELECT_FLAGS,
  timeout: {kind: 'string', description: "Each step's deadline, over the runbook's (default: the runbook's, else 30s)."},
  concurrency: {kind: 'string', description: 'How many targets at once (default 8).', default: '8'},
  'shared-debugger': {
    kind: 'boolean',
    description:
      "Docker, Podman: one debugger for all targets instead of a sidecar each (many targets in much less time). It runs in the host's PID namespace with CAP_SYS_ADMIN, for the run's length; each target's steps enter that target's PID, network, IPC and UTS namespaces without CAP_SYS_ADMIN, as root with the general profile's capabilities.",
    helpGroup: 'SECURITY',
    runtime: 'docker',
  },
  bundle: {kind: 'string', description: 'Write the evidence bundle here: a directory, or a .tar.gz (default: the report on stdout).'},
  'dry-run': {kind: 'boolean', description: 'List the targets and the steps, and create nothing.'},
  list: {kind: 'boolean', description: 'List the built-in runbooks.'},
  json: {kind: 'boolean', description: 'One JSON object per event on stdout (target started, step finished, target finished, run finished).'},
})
export type RunFlags = FlagValues<typeof RUN_FLAGS>

export const CP_FLAGS = table({
  ...RUN_DEBUGGER_FLAGS,
  ...KUBE_FLAGS,
  'start-timeout': SELECT_FLAGS['start-timeout'],
  timeout: {kind: 'string', description: 'How long the copy may take (default 10m).'},
})
export type CpFlags = FlagValues<typeof CP_FLAGS>

/** Commands that look at the debuggers of one runtime: Docker unless one of these says Kubernetes. */
const SCOPE_FLAGS = table({
  ...KUBE_FLAGS,
  'all-namespaces': {kind: 'boolean', char: 'A', description: 'Kubernetes: every namespace.', helpGroup: 'KUBERNETES', runtime: 'kubernetes'},
  kube: {kind: 'boolean', description: "Kubernetes: the current context's namespace.", helpGroup: 'KUBERNETES', runtime: 'kubernetes'},
})

/** The runtime a listing command is about: Kubernetes as soon as any of its flags is given. */
export function scopeRuntime(flags: FlagValues<typeof SCOPE_FLAGS>, otherwise: Runtime = 'docker'): Runtime {
  return flagsOnlyFor(SCOPE_FLAGS, 'kubernetes').some((f) => given(flags[f as keyof typeof flags])) ? 'kubernetes' : otherwise
}

export const LS_FLAGS = table({
  ...SCOPE_FLAGS,
  'no-trunc': {kind: 'boolean', description: 'Do not shorten reasons.'},
})
export type LsFlags = FlagValues<typeof LS_FLAGS>

export const PRUNE_FLAGS = table({
  ...SCOPE_FLAGS,
  all: {kind: 'boolean', description: 'Also remove live sidecars, including detached sessions.'},
})
export type PruneFlags = FlagValues<typeof PRUNE_FLAGS>

export const AUDIT_FLAGS = table({
  since: {kind: 'string', description: 'Only sessions that ended within this long (90s, 2h, 7d is 168h).'},
  'no-trunc': {kind: 'boolean', description: 'Do not shorten targets, reasons and commands.'},
})
export type AuditFlags = FlagValues<typeof AUDIT_FLAGS>

/** The flags of a table that settle how a new debugger is made. */
export const creationFlags = (t: Record<string, FlagSpec>): string[] => Object.keys(t).filter((k) => t[k]!.creation)

/** The flags of a table that mean something for `runtime` only. */
export const flagsOnlyFor = (t: Record<string, FlagSpec>, runtime: Runtime): string[] => Object.keys(t).filter((k) => t[k]!.runtime === runtime)

/** Whether a flag was given: a boolean that is true, a list that is not empty, any other value. */
export const given = (value: unknown): boolean => value !== undefined && value !== false && !(Array.isArray(value) && value.length === 0)

export const INSTALL_FLAGS = table({
  force: {kind: 'boolean', description: 'Replace (or, with --uninstall, remove) whatever else is at that path.'},
  uninstall: {kind: 'boolean', description: 'Remove the link instead.'},
})
export type InstallFlags = FlagValues<typeof INSTALL_FLAGS>
