import os from 'node:os'
import type {Duplex} from 'node:stream'

import type Dockerode from 'dockerode'

import {type AttachPlan, describeImageSource, type SidecarRequest, type StreamMode} from './attach-options.js'
import {engineMessage, MindbgError, toMindbgError, usageError} from './errors.js'
import {siblingImage} from './images/sibling.js'
import type {KubeDryRunReport} from './kube-session.js'
import {isRootUser} from './profiles.js'
import type {Reporter} from './progress.js'
import {DockerEngine} from './runtime/docker-engine.js'
import {buildSidecarSpec, type DockerTarget, type EngineKind, LABEL, type SessionIdentity, sidecarName, targetRootPath} from './runtime/docker-spec.js'
import {StdDemuxer} from './runtime/demux.js'
import {startWatchdog, type Watchdog} from './runtime/watchdog.js'
import {DetachKeyMatcher} from './terminal/detach-keys.js'
import {initialSize, sessionControls} from './terminal/session-controls.js'

export interface SessionContext {
  version: string
  /** The config file in use, for messages. */
  configPath?: string | undefined
  reporter: Reporter
  stdin: NodeJS.ReadStream
  stdout: NodeJS.WriteStream
  stderr: NodeJS.WriteStream
}

/** How a session ended: the exit code mindbg should return. */
export type SessionResult = {exitCode: number}


export async function runAttach(plan: AttachPlan, ctx: SessionContext): Promise<SessionResult> {
  if (plan.kind === 'new' && plan.target.runtime === 'kubernetes') {
    // Loaded only for pods: the Docker path never pays for the Kubernetes client.
    const {runKubeAttach} = await import('./kube-session.js')
    return runKubeAttach(plan.target, plan.sidecar, plan.streams, plan.kube, ctx)
  }
  const engine = await DockerEngine.connect()
  if (plan.kind === 'reattach') return reattach(engine, plan.session, plan.streams, ctx)
  if (plan.target.runtime !== 'docker') throw new Error('unreachable')
  return startNew(engine, plan.target.ref, plan.sidecar, plan.streams, ctx)
}

export function invokingUser(): string {
  let user = process.env.SUDO_USER || process.env.USER || ''
  try {
    user ||= os.userInfo().username
  } catch {
    user ||= String(process.getuid?.() ?? 'unknown')
  }
  return `${user}@${os.hostname()}`
}

/** What --dry-run reports: the sidecar mindbg would create, and why. */
export interface DryRunReport {
  target: {name: string; id: string; image: string; user: string}
  image: string
  imageReason: string
  imagePresent: boolean
  platform: string | undefined
  pull: string
  profile: string
  user: string
  joins: string[]
  name: string
  command: string[]
}

interface PreparedSidecar {
  target: DockerTarget
  spec: Dockerode.ContainerCreateOptions
  name: string
  image: string
  imageReason: string
  present: boolean
}

/** Everything up to, not including, the first change on the engine: also what --dry-run shows. */
async function prepareNew(engine: DockerEngine, ref: string, request: SidecarRequest, streams: StreamMode, ctx: SessionContext): Promise<PreparedSidecar> {
  const sibling = request.imageSource === 'sibling'
  const [target, kind, presentByName] = await Promise.all([
    engine.resolveTarget(ref),
    engine.kind(),
    sibling || request.pull === 'always' ? Promise.resolve(false) : engine.imageExists(request.image),
  ])
  let {image, user} = request
  let imageReason = describeImageSource(request.imageSource, ctx.configPath)
  let present = presentByName
  if (sibling) {
    const twin = firstTwin(await engine.taggedImagesOf(target), request.siblingMappings)
    image = twin.image
    imageReason = `--sibling (${twin.rule})`
    // A nonroot twin runs as the target's user, so that file permissions line up.
    if (twin.nonRoot && user === undefined && !isRootUser(target.user)) user = target.user
    present = request.pull !== 'always' && (await engine.imageExists(image))
  }
  const identity: SessionIdentity = {user: invokingUser(), startedAt: new Date().toISOString(), version: ctx.version, reason: request.reason}
  const name = request.name ?? sidecarName(target.name)
  const spec = buildSidecarSpec(target, {...request, image, user}, streams, identity, kind, name)
  return {target, spec, name, image, imageReason, present}
}

/** The twin of the first tag that has one; the first tag's error when none has. */
function firstTwin(images: string[], mappings: SidecarRequest['siblingMappings']): ReturnType<typeof siblingImage> {
  let firstError: unknown
  for (const image of images) {
    try {
      return siblingImage(image, mappings)
    } catch (error) {
      firstError ??= error
    }
  }
  throw firstError
}

async function startNew(engine: DockerEngine, ref: string, request: SidecarRequest, streams: StreamMode, ctx: SessionContext): Promise<SessionResult> {
  const {target, spec, name, image, present} = await prepareNew(engine, ref, request, streams, ctx)
  const platform = request.platform ?? (present ? undefined : await engine.platformOf(target))
  await engine.ensureImage(image, request.pull, ctx.reporter, {present, platform})

  // Started before the sidecar exists, so that a SIGKILL at any moment from here on leaves nothing behind.
  const watchdog = startWatchdog(name)
  let container: Dockerode.Container
  try {
    container = await engine.api.createContainer(request.platform ? {...spec, platform: request.platform} : spec)
  } catch (error) {
    watchdog.release()
    throw createError(error, name, image)
  }
  if (request.command.length === 0) {
    ctx.reporter.notice(
      `mindbg: ${container.id.slice(0, 12)} (${name}) is next to ${target.name}; its filesystem is at ${targetRootPath(target)}` +
        (streams.tty ? `; detach with ${streams.detachKeysSpec}` : ''),
    )
  }
  return runSession(engine, container, name, target, streams, ctx, watchdog, true, await engine.kind())
}

export async function dryRun(plan: AttachPlan, ctx: SessionContext): Promise<DryRunReport | KubeDryRunReport> {
  if (plan.kind !== 'new') throw usageError('--dry-run needs a target', 'Use: mindbg attach --dry-run TARGET')
  if (plan.target.runtime === 'kubernetes') {
    const {kubeDryRun} = await import('./kube-session.js')
    return kubeDryRun(plan.target, plan.sidecar, plan.streams, plan.kube, ctx)
  }
  const engine = await DockerEngine.connect()
  const {target, spec, name, image, imageReason, present} = await prepareNew(engine, plan.target.ref, plan.sidecar, plan.streams, ctx)
  const host = spec.HostConfig ?? {}
  const joins = [['pid', host.PidMode], ['network', host.NetworkMode], ['ipc', host.IpcMode], ['uts', host.UTSMode]]
    .filter(([, mode]) => mode)
    .map(([ns]) => ns as string)
  return {
    target: {name: target.name, id: target.id, image: target.image, user: target.user || 'root'},
    image,
    imageReason,
    imagePresent: present,
    platform: plan.sidecar.platform ?? (present ? undefined : await engine.platformOf(target)),
    pull: plan.sidecar.pull,
    profile: plan.sidecar.profile,
    user: spec.User ?? '(the image default)',
    joins,
    name,
    command: plan.sidecar.command,
  }
}

async function reattach(engine: DockerEngine, session: string, streams: StreamMode, ctx: SessionContext): Promise<SessionResult> {
  let info: Dockerode.ContainerInspectInfo
  try {
    info = await engine.api.getContainer(session).inspect()
  } catch (error) {
    if ((error as {statusCode?: number}).statusCode === 404) throw sessionNotFound(session, 'no such sidecar')
    throw error
  }
  const labels = info.Config.Labels ?? {}
  if (labels[LABEL.sidecar] !== 'true') throw sessionNotFound(session, 'is not a mindbg sidecar')
  if (!info.State.Running) throw sessionNotFound(session, 'has already ended')
  const target = await engine.resolveTarget(labels[LABEL.target] ?? '').catch(() => undefined)
  const name = info.Name.replace(/^\//, '')
  const mode: StreamMode = {...streams, stdin: info.Config.OpenStdin, tty: info.Config.Tty}
  ctx.reporter.notice(`mindbg: re-attached to ${name}${mode.tty ? '; press Enter for a prompt' : ''}`)
  const watchdog = startWatchdog(name)
  return runSession(engine, engine.api.getContainer(info.Id), name, target, mode, ctx, watchdog, false, await engine.kind())
}

function sessionNotFound(session: string, why: string): MindbgError {
  return new MindbgError('sessionNotFound', `session ${session}: ${why}`, 'List live sidecars with: mindbg ls')
}

function createError(error: unknown, name: string, image: string): MindbgError {
  const message = engineMessage(error)
  const status = (error as {statusCode?: number}).statusCode
  if (status === 409) return usageError(`the name ${name} is already in use`, 'Pick another --name, or remove the old container (mindbg prune).')
  if (status === 404) return new MindbgError('imageUnavailable', `image ${image} disappeared before the sidecar was created`, 'Run the command again.')
  // Socket-level failures (engine gone, permission) keep their translation in errors.ts.
  if (typeof (error as {code?: unknown}).code === 'string') return toMindbgError(error)
  return new MindbgError('sidecarFailed', `the engine refused the sidecar: ${message}`, 'Check the flags against the target (rerun with --debug for details).', {cause: error})
}

/**
 * Attaches, starts (for a new sidecar) and waits. Ends with the sidecar removed, except after a detach, and with
 * the terminal restored on every path. Signals and a broken stdout end the session early with the sidecar removed.
 */
async function runSession(
  engine: DockerEngine,
  container: Dockerode.Container,
  name: string,
  target: DockerTarget | undefined,
  streams: StreamMode,
  ctx: SessionContext,
  watchdog: Watchdog,
  start: boolean,
  engineKind: EngineKind,
): Promise<SessionResult> {
  const waitAbort = new AbortController()
  let socket: Duplex | undefined
  let finishing = false

  // One place that ends the session early (signal, EPIPE, detach); the normal end is the wait below.
  let endEarly: (result: SessionResult) => void = () => {}
  const early = new Promise<SessionResult>((resolve) => {
    endEarly = resolve
  })
  /** Removes the sidecar, and lets the watchdog go only once that worked (else it is still needed). */
  const removeSidecar = async (): Promise<void> => {
    try {
      await engine.remove(container.id)
      watchdog.release()
    } catch {
      // the watchdog is still armed and will remove it once we are gone
    }
  }
  const removeAndEnd = async (exitCode: number): Promise<void> => {
    if (finishing) return
    finishing = true
    controls.restoreTerminal()
    socket?.destroy()
    await removeSidecar()
    endEarly({exitCode})
  }
  const controls = sessionControls(ctx, streams, {
    onEnd: (exitCode) => void removeAndEnd(exitCode),
    onResize: (size) => void container.resize({h: size.rows, w: size.columns}).catch(() => {}),
  })

  try {
    socket = await engine.attach(container.id, {stdin: streams.stdin, detachKeys: streams.detachKeysSpec})
    const output = pumpOutput(socket, streams.tty, ctx)
    // Docker answers "removed" once AutoRemove is done, exit code included; Podman's compatible API returns at once
    // for a container not started yet, so there: wait for the exit, then remove it ourselves.
    const exited = (
      engineKind === 'podman'
        ? (container.wait({condition: 'next-exit', abortSignal: waitAbort.signal}) as Promise<{StatusCode: number}>).then(async (r) => {
            await engine.remove(container.id)
            return r
          })
        : (container.wait({condition: 'removed', abortSignal: waitAbort.signal}) as Promise<{StatusCode: number}>)
    )
    exited.catch(() => {})

    if (start) {
      try {
        await container.start()
      } catch (error) {
        // A signal during start already removed the sidecar: its exit code wins over the failed start.
        if (finishing) return await early
        finishing = true
        await removeSidecar()
        throw startError(error)
      }
    }
    const size = streams.tty ? initialSize(ctx) : undefined
    if (size) container.resize({h: size.rows, w: size.columns}).catch(() => {})
    if (streams.stdin) {
      pumpInput(socket, streams, ctx, () => {
        if (finishing) return
        // Detach: the sidecar keeps running; the watchdog must not remove it.
        finishing = true
        controls.restoreTerminal()
        waitAbort.abort()
        socket?.destroy()
        watchdog.release()
        ctx.stderr.write(`\nmindbg: detached from ${name}; it keeps running.\nRe-attach: mindbg attach --session ${name}\nEnd it:    docker rm -f ${name}\n`)
        endEarly({exitCode: 0})
      })
    }

    const result = await Promise.race([
      early,
      exited.then(async ({StatusCode}) => {
        await Promise.race([output.done, delay(2000)])
        return {exitCode: StatusCode}
      }),
    ])
    // Ended by a signal, EPIPE or detach: the exit code is theirs, not the killed sidecar's.
    if (finishing) return await early
    finishing = true
    controls.restoreTerminal()
    watchdog.release()
    if (output.truncatedBytes() > 0) ctx.stderr.write(`mindbg: the engine cut the output short (${output.truncatedBytes()} bytes of an unfinished frame)\n`)
    // A dying target takes the sidecar's processes with it (shared PID namespace): they end by a signal.
    if (target && result.exitCode >= 128 && (await targetGone(engine, target))) {
      throw new MindbgError('targetStopped', `target ${target.name} stopped during the session; the sidecar was removed`, `See why with: docker logs ${target.name}`)
    }
    return result
  } catch (error) {
    if (!finishing) {
      finishing = true
      controls.restoreTerminal()
      await removeSidecar()
    }
    throw error
  } finally {
    waitAbort.abort()
    controls.dispose()
    socket?.destroy()
  }
}

function startError(error: unknown): MindbgError {
  const message = engineMessage(error)
  if (/executable file not found|no such file or directory/i.test(message)) {
    return new MindbgError('commandNotFound', `cannot run the command in the sidecar: ${message}`, 'The debug image lacks it; use --image with an image that has it.')
  }
  if (/permission denied/i.test(message)) return new MindbgError('commandNotExecutable', `cannot run the command in the sidecar: ${message}`)
  return new MindbgError('sidecarFailed', `the sidecar did not start: ${message}`, 'Check the flags against the target (rerun with --debug for details).', {cause: error})
}

async function targetGone(engine: DockerEngine, target: DockerTarget): Promise<boolean> {
  try {
    const info = await engine.api.getContainer(target.id).inspect()
    return !info.State.Running
  } catch {
    return true
  }
}

/** Copies the container's output to our stdout/stderr with backpressure; `done` when the engine closes it. */
function pumpOutput(socket: Duplex, tty: boolean, ctx: SessionContext): {done: Promise<void>; truncatedBytes(): number} {
  const write = (out: NodeJS.WriteStream, data: Buffer): void => {
    if (!out.write(data)) {
      socket.pause()
      out.once('drain', () => socket.resume())
    }
  }
  const demux = tty ? undefined : new StdDemuxer((stream, payload) => write(stream === 'stderr' ? ctx.stderr : ctx.stdout, payload))
  socket.on('data', (chunk: Buffer) => (demux ? demux.push(chunk) : write(ctx.stdout, chunk)))
  const done = new Promise<void>((resolve) => {
    socket.once('end', () => resolve())
    socket.once('close', () => resolve())
    socket.once('error', () => resolve())
  })
  return {done, truncatedBytes: () => demux?.pendingBytes ?? 0}
}

/** Forwards our stdin; EOF half-closes the attach stream so the container sees EOF too. */
function pumpInput(socket: Duplex, streams: StreamMode, ctx: SessionContext, onDetach: () => void): void {
  const matcher = streams.tty ? new DetachKeyMatcher(streams.detachKeys) : undefined
  ctx.stdin.on('data', (chunk: Buffer) => {
    if (!matcher) {
      socket.write(chunk)
      return
    }
    const {forward, detach} = matcher.push(chunk)
    if (forward.length > 0) socket.write(forward)
    if (detach) onDetach()
  })
  ctx.stdin.once('end', () => socket.end())
  ctx.stdin.resume()
}

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref())
