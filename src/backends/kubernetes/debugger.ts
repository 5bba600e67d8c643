import {type Readable, Writable} from 'node:stream'

import type {V1ContainerStatus, V1Pod} from '@kubernetes/client-node'
import type {WebSocket as WsSocket} from 'ws'

import {firstLine, MindbgError} from '../../domain/errors.js'
import {initArch, initBinary} from '../init.js'
import type {Reporter} from '../../domain/reporter.js'
import type {StreamMode} from '../../domain/request.js'
import type {Debugger, DebuggerLink} from '../backend.js'
import {DebuggerOutput, relayed} from '../output.js'
import {type KubeApi, kubeError, KubeStatusError, podPath} from './api.js'
import {isNodeTarget, type NodeTarget} from './node-spec.js'
import {podProgress} from './owned-pod.js'
import type {KubeTarget} from './target.js'
import {closeStdinFrame, decode, PROTOCOLS, resizeFrame, stdinFrame, stdinFrames, STREAM_CLOSE_PROTOCOL} from './channels.js'
import {ControlFilters, type ControlMessage, exitTrailer, initRequest, outputEnd} from './control-message.js'
import {exitTrailerPrefix, GO_AHEAD, initAnswer, initRequestEnd, initRequestPrefix, outputEndMarker, RAW_INIT, RELAY_END, relayChunkHeader} from './spec.js'
import {type PodVerdict, WatchCancelled, watchPod} from './watch.js'

/** Waiting reasons of a container whose image cannot be had; with the config ones, of one that cannot start now. */
const IMAGE_UNAVAILABLE = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull'])
const CANNOT_START = new Set([...IMAGE_UNAVAILABLE, 'CreateContainerConfigError', 'CreateContainerError'])
/** Attach attempts before the debugger is reported running: every FIRST_RETRY_MS for EAGER_FOR_MS, then backing off. */
const FIRST_RETRY_MS = 25
const EAGER_FOR_MS = 2000
/** How often an open session checks that the API server still answers (WebSocket ping). */
const PING_EVERY_MS = 10_000

/** What only a debugger this session added has: it waits for the go-ahead and reports its exit in a trailer. */
interface FreshDebugger {
  session: string
  startTimeoutMs: number
  sharedPidNamespace: boolean
  /**
   * The go-ahead line, without its newline: empty, or (in a pod copy, where the target's container ID is known only
   * once it runs) the target's container ID, which the wrapper uses to find the target's processes.
   */
  goAhead?: string
}

/**
 * Where a debugger runs: an ephemeral container of the target's pod, or a container of a pod of mindbg's own (a
 * node debugger, a pod copy), which `end` deletes and `leave` describes.
 */
export interface DebuggerPlace {
  namespace: string
  pod: string
  container: string
  /** end: deletes the pod; keep: a detach keeps it (awaited before the session lets go); leave: what to say then. */
  ownPod?: {end(): Promise<void>; keep(): Promise<void>; leave(): string}
  /** A pod copy: its target ends with the session (./copy.ts, DEAD_MAN), which says nothing about the session. */
  targetEndsWithSession?: boolean
}

/** The place of an ephemeral debugger: the container `name` in the target's pod. */
export const ephemeralPlace = (target: KubeTarget, name: string): DebuggerPlace => ({namespace: target.namespace, pod: target.podName, container: name})

/** The status of the debugger's container in its pod: a regular container's in a pod of its own, else an ephemeral one's. */
const statusIn = (p: V1Pod, place: DebuggerPlace): V1ContainerStatus | undefined =>
  (place.ownPod ? p.status?.containerStatuses : p.status?.ephemeralContainerStatuses)?.find((s) => s.name === place.container)

/** A debugger in a pod: added by this session (`fresh`), or found again. */
export class KubeDebugger implements Debugger {
  readonly runtime = 'kubernetes'
  readonly fresh: boolean

  constructor(
    private readonly api: KubeApi,
    readonly target: KubeTarget | NodeTarget,
    readonly place: DebuggerPlace,
    readonly name: string,
    readonly image: string,
    readonly streams: StreamMode,
    readonly notice: string | undefined,
    private readonly freshOne: FreshDebugger | undefined,
  ) {
    this.fresh = freshOne !== undefined
  }

  async attach(signal: AbortSignal, reporter: Reporter): Promise<DebuggerLink> {
    if (this.freshOne) {
      const ws = await attachWhenStarted(this.api, this, this.freshOne.startTimeoutMs, reporter, signal)
      return new KubeLink(this.api, this, ws, this.freshOne, reporter)
    }
    try {
      return new KubeLink(this.api, this, await this.api.websocket(attachPath(this), PROTOCOLS), undefined)
    } catch (error) {
      // Ended between the lookup and the attach: its log holds the output.
      if (error instanceof KubeStatusError && error.code === 400) return new KubeLink(this.api, this, 'ended', undefined)
      throw kubeError(error, {namespace: this.place.namespace, verb: 'create', resource: 'pods/attach'})
    }
  }

  /**
   * Its processes end with the session's stream (see the wrappers in ./spec.ts); an ephemeral container stays in the
   * pod, a pod of its own is deleted.
   */
  async end(): Promise<void> {
    await this.place.ownPod?.end()
  }

  leave(): string {
    if (this.place.ownPod) return this.place.ownPod.leave()
    const {namespace, pod} = this.place
    return `mindbg: detached from ${this.name}; it keeps running.\nRe-attach: mindbg attach pod/${pod} -n ${namespace} --session ${this.name}`
  }
}

const attachPath = (d: KubeDebugger): string =>
  `${podPath(d.place.namespace, d.place.pod, 'attach')}?container=${encodeURIComponent(d.place.container)}&stdin=true&stdout=true&stderr=${!d.streams.tty}&tty=${d.streams.tty}`

/**
 * The attach stream of a debugger, or ('ended') its log when it ended before anyone attached. The exit code comes
 * from a fresh debugger's trailer (a one-shot command), else from the pod status (attach carries none).
 */
class KubeLink implements DebuggerLink {
  readonly stdout: Readable
  readonly stderr: Readable
  readonly input: Writable | undefined
  readonly exited: Promise<number>
  private closedByUs = false
  private lost = false
  /** The pod as last seen at the end, for checkTarget. */
  private finalPod: V1Pod | undefined
  private trailer: ControlMessage | undefined

  constructor(
    private readonly api: KubeApi,
    private readonly dbg: KubeDebugger,
    private readonly ws: WsSocket | 'ended',
    private readonly fresh: FreshDebugger | undefined,
    reporter?: Reporter,
  ) {
    const output = new DebuggerOutput(ws === 'ended' ? {pause() {}, resume() {}} : ws)
    this.stdout = output.stdout
    this.stderr = output.stderr
    if (ws === 'ended') {
      this.input = undefined
      this.exited = this.fromStatus(output, true)
      return
    }
    const send = (frame: Buffer, done?: () => void): void => {
      if (ws.readyState === ws.OPEN) ws.send(frame, () => done?.())
      else done?.()
    }
    this.send = send
    // A new debugger without a terminal runs a wrapper that ends its stderr with the exit code.
    const trailer = fresh && !dbg.streams.tty ? exitTrailer(exitTrailerPrefix(fresh.session)) : undefined
    this.trailer = trailer
    // ... and its stdout with a marker: with both, all of the output came and the session is over, without waiting
    // for the stream to close (the runtime tearing the container down).
    const outputEnded = fresh && !dbg.streams.tty ? outputEnd(outputEndMarker(fresh.session)) : undefined
    let complete: () => void = () => {}
    const completed = new Promise<void>((resolve) => (complete = resolve))
    // A new debugger's wrapper asks for mindbg-init first thing after the go-ahead (on a terminal, in its output):
    // the user's input waits until it has its answer, which goes down the same stdin.
    const initAsk = fresh ? initRequest(initRequestPrefix(fresh.session, dbg.streams.tty), initRequestEnd(dbg.streams.tty)) : undefined
    let initAnswered: () => void = () => {}
    const initDone = initAsk ? new Promise<void>((resolve) => (initAnswered = resolve)) : Promise.resolve()
    let initHandled = false
    const answerInit = (): void => {
      if (initHandled || initAsk?.value === undefined) return
      initHandled = true
      const raw = initAsk.value.endsWith(RAW_INIT)
      const requested = raw ? initAsk.value.slice(0, -RAW_INIT.length) : initAsk.value
      const arch = initArch(requested)
      const binary = arch && initBinary(arch)
      if (requested !== '-') send(stdinFrame(initAnswer(binary, raw)))
      if (!binary) {
        const why = requested === '-' ? 'no writable /tmp, /var/tmp, /run or /dev/shm, or no uname, chmod or stty in the image' : `this build of mindbg has none for ${requested}`
        reporter?.notice(`mindbg: mindbg-init cannot run in the debugger (${why}): what the session leaves running stays as zombies in the target`)
      }
      initAnswered()
    }
    const filters = {
      stdout: new ControlFilters([...(initAsk && dbg.streams.tty ? [initAsk] : []), ...(outputEnded ? [outputEnded] : [])]),
      stderr: new ControlFilters([...(initAsk && !dbg.streams.tty ? [initAsk] : []), ...(trailer ? [trailer] : [])]),
    }
    const releaseHeld: Partial<Record<'stdout' | 'stderr', NodeJS.Timeout>> = {}
    const pass = (kind: 'stdout' | 'stderr', data: Buffer): void => {
      const filter = filters[kind]
      if (filter.filters.length === 0) return output.push(kind, data)
      clearTimeout(releaseHeld[kind])
      output.push(kind, filter.push(data))
      answerInit()
      // A prompt such as "confirm" ends like the start of a trailer: show it if nothing follows soon.
      if (filter.holding) releaseHeld[kind] = setTimeout(() => output.push(kind, filter.release()), 50)
      if (trailer?.value !== undefined && outputEnded?.value !== undefined) complete()
    }
    ws.on('message', (data: Buffer) => {
      // What the TLS socket read the message into (DebuggerOutput counts what is passed on).
      relayed(data.length)
      const message = decode(data)
      if (message.kind === 'stdout' || message.kind === 'stderr') pass(message.kind, message.data)
      else if (message.kind === 'status' && message.status.status === 'Failure') output.push('stderr', Buffer.from(`mindbg: ${message.status.message ?? 'attach failed'}\n`))
    })
    const closed = new Promise<void>((resolve) => {
      ws.once('close', () => resolve())
      ws.once('error', () => resolve())
      if (ws.readyState === ws.CLOSED) resolve()
      // The wrapper is exiting: closing the stream now is what its end would do a moment later.
      void completed.then(() => {
        this.finished = true
        resolve()
        this.closeStream()
      })
    }).then(() => {
      initAnswered()
      for (const kind of ['stdout', 'stderr'] as const) {
        clearTimeout(releaseHeld[kind])
        output.push(kind, filters[kind].release())
      }
    })
    // A frozen network shows no error: a ping that gets no pong within PING_EVERY_MS ends the session (within 2x).
    let answered = true
    ws.on('pong', () => (answered = true))
    const pinger = setInterval(() => {
      if (!answered) {
        this.lost = true
        ws.terminate()
        return
      }
      answered = false
      ws.ping()
    }, PING_EVERY_MS).unref()
    void closed.finally(() => clearInterval(pinger))
    this.exited = closed.then(async () => {
      if (this.lost && !this.closedByUs) {
        output.end()
        throw new MindbgError(
          'engineUnreachable',
          `the connection to the API server was lost during the session (no answer to a ping within ${PING_EVERY_MS / 1000} s); the debugger ${dbg.name} may still run`,
          dbg.place.ownPod
            ? `It ends once the cluster answers and sees the stream closed; meanwhile: kubectl get pod ${dbg.place.pod} -n ${dbg.place.namespace}`
            : `Get back in once the cluster answers: mindbg attach pod/${dbg.place.pod} -n ${dbg.place.namespace} --reuse`,
        )
      }
      if (this.closedByUs) {
        output.end()
        return 0
      }
      // The command ran to its end and said how: no need to wait for the kubelet to report it.
      if (trailer?.value !== undefined) {
        output.end()
        return Number(trailer.value)
      }
      return this.fromStatus(output, false)
    })

    if (dbg.streams.stdin) {
      // Without a terminal a new debugger runs under RELAY_WRAPPER: input goes in length-prefixed chunks and its end
      // is a "0" chunk, so that stdin itself stays open as the session's lifeline.
      const relay = fresh !== undefined && !dbg.streams.tty
      const v5 = ws.protocol === STREAM_CLOSE_PROTOCOL
      const sendInput = (chunks: Buffer[], done: () => void): void => {
        const frames = stdinFrames(chunks, relay ? relayChunkHeader : undefined)
        if (frames.length === 0) return done()
        // Each message is a copy of its input: as much again for the collector (see relayed).
        for (const frame of frames) relayed(frame.length)
        frames.forEach((frame, i) => send(frame, i === frames.length - 1 ? done : undefined))
      }
      this.input = new Writable({
        // As for Docker's (INPUT_BUFFER there): stdin keeps being read while a frame is on its way.
        highWaterMark: 1024 * 1024,
        write: (chunk: Buffer, _encoding, done) => void initDone.then(() => sendInput([chunk], done)),
        // What piled up while a message was on its way goes as one (or few): see STDIN_FRAME_MAX.
        writev: (chunks, done) => void initDone.then(() => sendInput(chunks.map((c) => c.chunk as Buffer), done)),
        final: (done) =>
          void initDone.then(() => {
            if (relay) send(stdinFrame(Buffer.from(RELAY_END)), done)
            else if (v5) send(closeStdinFrame(), done)
            else done()
          }),
      })
    } else this.input = undefined
  }

  private send: (frame: Buffer, done?: () => void) => void = () => {}

  async start(): Promise<void> {
    // Every new debugger waits for this line before it runs anything: no output is lost before the attach.
    if (this.fresh) this.send(stdinFrame(Buffer.from(`${this.fresh.goAhead ?? ''}${GO_AHEAD}`)))
  }

  resize(size: {rows: number; columns: number}): void {
    this.send(resizeFrame(size.columns, size.rows))
  }

  /**
   * Closing the stream ends the debugger: the kubelet closes its stdin, which ends a shell without a terminal and,
   * through the wrapper, a one-shot command. A terminal's input is never closed, so a program on one is told first,
   * as a person would: Ctrl-C (the foreground command), then Ctrl-D (the shell, at its prompt again), each given a
   * moment to arrive and act before the stream closes. A detach sends neither.
   */
  async close(reason: 'stop' | 'detach' | 'exited' = 'stop'): Promise<void> {
    if (this.closedByUs || this.finished || this.ws === 'ended') return
    this.closedByUs = true
    if (reason === 'detach') await this.dbg.place.ownPod?.keep()
    if (this.dbg.streams.tty && reason === 'stop') {
      for (const key of ['\x03', '\x04']) {
        this.send(stdinFrame(Buffer.from(key)))
        await new Promise((r) => setTimeout(r, 200))
      }
    }
    this.closeStream()
  }

  /** Whether the stream ended the session by its markers (see outputEndMarker), not by closing. */
  private finished = false

  private closeStream(): void {
    if (this.ws === 'ended') return
    const ws = this.ws
    ws.close()
    // Ended by its markers, the wrapper is at its last line and all of its output came: the close frame is on its
    // way (written in this turn), and the server's answer is not worth waiting for (5-30 ms at every one-shot
    // command on the simulator); whether the server reads the close frame or sees the connection go, it ends the
    // attach the same way. Otherwise a dead network would hold the closing handshake for 30 s.
    if (this.finished) setImmediate(() => ws.terminate())
    else setTimeout(() => ws.terminate(), 1000).unref()
  }

  async checkTarget(): Promise<void> {
    // Joined to the target's PID namespace, the debugger dies with the target and has no trailer then; in a pod
    // that shares one namespace among its containers it outlives the target, so ask.
    if (this.dbg.place.targetEndsWithSession) return
    if (this.trailer?.value !== undefined && !this.fresh?.sharedPidNamespace) return
    // A node debugger has no target container to lose.
    const target = this.dbg.target
    if (isNodeTarget(target)) return
    const pod = this.finalPod ?? (await this.api.request<V1Pod>('GET', podPath(target.namespace, target.podName)))
    const {namespace, podName, container} = target
    if (!pod.status?.containerStatuses?.find((s) => s.name === container)?.state?.running) {
      throw new MindbgError('targetStopped', `target ${container} of pod ${namespace}/${podName} stopped during the session`, `See why: kubectl logs ${podName} -c ${container} -n ${namespace} --previous`)
    }
  }

  /** The debugger's exit code from the pod status, and its log when the stream missed the output. */
  private async fromStatus(output: DebuggerOutput, printLog: boolean): Promise<number> {
    const {namespace, pod} = this.dbg.place
    const place = this.dbg.place
    const name = this.dbg.name
    try {
      const finalPod = await watchPod(
        this.api,
        namespace,
        pod,
        (p) => (statusIn(p, place)?.state?.terminated ? {done: true, value: p} : {done: false}),
        {
          timeoutMs: 15_000,
          onError: (error) => kubeError(error, {namespace, verb: 'watch', resource: 'pods'}),
          onTimeout: () => new MindbgError('sidecarFailed', `the stream of ${name} ended but the debugger is still running`, `Re-attach with: mindbg attach pod/${pod} -n ${namespace} --reuse`),
        },
      )
      this.finalPod = finalPod
      const terminated = statusIn(finalPod, place)?.state?.terminated
      if (terminated?.reason === 'StartError' && /executable file not found|no such file/i.test(terminated.message ?? '')) {
        throw new MindbgError(
          'commandNotFound',
          `the debug image ${this.dbg.image} has no shell: mindbg runs its debuggers in pods under a small sh wrapper (the kubelet says: ${firstLine(terminated.message ?? '')})`,
          "Use an image with a POSIX shell: the default busybox, the target's debug twin (--sibling), or any image with sh.",
        )
      }
      // The runtime could not start it at all (a privileged debugger on a host whose bounding set lacks capabilities).
      if (terminated?.reason === 'StartError' || terminated?.reason === 'ContainerCannotRun') {
        throw new MindbgError('sidecarFailed', `the debugger ${name} could not start: ${firstLine(terminated.message ?? terminated.reason)}`, '"unable to apply caps": the host cannot grant what was asked; drop --privileged (or --profile sysadmin) and add what you need with --cap-add.')
      }
      if (printLog) output.push('stdout', await this.api.requestBuffer('GET', `${podPath(namespace, pod, 'log')}?container=${encodeURIComponent(place.container)}`).catch(() => Buffer.alloc(0)))
      return terminated?.exitCode ?? 1
    } finally {
      output.end()
    }
  }
}

/** Waits until the debugger runs (or already ended), telling what the kubelet says meanwhile. */
async function waitForStart(
  api: KubeApi,
  dbg: KubeDebugger,
  timeoutMs: number,
  reporter: Reporter | undefined,
  signal: AbortSignal,
  onWaiting: (reason: string) => void,
): Promise<V1ContainerStatus> {
  const {namespace, pod} = dbg.place
  const name = dbg.name
  let lastWaiting = ''
  let lastReason = ''
  const judge = (p: V1Pod): PodVerdict<V1ContainerStatus> => {
    // Cancelled (the session attached): no more notices.
    if (signal.aborted) return {done: false}
    const status = statusIn(p, dbg.place)
    if (status?.state?.running || status?.state?.terminated) return {done: true, value: status}
    // A pod of its own can fail as a whole before its container exists (the kubelet refused it: OutOfcpu,
    // NodeAffinity; deleted meanwhile): owned-pod.ts reads that, and waiting reasons, as for any pod mindbg makes.
    if (dbg.place.ownPod) {
      const progress = podProgress(p, dbg.place.container)
      if (progress.kind === 'failed') throw progress.error
    }
    const waiting = status?.state?.waiting
    onWaiting(waiting?.reason ?? '')
    const text = waiting?.reason ? `${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}` : ''
    // ContainerCreating is every container's first state: not news.
    if (text && text !== lastWaiting && waiting?.reason !== 'ContainerCreating') {
      lastWaiting = text
      lastReason = waiting?.reason ?? ''
      reporter?.notice(`mindbg: ${name} is waiting: ${text}`)
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

/**
 * Attaches to a new debugger as soon as it runs. The kubelet reports a started container only at its next relist
 * (up to a second later), but its attach looks at the runtime: so mindbg tries to attach from the start, every
 * 25 ms for 2 s (a container usually starts within that: each ms waited is a ms of every session), then backing
 * off to 1 s (a pull can take a while), and pausing while the kubelet reports that the image cannot be
 * had, while the watch reports waiting reasons, decides that the debugger ended before anyone attached ('ended':
 * its log holds the output), or gives up at the start timeout (or when the session is stopped meanwhile).
 */
async function attachWhenStarted(api: KubeApi, dbg: KubeDebugger, timeoutMs: number, reporter: Reporter | undefined, stop: AbortSignal): Promise<WsSocket | 'ended'> {
  const cancel = new AbortController()
  const cancelOnStop = (): void => cancel.abort()
  stop.addEventListener('abort', cancelOnStop, {once: true})
  let reported: V1ContainerStatus | undefined
  let failed: unknown
  let wake = (): void => {}
  let delay = FIRST_RETRY_MS
  let eager = Date.now() + EAGER_FOR_MS
  // While the kubelet says the image cannot be had (or the container not created), no attach can work: wait for news.
  let hopeless = false
  const onWaiting = (reason: string): void => {
    const was = hopeless
    hopeless = CANNOT_START.has(reason)
    if (was && !hopeless) {
      // The image came after all: the container may start any moment now.
      delay = FIRST_RETRY_MS
      eager = Date.now() + EAGER_FOR_MS
      wake()
    }
  }
  const watching = waitForStart(api, dbg, timeoutMs, reporter, cancel.signal, onWaiting).then(
    (status) => (reported = status),
    (error: unknown) => {
      if (!(error instanceof WatchCancelled)) failed = error
      else if (stop.aborted) failed = new MindbgError('sidecarFailed', 'stopped while waiting for the debugger to start')
    },
  )
  void watching.finally(() => wake())
  const path = attachPath(dbg)
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
        if (!notYet) throw kubeError(error, {namespace: dbg.place.namespace, verb: 'create', resource: 'pods/attach'})
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
      if (!waitForNews && Date.now() > eager) delay = Math.min(delay * 1.5, 1000)
    }
  } finally {
    // Not awaited: the session must take over the stream's events at once. The watch ends on its own.
    cancel.abort()
    stop.removeEventListener('abort', cancelOnStop)
  }
}
