import {readFileSync} from 'node:fs'

import type {V1ContainerStatus, V1EphemeralContainer, V1Namespace, V1Pod} from '@kubernetes/client-node'
import type {WebSocket as WsSocket} from 'ws'

import {describeImageSource, type KubeSettings, type SidecarRequest, type StreamMode} from './attach-options.js'
import {firstLine, MindbgError, usageError} from './errors.js'
import {KubeApi, kubeError, KubeStatusError, podPath} from './runtime/kube-api.js'
import {closeStdinFrame, decode, PROTOCOLS, resizeFrame, stdinFrame, STREAM_CLOSE_PROTOCOL} from './runtime/kube-channels.js'
import {siblingImage} from './images/sibling.js'
import {ExitTrailer} from './runtime/exit-trailer.js'
import {buildEphemeralContainer, chooseTargetContainer, ephemeralName, exitTrailerPrefix, GO_AHEAD, RELAY_END, relayChunk, targetIdentity} from './runtime/kube-spec.js'
import {type PodVerdict, WatchCancelled, watchPod} from './runtime/kube-watch.js'
import type {SessionContext, SessionResult} from './session.js'
import {invokingUser} from './session.js'
import {initialSize, sessionControls} from './terminal/session-controls.js'


export interface KubeTargetRef {
  pod: string
  namespace?: string
  container?: string
}

const PSS_LABEL = 'pod-security.kubernetes.io/enforce'
/** Waiting reasons of a container whose image cannot be had; with the config ones, of one that cannot start now. */
const IMAGE_UNAVAILABLE = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull'])
const CANNOT_START = new Set([...IMAGE_UNAVAILABLE, 'CreateContainerConfigError', 'CreateContainerError'])

/** What every pod session (and its dry run) starts from: the connection, the running pod and target, the namespace's Pod Security level. */
interface KubeTarget {
  api: KubeApi
  namespace: string
  pod: V1Pod
  target: string
  restricted: boolean
  custom: Record<string, unknown> | undefined
}

/** Connects, finds the running pod and target container, and hands them to `use`; the connection is closed after. */
async function withKubeTarget<T>(ref: KubeTargetRef, kube: KubeSettings, use: (t: KubeTarget) => Promise<T>): Promise<T> {
  const custom = kube.custom === undefined ? undefined : await readCustom(kube.custom)
  const api = await KubeApi.connect({...kube, namespace: ref.namespace ?? kube.namespace})
  try {
    const namespace = api.namespace
    const [pod, restricted] = await Promise.all([getRunningPod(api, namespace, ref.pod), enforcesRestricted(api, namespace)])
    const target = chooseTargetContainer(pod, ref.container ?? kube.targetContainer)
    assertContainerRunning(pod, target)
    return await use({api, namespace, pod, target, restricted, custom})
  } finally {
    api.close()
  }
}

export function runKubeAttach(ref: KubeTargetRef, request: SidecarRequest, streams: StreamMode, kube: KubeSettings, ctx: SessionContext): Promise<SessionResult> {
  return withKubeTarget(ref, kube, (t) => session(t, ref, request, streams, kube, ctx))
}

async function session(
  {api, namespace, pod, target, restricted, custom}: KubeTarget,
  ref: KubeTargetRef,
  request: SidecarRequest,
  streams: StreamMode,
  kube: KubeSettings,
  ctx: SessionContext,
): Promise<SessionResult> {
  if (kube.reuse) {
    if (request.command.length > 0) throw usageError('--reuse re-attaches to a running debugger shell and takes no command', 'Drop the command, or drop --reuse.')
    const existing = reusableDebugger(pod)
    if (existing) {
      ctx.reporter.notice(`mindbg: re-attaching to ${existing} in pod ${namespace}/${pod.metadata?.name}; press Enter for a prompt`)
      return attachAndFinish(api, {namespace, pod: ref.pod, name: existing, target}, {...streams, stdin: true, tty: true}, ctx)
    }
    ctx.reporter.notice('mindbg: no running mindbg debugger to reuse in this pod; adding one')
  }

  const prepared = prepareEphemeral(pod, target, request, streams, restricted, custom, ctx)
  const {name, build} = prepared
  let spec = prepared.spec
  try {
    await addEphemeral(api, namespace, ref.pod, spec.container)
  } catch (error) {
    // The namespace label may be invisible to us (no "get namespaces"), but the server says why it refused.
    if (!restricted && error instanceof KubeStatusError && error.code === 403 && /violates PodSecurity/i.test(error.status.message ?? '')) {
      spec = build(true)
      await addEphemeral(api, namespace, ref.pod, spec.container).catch((e: unknown) => {
        throw patchError(e, namespace, ref.pod)
      })
    } else throw patchError(error, namespace, ref.pod)
  }
  for (const note of spec.notes) ctx.reporter.notice(`mindbg: ${note}`)

  const debuggerRef = {namespace, pod: ref.pod, name, target}
  const ws = await attachWhenStarted(api, debuggerRef, streams, kube.timeoutMs, ctx)
  if (ws === 'ended') return finishFromStatus(api, debuggerRef, ctx, true)
  if (request.command.length === 0) {
    ctx.reporter.notice(`mindbg: ${name} is next to ${target} in pod ${namespace}/${ref.pod}; its filesystem is at /proc/1/root`)
  }
  return attachAndFinish(api, debuggerRef, streams, ctx, {session: prepared.session, ws, sharedPidNamespace: pod.spec?.shareProcessNamespace === true})
}

/** The ephemeral container for this session, and why it looks the way it does; nothing is sent yet. */
function prepareEphemeral(
  pod: V1Pod,
  target: string,
  requested: SidecarRequest,
  streams: StreamMode,
  restricted: boolean,
  custom: Record<string, unknown> | undefined,
  ctx: SessionContext,
) {
  let request = requested
  let imageReason = describeImageSource(request.imageSource, ctx.configPath)
  if (request.imageSource === 'sibling') {
    const sibling = siblingFor(pod, target, request)
    request = sibling.request
    imageReason = `--sibling (${sibling.rule})`
  }
  const identity = {user: invokingUser(), startedAt: new Date().toISOString(), version: ctx.version, reason: request.reason}
  const name = ephemeralName(pod)
  const session = sessionId()
  const build = (restrictedNow: boolean) => buildEphemeralContainer({pod, target, request, streams, identity, name, restricted: restrictedNow, custom, session})
  return {name, session, build, spec: build(restricted), request, imageReason}
}

/** What --dry-run shows for a pod: the ephemeral container mindbg would add, and why. */
export interface KubeDryRunReport {
  target: {namespace: string; pod: string; container: string; image: string}
  image: string
  imageReason: string
  profile: string
  pull: string
  user: string
  notes: string[]
  command: string[]
  ephemeralContainer: V1EphemeralContainer
}

export function kubeDryRun(ref: KubeTargetRef, request: SidecarRequest, streams: StreamMode, kube: KubeSettings, ctx: SessionContext): Promise<KubeDryRunReport> {
  return withKubeTarget(ref, kube, async ({namespace, pod, target, restricted, custom}) => {
    const {spec, request: resolved, imageReason} = prepareEphemeral(pod, target, request, streams, restricted, custom, ctx)
    const sc = spec.container.securityContext
    return {
      target: {namespace, pod: ref.pod, container: target, image: pod.spec?.containers.find((c) => c.name === target)?.image ?? ''},
      image: resolved.image,
      imageReason,
      profile: resolved.profile,
      pull: spec.container.imagePullPolicy ?? '',
      user: sc?.runAsUser !== undefined ? `${sc.runAsUser}${sc.runAsGroup !== undefined ? `:${sc.runAsGroup}` : ''}` : '(the image default)',
      notes: spec.notes,
      command: resolved.command,
      ephemeralContainer: spec.container,
    }
  })
}

/** Where a debugger lives. */
interface DebuggerRef {
  namespace: string
  pod: string
  name: string
  target: string
}

/** --sibling: the debug twin of the target container's image; a nonroot twin runs as the target's user. */
function siblingFor(pod: V1Pod, target: string, request: SidecarRequest): {request: SidecarRequest; rule: string} {
  const image = pod.spec?.containers.find((c) => c.name === target)?.image ?? ''
  const twin = siblingImage(image, request.siblingMappings)
  const {uid, gid} = targetIdentity(pod, target)
  const user = twin.nonRoot && request.user === undefined && uid !== undefined ? `${uid}${gid !== undefined ? `:${gid}` : ''}` : request.user
  return {request: {...request, image: twin.image, user}, rule: twin.rule}
}

async function readCustom(path: string): Promise<Record<string, unknown>> {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    throw usageError(`--custom ${path}: ${(error as Error).message}`)
  }
  const {parse} = await import('yaml')
  let data: unknown
  try {
    data = parse(text) // YAML is a superset of JSON: one parser for both
  } catch (error) {
    throw usageError(`--custom ${path}: not valid JSON or YAML: ${firstLine((error as Error).message)}`)
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw usageError(`--custom ${path}: must be a partial container spec (an object)`)
  return data as Record<string, unknown>
}

async function getRunningPod(api: KubeApi, namespace: string, name: string): Promise<V1Pod> {
  let pod: V1Pod
  try {
    pod = await api.request<V1Pod>('GET', podPath(namespace, name))
  } catch (error) {
    if (error instanceof KubeStatusError && error.code === 404) {
      throw new MindbgError('targetNotFound', `pod ${name} not found in namespace ${namespace}`, `List pods with: kubectl get pods -n ${namespace}`)
    }
    throw kubeError(error, {namespace, verb: 'get', resource: 'pods'})
  }
  if (pod.status?.phase !== 'Running') {
    throw new MindbgError('targetNotDebuggable', `pod ${namespace}/${name} is not running (phase ${pod.status?.phase ?? 'unknown'})`, `Look at why: kubectl describe pod ${name} -n ${namespace}`)
  }
  return pod
}

function assertContainerRunning(pod: V1Pod, container: string): void {
  const status = pod.status?.containerStatuses?.find((s) => s.name === container)
  if (!status?.state?.running) {
    const why = status?.state?.waiting?.reason ?? (status?.state?.terminated ? `terminated, exit code ${status.state.terminated.exitCode}` : 'not started')
    throw new MindbgError('targetNotDebuggable', `container ${container} of pod ${pod.metadata?.name} is not running (${why})`, `Look at its logs: kubectl logs ${pod.metadata?.name} -c ${container}`)
  }
}

/**
 * The newest mindbg shell on a terminal in the pod that still runs: the only kind that outlives a session (after a
 * kill -9 of mindbg), and so the one worth getting back into.
 */
function reusableDebugger(pod: V1Pod): string | undefined {
  const running = new Set((pod.status?.ephemeralContainerStatuses ?? []).filter((s) => s.state?.running).map((s) => s.name))
  return (pod.spec?.ephemeralContainers ?? [])
    .filter((c) => c.name.startsWith('mindbg-') && c.stdin && c.tty && running.has(c.name))
    .map((c) => c.name)
    .pop()
}

async function enforcesRestricted(api: KubeApi, namespace: string): Promise<boolean> {
  try {
    const ns = await api.request<V1Namespace>('GET', `/api/v1/namespaces/${encodeURIComponent(namespace)}`)
    return ns.metadata?.labels?.[PSS_LABEL] === 'restricted'
  } catch {
    return false // not allowed to read namespaces: the server's 403 will tell
  }
}

/** Strategic merge on the subresource: the list is merged by name, so only the new container needs sending. */
function addEphemeral(api: KubeApi, namespace: string, pod: string, container: V1EphemeralContainer): Promise<V1Pod> {
  return api.request<V1Pod>('PATCH', podPath(namespace, pod, 'ephemeralcontainers'), {
    body: {spec: {ephemeralContainers: [container]}},
    contentType: 'application/strategic-merge-patch+json',
  })
}

function patchError(error: unknown, namespace: string, pod: string): unknown {
  if (!(error instanceof KubeStatusError)) return error
  const message = error.status.message ?? ''
  if (error.code === 404 && !error.status.details?.name) {
    return new MindbgError('sidecarFailed', 'ephemeral containers are disabled on this cluster (the API server has no pods/ephemeralcontainers)', 'They are on by default since Kubernetes 1.23; ask your cluster admin, or debug a copy of the pod.')
  }
  if (error.code === 404) return new MindbgError('targetStopped', `pod ${namespace}/${pod} disappeared`, `kubectl get pods -n ${namespace}`)
  if (error.code === 403 && /violates PodSecurity/i.test(message)) {
    return new MindbgError('sidecarFailed', `Pod Security refused the debugger: ${message}`, 'mindbg already made it compliant with "restricted"; a stricter admission policy is in place: try --custom.')
  }
  if (error.code === 422) {
    const causes = (error.status.details?.causes ?? []).map((c) => `${c.field ?? ''}: ${c.message ?? c.reason ?? ''}`)
    return new MindbgError('sidecarFailed', `the API server rejected the debugger: ${causes.join('; ') || message}`, 'Check --custom and the flags (rerun with --debug for the full answer).', {cause: error})
  }
  return kubeError(error, {namespace, verb: 'patch', resource: 'pods/ephemeralcontainers'})
}

/** Waits until the debugger runs (or already ended), telling what the kubelet says meanwhile. */
async function waitForStart(
  api: KubeApi,
  {namespace, pod, name}: DebuggerRef,
  timeoutMs: number,
  ctx: SessionContext,
  signal: AbortSignal,
  onWaiting: (reason: string) => void,
): Promise<V1ContainerStatus> {
  let lastWaiting = ''
  let lastReason = ''
  const judge = (p: V1Pod): PodVerdict<V1ContainerStatus> => {
    // Cancelled (the session attached): no more notices.
    if (signal.aborted) return {done: false}
    const status = p.status?.ephemeralContainerStatuses?.find((s) => s.name === name)
    if (status?.state?.running || status?.state?.terminated) return {done: true, value: status}
    const waiting = status?.state?.waiting
    onWaiting(waiting?.reason ?? '')
    const text = waiting?.reason ? `${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}` : ''
    // ContainerCreating is every container's first state: not news.
    if (text && text !== lastWaiting && waiting?.reason !== 'ContainerCreating') {
      lastWaiting = text
      lastReason = waiting?.reason ?? ''
      ctx.reporter.notice(`mindbg: ${name} is waiting: ${text}`)
    }
    return {done: false}
  }
  return watchPod(api, namespace, pod, judge, {
    onError: (error) => kubeError(error, {namespace, verb: 'watch', resource: 'pods'}),
    timeoutMs,
    signal,
    onTimeout: () => {
      const imageProblem = IMAGE_UNAVAILABLE.has(lastReason)
      return new MindbgError(
        imageProblem ? 'imageUnavailable' : 'sidecarFailed',
        `the debugger ${name} did not start within ${Math.round(timeoutMs / 1000)} s${lastWaiting ? ` (${lastWaiting})` : ''}`,
        imageProblem ? 'Check the image name and that the node can pull it (pull secrets cannot be added to ephemeral containers).' : `Look at the pod: kubectl describe pod ${pod} -n ${namespace}`,
      )
    },
  })
}

/** 12 random hex digits: tells this session's exit trailer from anything a command prints. */
function sessionId(): string {
  return Array.from({length: 12}, () => Math.floor(Math.random() * 16).toString(16)).join('')
}

const attachQuery = (name: string, streams: StreamMode): string =>
  `container=${encodeURIComponent(name)}&stdin=true&stdout=true&stderr=${!streams.tty}&tty=${streams.tty}`

/**
 * Attaches to a new debugger as soon as it runs. The kubelet reports a started container only at its next relist
 * (up to a second later), but its attach looks at the runtime: so mindbg tries to attach from the start, backing
 * off from 50 ms to 1 s (a pull can take a while) and pausing while the kubelet reports that the image cannot be
 * had, while the watch reports waiting reasons, decides that the debugger ended before anyone attached ('ended':
 * its log holds the output), or gives up at --timeout.
 */
async function attachWhenStarted(api: KubeApi, ref: DebuggerRef, streams: StreamMode, timeoutMs: number, ctx: SessionContext): Promise<WsSocket | 'ended'> {
  const cancel = new AbortController()
  let reported: V1ContainerStatus | undefined
  let failed: unknown
  let wake = (): void => {}
  let delay = 50
  // While the kubelet says the image cannot be had (or the container not created), no attach can work: wait for news.
  let hopeless = false
  const onWaiting = (reason: string): void => {
    const was = hopeless
    hopeless = CANNOT_START.has(reason)
    if (was && !hopeless) {
      // The image came after all: the container may start any moment now.
      delay = 50
      wake()
    }
  }
  const watching = waitForStart(api, ref, timeoutMs, ctx, cancel.signal, onWaiting).then(
    (status) => (reported = status),
    (error: unknown) => {
      if (!(error instanceof WatchCancelled)) failed = error
    },
  )
  void watching.finally(() => wake())
  const path = `${podPath(ref.namespace, ref.pod, 'attach')}?${attachQuery(ref.name, streams)}`
  try {
    for (;;) {
      if (failed) throw failed
      if (reported?.state?.terminated) return 'ended'
      try {
        // Before the kubelet reports the debugger running, v4 only: the API server hands v4 straight to the
        // kubelet, which refuses a container it does not run yet before the upgrade. v5 goes through the API
        // server's stream translator, which upgrades first and only then hears the kubelet's refusal.
        return await api.websocket(path, reported ? PROTOCOLS : PROTOCOLS.filter((p) => p !== STREAM_CLOSE_PROTOCOL))
      } catch (error) {
        const notYet = error instanceof KubeStatusError && error.code !== 401 && error.code !== 403
        if (!notYet) throw kubeError(error, {namespace: ref.namespace, verb: 'create', resource: 'pods/attach'})
        // Reported running and still refused (a kubelet says 500, a proxy may say 400): it ended in between. The
        // pod status will say so, or that it did not.
        if (reported) return 'ended'
      }
      // The watch may have settled during the attempt (its wake-up went to no one): look again first.
      if (failed || reported) continue
      const waitForNews = hopeless
      await new Promise<void>((resolve) => {
        const timer = waitForNews ? undefined : setTimeout(resolve, delay)
        wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      if (!waitForNews) delay = Math.min(delay * 1.5, 1000)
    }
  } finally {
    // Not awaited: the session must take over the stream's events at once. The watch ends on its own.
    cancel.abort()
  }
}

/**
 * Relays an attach (opened here, or by attachWhenStarted), sends the go-ahead to a new debugger (it waits for it),
 * and once the stream ends takes the exit code from the debugger's trailer (a one-shot command), else from the pod
 * status (attach carries none). Signals and a closed stdout end the session by closing the stream: the kubelet then
 * closes the debugger's stdin, which ends a shell without a terminal and, through the wrapper, a one-shot command. A shell on a terminal gets Ctrl-C and Ctrl-D
 * first, since a terminal's input is never closed (kubectl debug leaves those running; re-attach with --reuse).
 */
async function attachAndFinish(
  api: KubeApi,
  ref: DebuggerRef,
  streams: StreamMode,
  ctx: SessionContext,
  fresh?: {session: string; ws: WsSocket; sharedPidNamespace: boolean},
): Promise<SessionResult> {
  let ws: WsSocket
  if (fresh) ws = fresh.ws
  else {
    try {
      ws = await api.websocket(`${podPath(ref.namespace, ref.pod, 'attach')}?${attachQuery(ref.name, streams)}`, PROTOCOLS)
    } catch (error) {
      // Ended between the watch and the attach: its log holds the output.
      if (error instanceof KubeStatusError && error.code === 400) return finishFromStatus(api, ref, ctx, true)
      throw kubeError(error, {namespace: ref.namespace, verb: 'create', resource: 'pods/attach'})
    }
  }
  // A new debugger without a terminal runs a wrapper that ends its stderr with the exit code.
  const trailer = fresh && !streams.tty ? new ExitTrailer(exitTrailerPrefix(fresh.session)) : undefined
  let releaseHeld: NodeJS.Timeout | undefined
  const v5 = ws.protocol === PROTOCOLS[0]
  const send = (frame: Buffer): void => {
    if (ws.readyState === ws.OPEN) ws.send(frame)
  }
  let endedWith: number | undefined
  const controls = sessionControls(ctx, streams, {
    onEnd: (exitCode) => {
      if (endedWith !== undefined) return
      endedWith = exitCode
      controls.restoreTerminal()
      if (streams.tty) send(stdinFrame(Buffer.from('\x03\x04')))
      ws.close()
      // A dead network would hold the closing handshake for 30 s.
      setTimeout(() => ws.terminate(), 1000).unref()
    },
    onResize: (size) => send(resizeFrame(size.columns, size.rows)),
  })
  try {
    const size = streams.tty ? initialSize(ctx) : undefined
    if (size) send(resizeFrame(size.columns, size.rows))
    if (fresh) send(stdinFrame(Buffer.from(GO_AHEAD)))
    if (streams.stdin) {
      // Without a terminal the debugger runs under RELAY_WRAPPER: input goes in length-prefixed chunks and its end
      // is a "0" chunk, so that stdin itself stays open as the session's lifeline.
      const relay = fresh !== undefined && !streams.tty
      ctx.stdin.on('data', (chunk: Buffer) => send(stdinFrame(relay ? relayChunk(chunk) : chunk)))
      ctx.stdin.once('end', () => {
        if (relay) send(stdinFrame(Buffer.from(RELAY_END)))
        else if (v5) send(closeStdinFrame())
      })
      ctx.stdin.resume()
    }
    await new Promise<void>((resolve) => {
      ws.on('message', (data: Buffer) => {
        const message = decode(data)
        if (message.kind === 'stdout') ctx.stdout.write(message.data)
        else if (message.kind === 'stderr') {
          if (!trailer) ctx.stderr.write(message.data)
          else {
            clearTimeout(releaseHeld)
            ctx.stderr.write(trailer.push(message.data))
            // A prompt such as "confirm" ends like the start of a trailer: show it if nothing follows soon.
            if (trailer.holding) releaseHeld = setTimeout(() => ctx.stderr.write(trailer.release()), 50)
          }
        }
        else if (message.kind === 'status' && message.status.status === 'Failure') ctx.stderr.write(`mindbg: ${message.status.message ?? 'attach failed'}\n`)
      })
      ws.once('close', () => resolve())
      ws.once('error', () => resolve())
      if (ws.readyState === ws.CLOSED) resolve()
    })
  } finally {
    controls.dispose()
  }
  clearTimeout(releaseHeld)
  if (trailer) ctx.stderr.write(trailer.release())
  if (endedWith !== undefined) return {exitCode: endedWith}
  // The command ran to its end and said how: no need to wait for the kubelet to report it.
  if (trailer?.exitCode !== undefined) {
    // Joined to the target's PID namespace, the debugger dies with the target and has no trailer then; in a pod
    // that shares one namespace among its containers it outlives the target, so ask.
    if (fresh?.sharedPidNamespace) targetStillRunning(await api.request<V1Pod>('GET', podPath(ref.namespace, ref.pod)), ref)
    return {exitCode: trailer.exitCode}
  }
  return finishFromStatus(api, ref, ctx, false)
}

/** The debugger's exit code from the pod status (with its log when the stream missed it); 118 when the target went away with it. */
async function finishFromStatus(api: KubeApi, {namespace, pod, name, target}: DebuggerRef, ctx: SessionContext, printLog: boolean): Promise<SessionResult> {
  const finalPod = await watchPod(
    api,
    namespace,
    pod,
    (p) => {
      const status = p.status?.ephemeralContainerStatuses?.find((s) => s.name === name)
      return status?.state?.terminated ? {done: true, value: p} : {done: false}
    },
    {
      timeoutMs: 15_000,
      onError: (error) => kubeError(error, {namespace, verb: 'watch', resource: 'pods'}),
      onTimeout: () => new MindbgError('sidecarFailed', `the stream of ${name} ended but the debugger is still running`, `Re-attach with: mindbg attach pod/${pod} -n ${namespace} --reuse`),
    },
  )
  const terminated = finalPod.status?.ephemeralContainerStatuses?.find((s) => s.name === name)?.state?.terminated
  if (printLog) ctx.stdout.write(await api.requestBuffer('GET', `${podPath(namespace, pod, 'log')}?container=${encodeURIComponent(name)}`).catch(() => Buffer.alloc(0)))
  targetStillRunning(finalPod, {namespace, pod, name, target})
  return {exitCode: terminated?.exitCode ?? 1}
}

/** 118 when the target went away during the session. */
function targetStillRunning(pod: V1Pod, {namespace, pod: podName, target}: DebuggerRef): void {
  const targetStatus = pod.status?.containerStatuses?.find((s) => s.name === target)
  if (!targetStatus?.state?.running) {
    throw new MindbgError('targetStopped', `target ${target} of pod ${namespace}/${podName} stopped during the session`, `See why: kubectl logs ${podName} -c ${target} -n ${namespace} --previous`)
  }
}
