import type {V1Container, V1EphemeralContainer, V1Pod, V1SecurityContext} from '@kubernetes/client-node'

import {usageError} from '../../domain/errors.js'
import type {CopyRequest} from '../../domain/request.js'
import {chrootCommand, DEFAULT_PATH} from '../chroot.js'
import {DEFAULT_CONTAINER_ANNOTATION, restrictedCompliant, targetIdentity, unverbatim, verbatim} from './spec.js'

/**
 * `attach pod/P --copy-to NAME`: a copy of the pod with the debugger as one of its regular containers, as kubectl
 * debug --copy-to makes it (pkg/cmd/debug: generatePodCopyWithDebugContainer and the profiles' podCopy case), and
 * `--hold`: the target container's entrypoint held until the user starts it from the debugger. Pure builders here;
 * the pod's lifetime is ./owned-pod.ts's.
 */

/** Where a held copy keeps its busybox, the release command and each run's output and exit code. */
export const HOLD_DIR = '/.mindbg'
export const HOLD_VOLUME = 'mindbg-hold'
/** The init container that puts a static busybox (from the debug image) into HOLD_DIR. */
export const HOLD_INIT = 'mindbg-hold'
export const RELEASE_COMMAND = 'mindbg-release'

/**
 * The target container's command under --hold, run by the busybox in HOLD_DIR (a distroless image has no shell):
 * waits on a FIFO; each line written to it (by mindbg-release) starts the original entrypoint once, as a child, its
 * output into the container's log and into out.N, its exit code into rc.N. Then it waits again: the container keeps
 * running, so a crash can be looked at and the entrypoint started again. Its children are waited for: no zombies.
 */
export const HELD_WRAPPER = [
  `d=${HOLD_DIR} b=${HOLD_DIR}/busybox n=0`,
  `echo "mindbg: the entrypoint is held: $* (start it from the debugger with ${RELEASE_COMMAND})" >&2`,
  'while :; do',
  '  $b rm -f $d/go && $b mkfifo -m 0666 $d/go || exit 125',
  '  read _ <$d/go',
  '  $b rm -f $d/go',
  '  n=$((n + 1))',
  '  : >$d/out.$n',
  '  echo $n >$d/count',
  '  { "$@"; echo $? >$d/rc.$n.part; } 2>&1 | $b tee -a $d/out.$n',
  '  $b mv $d/rc.$n.part $d/rc.$n',
  '  echo "mindbg: the entrypoint exited with code $($b cat $d/rc.$n); waiting for mindbg-release again" >&2',
  'done',
].join('\n')

/**
 * mindbg-release, in the debugger (on its PATH): starts the held entrypoint once, shows its output as it comes, and
 * exits with its exit code. Run it again to start the entrypoint again.
 */
export const RELEASE_SCRIPT = [
  `#!${HOLD_DIR}/busybox sh`,
  `# ${RELEASE_COMMAND}: starts the held entrypoint of the target container once; its output follows, its exit code is ours.`,
  `d=${HOLD_DIR} b=${HOLD_DIR}/busybox`,
  `[ -p $d/go ] || { echo "${RELEASE_COMMAND}: the entrypoint is not held now (is it running already?)" >&2; exit 125; }`,
  'n=$(( $($b cat $d/count 2>/dev/null || echo 0) + 1 ))',
  'echo go >$d/go',
  'while [ ! -e $d/out.$n ]; do $b sleep 0.1; done',
  '$b tail -n +1 -f $d/out.$n & t=$!',
  'while [ ! -e $d/rc.$n ]; do $b sleep 0.1; done',
  '$b sleep 0.2; kill $t 2>/dev/null; wait $t 2>/dev/null',
  'rc=$($b cat $d/rc.$n)',
  `echo "${RELEASE_COMMAND}: the entrypoint exited with code $rc" >&2`,
  'exit "$rc"',
].join('\n')

/** The hold init container's script: a static busybox and mindbg-release into HOLD_DIR, or a clear failure. */
const HOLD_SETUP = [
  // busybox's own `command -v` may answer a bare name: its usual places too (distroless :debug keeps it in /busybox).
  'b=',
  'for p in "$(command -v busybox)" /bin/busybox /usr/bin/busybox /busybox/busybox; do case $p in /*) [ -x "$p" ] && b=$p && break ;; esac; done',
  '[ -n "$b" ] || { echo "mindbg: --hold needs busybox in the debug image (a static one: the default image has it)" >&2; exit 3; }',
  `cp "$b" ${HOLD_DIR}/busybox && chmod 755 ${HOLD_DIR}/busybox && mkdir -p ${HOLD_DIR}/bin || exit 3`,
  `printf '%s\\n' "$MINDBG_RELEASE_SCRIPT" >${HOLD_DIR}/bin/${RELEASE_COMMAND} && chmod 755 ${HOLD_DIR}/bin/${RELEASE_COMMAND}`,
].join('\n')

/**
 * Once the debugger's command has ended, nothing of the copy may keep running if mindbg cannot delete it (the laptop
 * is gone): the debugger kills every process of the pod it can (its PID namespace is the pod's; PID 1, the pause
 * container, is spared by kill -1), and with restartPolicy Never the pod is finished. Normally mindbg deletes it
 * at the same moment. Not for a copy that is kept (--keep).
 */
const DEAD_MAN = 'w=$1; shift; sh -c "$w" mindbg "$@"; rc=$?; kill -KILL -1 2>/dev/null; exit "$rc"'

export interface PodCopyInput {
  /** The original pod, as read. */
  pod: V1Pod
  /** The container to debug. */
  target: string
  copy: CopyRequest
  /** The debugger, made by the ephemeral builder (./spec.ts) for a pod that shares its PID namespace. */
  debugger: V1EphemeralContainer
  /** --hold: the target's original command line as a pod spec would say it (entrypointOf). */
  entrypoint?: string[]
  /** The debug image, for the hold init container. */
  image: string
  /**
   * --chroot: the debugger's command runs chrooted into the target's root ($MINDBG_TARGET_ROOT, found by the
   * wrapper), as root (the debugger was built without it: an ephemeral container cannot).
   */
  chroot?: boolean
}

/** The original pod as the ephemeral builder must see it for a copy: one shared PID namespace, no status yet. */
export function asCopied(pod: V1Pod): V1Pod {
  return {metadata: pod.metadata ?? {}, spec: {...pod.spec!, shareProcessNamespace: true}}
}

/** Pure: the copy (before ./owned-pod.ts adds mindbg's labels), and notes on what was changed and why. */
export function buildPodCopy(input: PodCopyInput): {pod: V1Pod; notes: string[]} {
  const {pod, target, copy} = input
  const notes: string[] = []
  const original = pod.spec!
  const spec: NonNullable<V1Pod['spec']> = structuredClone(original)
  delete spec.ephemeralContainers
  if (original.shareProcessNamespace === false) notes.push('the copy shares one PID namespace among its containers (the original does not): the debugger needs to see the target')
  spec.shareProcessNamespace = true
  if (!copy.sameNode) delete spec.nodeName
  if ((original.restartPolicy ?? 'Always') !== 'Never') notes.push(`restartPolicy Never in the copy (the original's is ${original.restartPolicy ?? 'Always'}): a debugging copy is not restarted behind the user's back`)
  spec.restartPolicy = 'Never'

  const names = new Set(spec.containers.map((c) => c.name))
  for (const {container} of copy.setImages) {
    if (container !== '*' && !names.has(container)) throw usageError(`--set-image ${container}=...: pod ${pod.metadata?.name} has no container ${container}`, `Its containers: ${[...names].join(', ')}.`)
  }
  const star = copy.setImages.find((s) => s.container === '*')?.image
  for (const c of spec.containers) {
    const image = copy.setImages.find((s) => s.container === c.name)?.image ?? star
    if (image !== undefined) c.image = image
    if (!copy.keep.liveness) delete c.livenessProbe
    if (!copy.keep.readiness) delete c.readinessProbe
    if (!copy.keep.startup) delete c.startupProbe
  }
  if (!copy.keep.initContainers) delete spec.initContainers

  const dbg = regularContainer(input.debugger)
  if (input.chroot) chrootDebugger(dbg)
  if (!copy.keepCopy) {
    // sh -c WRAPPER mindbg ARGS... becomes sh -c DEAD_MAN mindbg WRAPPER ARGS...
    const [, , wrapper, , ...args] = dbg.command ?? []
    dbg.command = ['sh', '-c', verbatim(DEAD_MAN), 'mindbg', wrapper ?? '', ...args]
  }
  if (copy.hold) {
    if (!input.entrypoint) throw new Error('--hold without the entrypoint')
    const held = spec.containers.find((c) => c.name === target)!
    held.command = [`${HOLD_DIR}/busybox`, 'sh', '-c', verbatim(HELD_WRAPPER), 'mindbg-hold', ...input.entrypoint]
    delete held.args
    const mount = {name: HOLD_VOLUME, mountPath: HOLD_DIR}
    held.volumeMounts = [...(held.volumeMounts ?? []), mount]
    dbg.volumeMounts = [...(dbg.volumeMounts ?? []), mount]
    dbg.env = [...(dbg.env ?? []), {name: 'MINDBG_PATH', value: `${HOLD_DIR}/bin`}]
    spec.volumes = [...(spec.volumes ?? []), {name: HOLD_VOLUME, emptyDir: {}}]
    spec.initContainers = [...(spec.initContainers ?? []), holdInit(pod, target, input.image, input.debugger.imagePullPolicy)]
    if (copy.keep.liveness && held.livenessProbe) notes.push(`--keep-liveness: a failing liveness probe ends the held ${target} for good (restartPolicy Never)`)
    notes.push(`--hold: ${target} starts held; ${RELEASE_COMMAND} in the debugger starts: ${input.entrypoint.map((w) => w.replaceAll('$$', '$')).join(' ')}`)
  }
  spec.containers.push(dbg)

  const meta = pod.metadata ?? {}
  return {
    pod: {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: copy.name,
        namespace: meta.namespace ?? 'default',
        ...(copy.keep.labels && meta.labels ? {labels: {...meta.labels}} : {}),
        // The copy is about the target: kubectl logs/exec and a later `mindbg attach pod/NAME --reuse` default to it.
        annotations: {...(copy.keep.annotations ? meta.annotations : {}), [DEFAULT_CONTAINER_ANNOTATION]: target},
      },
      spec,
    },
    notes,
  }
}

/**
 * --chroot in a copy: the words after the wrapper (a shell: none) go through the chroot script, and the debugger runs
 * as root with SYS_CHROOT, whatever the pod's user (the copy is mindbg's; Pod Security "restricted" forbids it, and
 * the caller refuses that).
 */
function chrootDebugger(dbg: V1Container): void {
  const [sh, c, wrapper, zero, ...words] = dbg.command ?? []
  const command = words.length === 1 && words[0] === 'sh' ? [] : words.map(unverbatim)
  dbg.command = [sh!, c!, wrapper!, zero!, ...chrootCommand(command).map(verbatim)]
  const sc = {...dbg.securityContext, runAsUser: 0, runAsNonRoot: false}
  delete sc.runAsGroup
  sc.capabilities = {...sc.capabilities, add: [...new Set([...(sc.capabilities?.add ?? []), 'SYS_CHROOT'])]}
  if (sc.capabilities.drop?.includes('ALL')) delete sc.capabilities.drop
  dbg.securityContext = sc
  dbg.env = [...(dbg.env ?? []).filter((e) => e.name !== 'MINDBG_TARGET_PATH'), {name: 'MINDBG_TARGET_PATH', value: DEFAULT_PATH}]
}

/** The ephemeral container as a regular one: the same fields but targetContainerName (a copy shares its PID namespace). */
function regularContainer(ec: V1EphemeralContainer): V1Container {
  const {targetContainerName: _target, ...rest} = ec
  return structuredClone(rest)
}

/** The init container of a held copy: as unprivileged as Pod Security "restricted" asks, whatever the namespace. */
function holdInit(pod: V1Pod, target: string, image: string, pull: string | undefined): V1Container {
  const sc: V1SecurityContext = restrictedCompliant({}, targetIdentity(pod, target).uid)
  return {
    name: HOLD_INIT,
    image,
    ...(pull ? {imagePullPolicy: pull} : {}),
    command: ['sh', '-c', verbatim(HOLD_SETUP)],
    env: [{name: 'MINDBG_RELEASE_SCRIPT', value: verbatim(RELEASE_SCRIPT)}],
    volumeMounts: [{name: HOLD_VOLUME, mountPath: HOLD_DIR}],
    securityContext: sc,
    terminationMessagePolicy: 'FallbackToLogsOnError',
  }
}

/**
 * The target container's original command line, as a pod spec would say it: its command and args, else what the
 * image config supplies (Kubernetes: command replaces ENTRYPOINT and drops CMD; args alone replace CMD). The image's
 * words are escaped (the kubelet expands $(VAR) in a spec's words, not in an image's). `image` is needed only when
 * the container has no command (needsImageConfig).
 */
export function entrypointOf(container: V1Container, image: {entrypoint: string[]; cmd: string[]} | undefined): string[] {
  if (container.command?.length) return [...container.command, ...(container.args ?? [])]
  if (!image) throw new Error('entrypointOf: the image config is needed')
  const words = [...image.entrypoint.map(verbatim), ...(container.args ?? image.cmd.map(verbatim))]
  if (words.length === 0) throw usageError(`--hold: container ${container.name} has no command, and its image ${container.image} has none either`, 'Nothing to hold: give the container a command.')
  return words
}

export const needsImageConfig = (container: V1Container): boolean => !container.command?.length
