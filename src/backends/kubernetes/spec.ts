import type {V1Capabilities, V1EphemeralContainer, V1EnvVar, V1Pod, V1SecurityContext, V1VolumeMount} from '@kubernetes/client-node'

import {MindbgError, usageError} from '../../domain/errors.js'
import {randomSuffix} from '../../domain/names.js'
import type {Profile} from '../../domain/profiles.js'
import type {DebuggerRequest, PullPolicy, StreamMode} from '../../domain/request.js'
import {type IdentityField, identityEntries, type SessionIdentity} from '../../domain/session.js'

export const DEFAULT_CONTAINER_ANNOTATION = 'kubectl.kubernetes.io/default-container'
export const ENV_PREFIX = 'MINDBG_'
/** The debugger's random session id: in the wrappers' control messages (init request, exit trailer). */
export const SESSION_ENV = `${ENV_PREFIX}SESSION`
/** The uid a restricted debugger uses when the target's uid is unknown (distroless "nonroot"). */
export const FALLBACK_NON_ROOT_UID = 65532

/**
 * Every debugger first waits for mindbg's go-ahead, a line on stdin sent once the attach stream is open: no
 * output is lost before the attach, and a debugger nobody attached to (Ctrl-C or --timeout while it was still
 * being pulled) exits by itself after 30 s instead of running forever. `read -t` where the shell has it (busybox,
 * bash, ksh); dash has not ("Illegal option", status 2): there `timeout`, else a plain read (stdin then closes
 * when the session ends). Whatever the shell, the wrappers need no writable filesystem: sh, cat, head, sleep.
 */
const GATE = [
  'gate() {',
  '  IFS= read -r -t 30 go 2>/dev/null; s=$?',
  '  if [ "$s" = 2 ]; then',
  // GNU timeout runs its command in a process group of its own, which a terminal stops when it reads (SIGTTIN):
  // --foreground keeps it in the terminal's (busybox's timeout has no such option and needs none).
  '    if command -v timeout >/dev/null 2>&1; then',
  '      if timeout --foreground 1 sh -c : 2>/dev/null; then fg=--foreground; else fg=; fi',
  `      go=$(timeout $fg 30 sh -c 'IFS= read -r l; s=$?; printf %s "$l"; exit $s')`,
  '    else IFS= read -r go; fi',
  '    s=$?',
  '  fi',
  // The go-ahead line may carry the target's container ID (a pod copy: unknown when the debugger was specified).
  '  [ -n "$MINDBG_TARGET_ID" ] || [ -z "$go" ] || export MINDBG_TARGET_ID="$go"',
  '  unset go',
  '  return "$s"',
  '}',
].join('\n')
export const GO_AHEAD = '\n'

/**
 * Commands of mindbg's own that a debugger offers besides its image's (a held copy's mindbg-release): their
 * directory goes first on PATH.
 */
const EXTRA_PATH = '[ -z "$MINDBG_PATH" ] || PATH="$MINDBG_PATH:$PATH"'

/**
 * In a pod that shares one PID namespace (shareProcessNamespace), PID 1 is the pause container, not the target: the
 * target's main process is the lowest PID whose cgroup names the target's container ID (every runtime's cgroup
 * path holds it, relative or not). MINDBG_TARGET_ROOT and MINDBG_TARGET_PID point at it; an interactive shell
 * (MINDBG_TARGET_NOTICE set) is told which PID it is.
 */
const LOCATE_TARGET = [
  'if [ -z "$MINDBG_TARGET_ROOT" ] && [ -n "$MINDBG_TARGET_ID" ]; then',
  '  found=',
  '  for p in /proc/[0-9]*; do',
  '    n=${p#/proc/}',
  '    [ -n "$found" ] && [ "$n" -gt "$found" ] && continue',
  '    while IFS= read -r line; do case $line in *"$MINDBG_TARGET_ID"*) found=$n; break ;; esac; done <"$p/cgroup" 2>/dev/null',
  '  done',
  '  if [ -n "$found" ]; then',
  '    export MINDBG_TARGET_PID="$found" MINDBG_TARGET_ROOT="/proc/$found/root"',
  '    [ -z "$MINDBG_TARGET_NOTICE" ] || printf "mindbg: %s is PID %s here (shared PID namespace); its filesystem is at %s\\n" "$MINDBG_TARGET" "$found" "$MINDBG_TARGET_ROOT" >&2',
  '  else',
  '    [ -z "$MINDBG_TARGET_NOTICE" ] || printf "mindbg: cannot tell which process is %s (shared PID namespace): find it with ps; its filesystem is at /proc/PID/root\\n" "$MINDBG_TARGET" >&2',
  '  fi',
  '  unset found n p line',
  'fi',
].join('\n')

/**
 * mindbg-init (src/backends/init.c), a child subreaper, runs the command: what the session leaves behind is reaped, not
 * left as zombies of the target's PID 1. An ephemeral container cannot be given a file, so the wrapper asks for the
 * binary on the session's stream (`ask ARCH`, or `ask -` when it cannot use one) and mindbg answers. Without a
 * terminal, where dd can read exactly n bytes from a pipe (`ARCH+raw`): its length on a line, then the bytes, one
 * read(2); else printf lines (every byte an octal escape, so the shell's own printf writes it), then a "." line,
 * which the shell reads one byte per read(2) (~11,000 of them, ~25 ms). Where no directory is writable and
 * executable (a read-only root filesystem), or uname or chmod are missing, the command runs without it. The file is
 * removed as soon as the init runs (MINDBG_INIT_UNLINK); the variable does not reach the command.
 * prep_init runs before the go-ahead, while mindbg is still attaching: it writes nothing and reads nothing of the
 * session's; fetch_init, after it, asks and receives. A debugger nobody attached to removes the probe (drop_init).
 */
const FETCH_INIT = [
  'prep_init() {',
  '  init= f= raw=',
  '  case $(uname -m 2>/dev/null) in x86_64) a=amd64 ;; aarch64 | arm64) a=arm64 ;; *) a= ;; esac',
  // The probe's interpreter: busybox's `command -v sh` may answer "sh", no path.
  '  s=/bin/sh; [ -x "$s" ] || s=$(command -v sh)',
  '  case $s in /*) ;; *) a= ;; esac',
  '  if [ "$1" = yes ] && [ -n "$a" ] && command -v chmod >/dev/null 2>&1; then',
  '    for d in /tmp /var/tmp /run /dev/shm; do',
  '      f=$d/.mindbg-init.$$',
  // Writable, and not mounted noexec (as /dev/shm often is): a script that says so, before mindbg sends anything.
  `      if (set -C; printf '#!%s\\nexit 7\\n' "$s" >"$f") 2>/dev/null; then`,
  '        chmod 700 "$f" 2>/dev/null && "$f" </dev/null >/dev/null 2>&1',
  '        [ $? = 7 ] && break',
  '        rm -f "$f"',
  '      fi',
  '      f=',
  '    done',
  '  fi',
  `  if [ -n "$f" ] && [ "$2" = raw ] && printf '' | dd bs=1 count=1 iflag=fullblock >/dev/null 2>&1; then raw=+raw; fi`,
  '}',
  'drop_init() { [ -z "$f" ] || rm -f "$f"; }',
  'fetch_init() {',
  '  if [ -z "$f" ]; then ask -; return 0; fi',
  '  ask "$a$raw"',
  // Into the script's file: it keeps its mode. Nothing (a length of 0, a lone "."): an empty file, which fails the probe.
  '  if [ -n "$raw" ]; then',
  '    IFS= read -r l',
  '    { [ "$l" -gt 0 ] 2>/dev/null && dd bs="$l" count=1 iflag=fullblock 2>/dev/null; } >"$f"',
  '  else',
  '    while IFS= read -r l && [ "$l" != . ]; do printf "$l"; done >"$f"',
  '  fi',
  // The binary runs (off the terminal: the init gives its command the terminal's foreground, which the wrapper
  // still needs); else (a wrong or damaged binary) the command runs without it.
  '  "$f" sh -c "exit 7" </dev/null 2>/dev/null',
  '  if [ $? = 7 ]; then init=$f; else rm -f "$f"; fi',
  '}',
  // Run under the init from here on (the caller's "$@" is the command).
  'use_init() { MINDBG_INIT_UNLINK=$init; export MINDBG_INIT_UNLINK; }',
].join('\n')

/** The init request: on a terminal an OSC sequence ended by BEL (no stderr there), else a line on stderr. */
export const initRequestPrefix = (session: string, tty: boolean): string => (tty ? `\x1b]mindbg-init;${session};` : `mindbg-init:${session}:`)
export const initRequestEnd = (tty: boolean): number => (tty ? 0x07 : 0x0a)

/** The wrapper's `ask ARCH`, printing the request in exactly the form above (printf escapes for the controls). */
function askFunction(tty: boolean): string {
  const escaped = (text: string): string => text.replace(/[\x00-\x1f]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`)
  const format = `${escaped(initRequestPrefix('%s', tty))}%s${escaped(String.fromCharCode(initRequestEnd(tty)))}`
  return `ask() { printf '${format}' "$${SESSION_ENV}" "$1"${tty ? '' : ' >&2'}; }`
}

/**
 * mindbg's answer to an init request. Raw (`ARCH+raw`, no terminal in the way): the length on a line, then the bytes.
 * Else the binary as printf format lines, every byte an octal escape (nothing a terminal's line discipline or printf
 * could take for something else), then ".". No binary: a length of 0, or just ".".
 */
export function initAnswer(binary: Buffer | undefined, raw = false): Buffer {
  const bytes = binary ?? Buffer.alloc(0)
  if (raw) return Buffer.concat([Buffer.from(`${bytes.length}\n`), bytes])
  const lines: string[] = []
  for (let at = 0; at < bytes.length; at += 64) {
    lines.push(Array.from(bytes.subarray(at, at + 64), (b) => `\\${b.toString(8).padStart(3, '0')}`).join(''))
  }
  lines.push('.')
  return Buffer.from(`${lines.join('\n')}\n`, 'latin1')
}

/** How a wrapper asks for the raw answer: its architecture with this suffix. */
export const RAW_INIT = '+raw'

/**
 * On a terminal (a shell, or a command with -t): the process keeps the terminal, as with kubectl debug. The terminal
 * does not echo until the init has come (nor the go-ahead): what mindbg sends is not the user's to see.
 */
export const TTY_WRAPPER = [
  GATE,
  FETCH_INIT,
  askFunction(true),
  'if saved=$(stty -g 2>/dev/null) && stty -echo 2>/dev/null; then quiet=yes; else quiet=no; fi',
  'prep_init "$quiet" printf',
  'gate || { drop_init; exit 0; }',
  'fetch_init',
  '[ "$quiet" = no ] || stty "$saved" 2>/dev/null',
  'unset saved quiet a f l d s raw',
  EXTRA_PATH,
  LOCATE_TARGET,
  'if [ -n "$init" ]; then use_init; exec "$init" "$@"; fi',
  'exec "$@"',
].join('\n')

/** Labels cannot be set on ephemeral containers: who started a debugger, and why, is in its environment. */
const identityKey = (field: IdentityField): string => `${ENV_PREFIX}${field.toUpperCase()}`

/** An identity field read back from a debugger's environment. */
export function identityEnv(container: V1EphemeralContainer, field: IdentityField): string | undefined {
  const value = container.env?.find((e) => e.name === identityKey(field))?.value
  return value === undefined ? undefined : unverbatim(value)
}

export const isMindbgDebugger = (container: {name: string}): boolean => container.name.startsWith('mindbg-')
/**
 * How a one-shot debugger tells mindbg its command's exit code without waiting for the pod status (which comes
 * only at the kubelet's next relist, up to a second later): its last line on stderr, with the session's id (see
 * SESSION_ENV) so that no output can be mistaken for it. mindbg removes it from the output; `kubectl logs` shows it.
 */
export const exitTrailerPrefix = (session: string): string => `mindbg-exit:${session}:`
/**
 * Just before the exit trailer, the last line on stdout: the kubelet forwards stdout and stderr independently, so
 * only the end of each stream says that all of it came. With both, mindbg ends the session at once instead of
 * waiting for the stream to close (the runtime tearing the container down: ~70 ms on the simulator).
 */
export const outputEndMarker = (session: string): string => `mindbg-end:${session}`
const REPORT_EXIT = `[ -z "$${SESSION_ENV}" ] || { printf 'mindbg-end:%s\\n' "$${SESSION_ENV}"; printf 'mindbg-exit:%s:%s\\n' "$${SESSION_ENV}" "$rc" >&2; }`

/**
 * Waits for "$1" (a background job of this shell). A trapped signal interrupts `wait` (POSIX) and sets woke: wait
 * again until the job's own exit status comes; after a stop (the trap also set stopping and sent TERM), KILL what is
 * still there 2 s later. Sets rc.
 */
const WAIT_STOPPABLE = [
  'await() {',
  '  while :; do',
  '    woke=',
  '    wait "$1"; rc=$?',
  '    [ -z "$woke" ] && return',
  // Gone as soon as it is gone (0.1 s steps where sleep takes fractions, as busybox's and GNU's do), KILL at 2 s.
  '    [ -n "$stopping" ] || continue',
  '    n=0',
  '    while kill -0 "$1" 2>/dev/null && [ "$n" -lt 20 ]; do',
  '      if sleep 0.1 2>/dev/null; then n=$((n + 1)); else sleep 1; n=$((n + 10)); fi',
  '    done',
  '    kill -KILL -"$1" "$1" 2>/dev/null',
  '  done',
  '}',
].join('\n')

/** A command the debug image lacks is named as the user typed it (not as setsid's "can't execute"), exit 127. */
const NOT_FOUND = `command -v "$1" >/dev/null 2>&1 || { printf 'mindbg: %s: command not found in the debug image\\nHint: use --image with a debug image that has it (or give its full path).\\n' "$1" >&2; rc=127; ${REPORT_EXIT}; exit 127; }`

/**
 * Every process a wrapper starts is its own child, waited for before it exits: nothing is left for the target's
 * PID 1 to reap (a distroless application reaps nothing). The lifeline is read by the shell itself (`read`, no
 * child process), so that the watcher can be ended at any moment without orphaning anything.
 */
const LIFELINE = 'while IFS= read -r _; do :; done'

/**
 * How every wrapper without a terminal begins: the helpers, the session's stdin kept on fd 3 (background jobs of a
 * non-interactive shell get /dev/null), the go-ahead, and the command checked.
 */
const PRELUDE = [
  GATE,
  WAIT_STOPPABLE,
  FETCH_INIT,
  askFunction(false),
  'exec 3<&0',
  'prep_init yes raw',
  EXTRA_PATH,
  // Its own process group (setsid, where the image has it), so that stopping it stops what it started too. Looked up
  // before the go-ahead, as prep_init's probes are: a command substitution is a fork, after it one on the session's path.
  'group=$(command -v setsid || true)',
  'gate <&3 || { drop_init; exit 0; }',
  'fetch_init <&3',
  'unset a f l d s raw',
  LOCATE_TARGET,
  NOT_FOUND,
  // From here on "$@" starts with the init, where there is one.
  'if [ -n "$init" ]; then use_init; set -- "$init" "$@"; fi',
]

/**
 * A command (or a shell) without a terminal must not outlive the session: ephemeral containers cannot be deleted.
 * It runs in the background while a watcher blocks on the session's stdin, which mindbg holds open to the end.
 * When the session ends, however it ends, the API server closes the attach and the kubelet closes stdin
 * (stdinOnce): the watcher wakes up and stops the command (TERM, then KILL 2 s later). Background jobs of a
 * non-interactive shell get /dev/null as stdin, hence the copy of the session's stdin on fd 3.
 */
export const ONE_SHOT_WRAPPER = [
  ...PRELUDE,
  'wrapper=$$',
  'trap \'woke=1 stopping=1; kill -TERM -"$cmd" "$cmd" 2>/dev/null\' USR1',
  '$group "$@" </dev/null 3<&- &',
  'cmd=$!',
  `( ${LIFELINE} <&3; kill -USR1 "$wrapper" ) </dev/null >/dev/null 2>&1 &`,
  'watcher=$!',
  'exec 3<&-',
  'await "$cmd"',
  'kill "$watcher" 2>/dev/null; wait "$watcher" 2>/dev/null',
  REPORT_EXIT,
  'exit "$rc"',
].join('\n')

/**
 * The same, for a command that reads the session's input (piped, or -i). The input cannot simply be the session's
 * stdin, or its end would be indistinguishable from the session's end. So mindbg sends it in chunks, each a line
 * with its length and then the bytes, and "0" for end of input. A relay at the head of a pipeline into the command
 * copies each chunk (dd, or GNU head: neither reads past the count it is given), closes the pipe at "0" (the
 * command sees EOF), then keeps reading the lifeline: when the session ends it tells the wrapper (SIGUSR1), which
 * has the command stopped; when the command ends first, its side ends the relay. No FIFO, no temporary file: a
 * read-only root filesystem is fine. The relay hands its PID down the pipe first (from /proc/self/stat: a subshell
 * has no $$ of its own), so that the command's side can end it.
 */
export const RELAY_WRAPPER = [
  ...PRELUDE,
  // Exactly n bytes from a pipe: dd with fullblock (busybox, GNU), else GNU head -c, which never reads past n
  // (busybox's head does read ahead). dd in 64 kB blocks, then the rest: a dd of one whole 1 MiB block faults in a
  // fresh 1 MiB buffer each time (busybox, 200 MB in 1 MiB chunks through a pipe: 0.47-0.52 s, in 64 kB blocks 0.26-0.30).
  "if printf '' | dd bs=1 count=1 iflag=fullblock >/dev/null 2>&1; then",
  '  copy() {',
  '    [ "$1" -lt 65536 ] || dd bs=65536 count=$(($1 / 65536)) iflag=fullblock 2>/dev/null || return',
  '    [ $(($1 % 65536)) = 0 ] || dd bs=$(($1 % 65536)) count=1 iflag=fullblock 2>/dev/null',
  '  }',
  'else',
  '  copy() { head -c "$1"; }',
  'fi',
  'wrapper=$$ stopped=',
  'trap \'woke=1 stopped=1; kill -TERM "$side" 2>/dev/null\' USR1',
  '{',
  '  read -r me _ </proc/self/stat; echo "$me"',
  // An end from the command's side interrupts a read at once, and waits for a chunk being copied (reaped then).
  "  trap 'exit 0' TERM",
  '  while IFS= read -r n <&3 && [ "$n" != 0 ]; do copy "$n" <&3 || break; done',
  '  exec >/dev/null',
  `  ${LIFELINE} <&3`,
  '  kill -USR1 "$wrapper"',
  '} </dev/null 2>/dev/null | {',
  '  IFS= read -r relay',
  '  stopping=',
  '  trap \'woke=1 stopping=1; kill -TERM -"$c" "$c" 2>/dev/null\' TERM',
  // A background job's stdin is /dev/null unless redirected explicitly: the pipe goes through fd 4.
  '  exec 4<&0',
  '  $group "$@" <&4 4<&- 3<&- &',
  '  c=$!',
  '  await "$c"',
  '  kill -TERM "$relay" 2>/dev/null',
  // The command's own side reports its exit: bash's second wait for a pipeline member can answer -1.
  `  ${REPORT_EXIT}`,
  '  exit "$rc"',
  '} &',
  'side=$!',
  '[ -n "$stopped" ] && kill -TERM "$side" 2>/dev/null',
  'exec 3<&-',
  // The command's side stops the command itself (TERM, then KILL): here, only wait for it.
  'stopping=',
  'await "$side"',
  'case "$rc" in -*|"") rc=1 ;; esac',
  'exit "$rc"',
].join('\n')

/** One chunk of input for RELAY_WRAPPER: its length on a line, then the bytes. */
export const relayChunkHeader = (length: number): string => `${length}\n`
export const relayChunk = (data: Buffer): Buffer => Buffer.concat([Buffer.from(relayChunkHeader(data.length)), data])
export const RELAY_END = '0\n'

/** Which wrapper a debugger runs under: it decides how the session's end reaches its process. */
export function wrapperFor(streams: {tty: boolean; stdin: boolean}): string {
  if (streams.tty) return TTY_WRAPPER
  return streams.stdin ? RELAY_WRAPPER : ONE_SHOT_WRAPPER
}

/** Which container of the pod is the target: the flag, else the default-container annotation, else the first. */
export function chooseTargetContainer(pod: V1Pod, requested: string | undefined): string {
  const containers = pod.spec?.containers ?? []
  const names = containers.map((c) => c.name)
  const name = requested ?? pod.metadata?.annotations?.[DEFAULT_CONTAINER_ANNOTATION] ?? names[0]
  if (!name || !names.includes(name)) {
    throw new MindbgError(
      'targetNotFound',
      `pod ${pod.metadata?.name} has no container "${name ?? ''}"`,
      `Its containers: ${names.join(', ') || 'none'}; pick one with -c/--target-container or pod/NAME/CONTAINER.`,
    )
  }
  return name
}

/** mindbg-xxxxx, unique across containers, init containers and ephemeral containers. */
export function ephemeralName(pod: V1Pod, random: () => number = Math.random): string {
  const taken = new Set([...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? []), ...(pod.spec?.ephemeralContainers ?? [])].map((c) => c.name))
  for (;;) {
    const name = `mindbg-${randomSuffix(random)}`
    if (!taken.has(name)) return name
  }
}

/** uid/gid/runAsNonRoot the target effectively runs with: the container's settings over the pod's. */
export function targetIdentity(pod: V1Pod, container: string): {uid: number | undefined; gid: number | undefined; nonRoot: boolean} {
  const podSc = pod.spec?.securityContext
  const sc = pod.spec?.containers.find((c) => c.name === container)?.securityContext
  const uid = sc?.runAsUser ?? podSc?.runAsUser
  const gid = sc?.runAsGroup ?? podSc?.runAsGroup
  const nonRoot = Boolean(sc?.runAsNonRoot ?? podSc?.runAsNonRoot) || (uid !== undefined && uid !== 0)
  return {uid, gid, nonRoot}
}

type SecurityApplier = () => V1SecurityContext | undefined

/** kubectl debug's profiles for ephemeral containers, exactly (kubectl pkg/cmd/debug/profiles.go). */
export const profiles: Record<Profile, SecurityApplier> = {
  // kubectl 1.23's behaviour, kubectl's default until it is removed: no security settings of its own.
  legacy: () => undefined,
  general: () => ({capabilities: {add: ['SYS_PTRACE']}}),
  baseline: () => undefined,
  restricted: () => ({
    runAsNonRoot: true,
    capabilities: {drop: ['ALL']},
    allowPrivilegeEscalation: false,
    seccompProfile: {type: 'RuntimeDefault'},
  }),
  netadmin: () => ({capabilities: {add: ['NET_ADMIN', 'NET_RAW']}}),
  sysadmin: () => ({privileged: true}),
}

export interface EphemeralSpecInput {
  pod: V1Pod
  target: string
  request: DebuggerRequest
  streams: StreamMode
  identity: SessionIdentity
  name: string
  /** The Pod Security level the namespace enforces (its label, or what the server said when it refused): comply. */
  podSecurity: PodSecurityLevel | undefined
  /** A partial container spec from --custom, already parsed. */
  custom: Record<string, unknown> | undefined
  /** Random id of this session: a one-shot debugger ends its stderr with its exit code under this id. */
  session?: string
}

export interface EphemeralSpec {
  container: V1EphemeralContainer
  /** One-line notices about adaptations mindbg made on its own (non-root target, Pod Security). */
  notes: string[]
}

export const PULL: Record<PullPolicy, string> = {always: 'Always', missing: 'IfNotPresent', never: 'Never'}

/** The runtime's ID of the target container ("containerd://ID" without the scheme), once it has run. */
function targetContainerId(pod: V1Pod, target: string): string | undefined {
  const id = pod.status?.containerStatuses?.find((s) => s.name === target)?.containerID
  return id?.replace(/^[a-z0-9-]+:\/\//, '') || undefined
}

/** Who a debugger runs as, for --dry-run: UID[:GID] from its security context, or the image's own user. */
export const describeRunAs = (sc: V1SecurityContext | undefined): string =>
  sc?.runAsUser !== undefined ? `${sc.runAsUser}${sc.runAsGroup !== undefined ? `:${sc.runAsGroup}` : ''}` : '(the image default)'

/** A profile's security context with what the user asked on top: --privileged, --cap-add, --user UID[:GID]. */
export function withRequestedPrivileges(sc: V1SecurityContext, request: Pick<DebuggerRequest, 'privileged' | 'capAdd' | 'user'>): V1SecurityContext {
  if (request.privileged) sc.privileged = true
  if (request.capAdd.length > 0) sc.capabilities = {...sc.capabilities, add: [...new Set([...(sc.capabilities?.add ?? []), ...request.capAdd])]}
  if (request.user !== undefined) {
    const [uid, gid] = parseNumericUser(request.user)
    sc.runAsUser = uid
    if (gid !== undefined) sc.runAsGroup = gid
  }
  return sc
}

/** Pure: the ephemeral container for a session. Throws usage errors for what cannot work on Kubernetes. */
export function buildEphemeralContainer(input: EphemeralSpecInput): EphemeralSpec {
  const {pod, target, request, streams, identity, name} = input
  const notes: string[] = []
  if (request.chroot) throw usageError('--chroot is not available for Kubernetes targets yet', "Read the target's filesystem at /proc/1/root.")

  let sc = withRequestedPrivileges(profiles[request.profile]() ?? {}, request)

  // A root debugger in a runAsNonRoot pod is refused by the kubelet, and root without SYS_PTRACE cannot read a
  // non-root target's /proc/<pid>/root anyway: run as the target's own uid/gid.
  const who = targetIdentity(pod, target)
  if (who.nonRoot && request.user === undefined && !sc.privileged) {
    sc.runAsUser = who.uid ?? FALLBACK_NON_ROOT_UID
    if (who.gid !== undefined) sc.runAsGroup = who.gid
    sc.runAsNonRoot = true
    notes.push(`the target runs as non-root: the debugger runs as uid ${sc.runAsUser}${who.gid !== undefined ? `, gid ${who.gid}` : ''}`)
  }
  if (input.podSecurity === 'restricted') {
    sc = restrictedCompliant(sc, who.uid)
    notes.push(`Pod Security "restricted" is enforced here: the debugger runs as uid ${sc.runAsUser} without capabilities`)
  } else if (input.podSecurity === 'baseline') {
    const {compliant, dropped} = baselineCompliant(sc)
    sc = compliant
    if (dropped.length > 0) notes.push(`Pod Security "baseline" is enforced here: the debugger runs without ${dropped.join(', ')}`)
  }

  const targetId = pod.spec?.shareProcessNamespace ? targetContainerId(pod, target) : undefined
  const env: V1EnvVar[] = [
    ...identityVars(identity),
    {name: `${ENV_PREFIX}TARGET`, value: target},
    ...(input.session !== undefined ? [{name: SESSION_ENV, value: input.session}] : []),
    ...(pod.spec?.shareProcessNamespace
      ? [
          ...(targetId ? [{name: `${ENV_PREFIX}TARGET_ID`, value: targetId}] : []),
          ...(request.command.length === 0 ? [{name: `${ENV_PREFIX}TARGET_NOTICE`, value: '1'}] : []),
        ]
      : [{name: `${ENV_PREFIX}TARGET_ROOT`, value: '/proc/1/root'}]),
    ...userEnv(request.env),
  ]

  const oneShot = request.command.length > 0
  const command = wrapperCommand(streams, oneShot ? request.command : ['sh'])
  let container: V1EphemeralContainer = {
    name,
    image: request.image,
    imagePullPolicy: PULL[request.pull],
    command,
    env,
    // stdin carries the go-ahead and is the session's lifeline, even for one-shot commands (see the wrappers).
    stdin: true,
    stdinOnce: true,
    tty: streams.tty,
    targetContainerName: target,
    terminationMessagePolicy: 'File',
  }
  if (Object.keys(sc).length > 0) container.securityContext = sc
  if (request.workdir !== undefined) container.workingDir = request.workdir
  if (request.shareVolumes) {
    const shared = sharedVolumeMounts(pod, target, request.writableVolumes)
    if (shared.mounts.length > 0) container.volumeMounts = shared.mounts
    notes.push(...shared.notes)
  }
  if (input.custom) {
    container = mergeCustom(container, input.custom)
    // The user's own securityContext has the last word: say what the debugger really runs as.
    const set = (input.custom.securityContext as V1SecurityContext | undefined)?.runAsUser
    if (set !== undefined) {
      const gid = container.securityContext?.runAsGroup
      return {container, notes: [...notes.filter((n) => !/the debugger runs as uid/.test(n)), `--custom: the debugger runs as uid ${set}${gid !== undefined ? `, gid ${gid}` : ''}`]}
    }
  }
  return {container, notes}
}

/** Who started the debugger, and why, as its environment (see identityEnv), escaped for the kubelet. */
export const identityVars = (identity: SessionIdentity): V1EnvVar[] => identityEntries(identity, identityKey).map(([name, value]) => ({name, value: verbatim(value)}))

/** -e and --env-file's KEY=VALUE entries, as written (the kubelet would expand $(VAR)). */
export const userEnv = (entries: string[]): V1EnvVar[] =>
  entries.map((e) => ({name: e.slice(0, e.indexOf('=') < 0 ? undefined : e.indexOf('=')), value: verbatim(e.includes('=') ? e.slice(e.indexOf('=') + 1) : '')}))

/** A debugger's command: the wrapper for its streams, then the words it runs, all escaped for the kubelet (the wrapper's $$ too). */
export const wrapperCommand = (streams: {tty: boolean; stdin: boolean}, words: string[]): string[] => ['sh', '-c', verbatim(wrapperFor(streams)), 'mindbg', ...words.map(verbatim)]

/** Where a volume that the target mounts with a subPath is mounted whole (ephemeral containers cannot use subPath). */
export const WHOLE_VOLUMES_DIR = '/mindbg-volumes'

/**
 * --share-volumes: the target container's volumeMounts at the same paths, read-only unless `writable` (then as the
 * target has them). The API refuses subPath mounts in an ephemeral container, so a volume the target mounts that way
 * is mounted whole under WHOLE_VOLUMES_DIR, once, and the notes say where.
 */
export function sharedVolumeMounts(pod: V1Pod, target: string, writable: boolean): {mounts: V1VolumeMount[]; notes: string[]} {
  const mounts: V1VolumeMount[] = []
  const notes: string[] = []
  const whole = new Set<string>()
  const own = pod.spec?.containers.find((c) => c.name === target)?.volumeMounts ?? []
  for (const m of own) {
    const readOnly = writable ? m.readOnly === true : true
    if (m.subPath || m.subPathExpr) {
      if (whole.has(m.name)) continue
      whole.add(m.name)
      mounts.push({name: m.name, mountPath: `${WHOLE_VOLUMES_DIR}/${m.name}`, readOnly})
      notes.push(`${target} mounts a subPath of volume ${m.name} at ${m.mountPath}, which an ephemeral container cannot: the whole volume is at ${WHOLE_VOLUMES_DIR}/${m.name}`)
    } else mounts.push({name: m.name, mountPath: m.mountPath, readOnly})
  }
  notes.push(
    mounts.length === 0
      ? `--share-volumes: ${target} mounts no volumes`
      : `--share-volumes: ${mounts.length === 1 ? 'one volume' : `${mounts.length} volume mounts`} of ${target} mounted ${writable ? 'as it has them' : 'read-only'} (${mounts.map((m) => m.mountPath).join(', ')})`,
  )
  return {mounts, notes}
}

/**
 * The kubelet expands $(VAR) in a container's command and env values and turns $$ into $: the user's command words,
 * --env values and --reason are escaped so that they arrive exactly as typed (`-- sh -c 'echo $$'`), as with Docker.
 */
export const verbatim = (word: string): string => word.replaceAll('$', '$$$$')
/** What the container sees of a value escaped with verbatim (for reading the spec back). */
export const unverbatim = (value: string): string => value.replaceAll('$$', '$')

export const POD_SECURITY_LEVELS = ['privileged', 'baseline', 'restricted'] as const
export type PodSecurityLevel = (typeof POD_SECURITY_LEVELS)[number]

/** The capabilities Pod Security "baseline" lets a container add (the policy's default set; not NET_RAW, not SYS_PTRACE). */
const BASELINE_CAPABILITIES = new Set(['AUDIT_WRITE', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'MKNOD', 'NET_BIND_SERVICE', 'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT'])

/** What Pod Security "baseline" forbids taken away (privileged, capabilities beyond its set); the rest kept, root included. */
export function baselineCompliant(sc: V1SecurityContext): {compliant: V1SecurityContext; dropped: string[]} {
  const compliant: V1SecurityContext = {...sc}
  const dropped: string[] = []
  if (compliant.privileged) {
    delete compliant.privileged
    dropped.push('privileged mode')
  }
  const add = compliant.capabilities?.add ?? []
  const kept = add.filter((c) => BASELINE_CAPABILITIES.has(c.replace(/^CAP_/, '')))
  dropped.push(...add.filter((c) => !kept.includes(c)))
  if (compliant.capabilities) {
    compliant.capabilities = {...compliant.capabilities, add: kept}
    if (kept.length === 0) delete compliant.capabilities.add
    if (Object.keys(compliant.capabilities).length === 0) delete compliant.capabilities
  }
  return {compliant, dropped}
}

/** What Pod Security "restricted" demands, keeping whatever the session already had that is allowed. */
export function restrictedCompliant(sc: V1SecurityContext, targetUid: number | undefined): V1SecurityContext {
  const uid = sc.runAsUser !== undefined && sc.runAsUser !== 0 ? sc.runAsUser : targetUid && targetUid !== 0 ? targetUid : FALLBACK_NON_ROOT_UID
  const capabilities: V1Capabilities = {drop: ['ALL']}
  if (sc.capabilities?.add?.includes('NET_BIND_SERVICE')) capabilities.add = ['NET_BIND_SERVICE']
  const result: V1SecurityContext = {
    ...sc,
    runAsNonRoot: true,
    runAsUser: uid,
    allowPrivilegeEscalation: false,
    seccompProfile: {type: 'RuntimeDefault'},
    capabilities,
  }
  delete result.privileged
  return result
}

export function parseNumericUser(user: string): [number, number | undefined] {
  const m = /^(\d+)(?::(\d+))?$/.exec(user)
  if (!m) throw usageError(`--user "${user}": Kubernetes needs a numeric UID[:GID]`, 'Use --user 1000 or --user 1000:1000.')
  return [Number(m[1]), m[2] === undefined ? undefined : Number(m[2])]
}

// kubectl's list, plus what mindbg's session safety depends on (stdin is the lifeline, the target is chosen).
/** The fields of a core/v1 Container (kubectl's --custom decodes into one). */
const CONTAINER_FIELDS = new Set(
  ('name image command args workingDir ports envFrom env resources resizePolicy restartPolicy volumeMounts volumeDevices livenessProbe ' +
    'readinessProbe startupProbe lifecycle terminationMessagePath terminationMessagePolicy imagePullPolicy securityContext stdin stdinOnce tty ' +
    'targetContainerName').split(' '),
)
const CUSTOM_REFUSED = ['name', 'command', 'args', 'image', 'lifecycle', 'volumeDevices', 'stdin', 'stdinOnce', 'tty', 'targetContainerName']

/**
 * --custom: a partial container spec merged over the generated one, as kubectl does (strategic merge: maps merge,
 * env merges by name, volumeMounts by mountPath, other lists replace). Fields mindbg owns are refused.
 */
export function mergeCustom(container: V1EphemeralContainer, custom: Record<string, unknown>): V1EphemeralContainer {
  // kubectl decodes --custom strictly: a misspelt field is an error, not silently nothing.
  const unknown = Object.keys(custom).filter((k) => !CONTAINER_FIELDS.has(k))
  if (unknown.length > 0) {
    throw usageError(`--custom: unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')}`, 'A partial container spec: securityContext, env, envFrom, volumeMounts, workingDir, imagePullPolicy, resources...')
  }
  const refused = CUSTOM_REFUSED.filter((k) => k in custom)
  if (refused.length > 0) throw usageError(`--custom may not set ${refused.join(', ')}`, 'mindbg sets the name, command and image itself; use --image or -- COMMAND.')
  return strategicMerge(container as unknown as Record<string, unknown>, custom) as unknown as V1EphemeralContainer
}

const MERGE_KEYS: Record<string, string> = {env: 'name', volumeMounts: 'mountPath', envFrom: '', ports: 'containerPort'}

function strategicMerge(base: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {...base}
  for (const [key, value] of Object.entries(patch)) {
    const current = out[key]
    const mergeKey = MERGE_KEYS[key]
    if (value === null) delete out[key]
    else if (Array.isArray(value) && Array.isArray(current) && mergeKey) {
      const merged = [...current] as Array<Record<string, unknown>>
      for (const item of value as Array<Record<string, unknown>>) {
        const at = merged.findIndex((m) => m[mergeKey] === item[mergeKey])
        if (at >= 0) merged[at] = strategicMerge(merged[at]!, item)
        else merged.push(item)
      }
      out[key] = merged
    } else if (isObject(value) && isObject(current)) out[key] = strategicMerge(current, value)
    else out[key] = value
  }
  return out
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
