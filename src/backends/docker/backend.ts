import {existsSync, readFileSync} from 'node:fs'
import type {Duplex} from 'node:stream'
import {type Readable, Writable} from 'node:stream'

import type Dockerode from 'dockerode'

import {MindbgError, usageError} from '../../domain/errors.js'
import {isRootUser} from '../../domain/profiles.js'
import type {Reporter} from '../../domain/reporter.js'
import {type DebuggerRequest, describeImageSource, type StreamMode} from '../../domain/request.js'
import {invokingUser, type SessionIdentity} from '../../domain/session.js'
import {parseLabelSelector, type TargetRef, type TargetSelector} from '../../domain/target.js'
import {endWithin} from '../../domain/within.js'
import {siblingImage} from '../../images/sibling.js'
import type {Backend, Debugger, DebuggerLink, DebuggerPlan, PlanContext, PrunedDebugger, ServeLink, StandIn} from '../backend.js'
import {DebuggerOutput} from '../output.js'
import {StdDemuxer} from './demux.js'
import {DockerEngine, isGone, ownerLabel, type SidecarSummary} from './engine.js'
import {Mux, type MuxLink} from './mux.js'
import {dockerError, engineMessage, guard, httpStatus} from './errors.js'
import {type InitArch, initArch, initHostPath} from '../init.js'
import {initArchive, INIT_PATH} from './init.js'
import {buildSharedSpec, buildSidecarSpec, type DockerTarget, type EngineKind, LABEL, sharedName, sharedStepEnv, sidecarName, targetRootPath} from './spec.js'
import {pruneStandIns, startStandIn} from './stand-in.js'
import {startWatchdog, type Watchdog} from './watchdog.js'

interface DockerPlan extends DebuggerPlan<DockerTarget> {
  readonly spec: Dockerode.ContainerCreateOptions
  readonly pull: DebuggerRequest['pull']
  readonly platform: string | undefined
  readonly present: boolean
  /** mindbg-init, as a tar archive to put into the sidecar before it starts; undefined: none for its CPU. */
  readonly init: Buffer | undefined
  /** The spec bind-mounts mindbg-init from this machine (nothing to copy unless the engine cannot see it). */
  readonly initMounted: boolean
  /** run --shared-debugger: `spec` is the run's shared debugger; the target's steps are execs in it with this env. */
  readonly shared?: {env: string[]}
}

/**
 * Docker, and Podman through its Docker-compatible API: the debugger is a sidecar container that joins the target's
 * PID and network namespaces (IPC when shareable; UTS on Podman), removed when the session ends (AutoRemove, and a
 * watchdog for when mindbg itself is killed).
 */
export class DockerBackend implements Backend<DockerTarget, DockerPlan> {
  readonly runtime = 'docker'

  /** Started while prefetch's requests are with the engine; create() takes it (see startWatchdog). */
  private spareWatchdog: Watchdog | undefined
  /** create() took a watchdog already (the prefetched answers were in before the spare was started): no spare. */
  private watchdogTaken = false
  private closed = false

  /** The run's shared debugger (run --shared-debugger), made by the first create() that needs it. */
  private shared: Promise<{mux: Mux; name: string}> | undefined
  /** Its ID once created, its watchdog, and its sessions' stream once attached: close() ends them. */
  private sharedMade: {id: string; name: string; watchdog: Watchdog; reporter: Reporter; mux?: Mux} | undefined
  private sharedNameOfRun: string | undefined

  /** imagePlatform() answers asked ahead of planning, by image (undefined: not present). */
  private readonly platforms = new Map<string, Promise<string | undefined>>()

  private constructor(private readonly engine: DockerEngine) {}

  prefetch(request: DebuggerRequest): void {
    void this.engine.kind().catch(() => {})
    if (request.imageSource !== 'sibling' && request.pull !== 'always') this.imagePlatform(request.image).catch(() => {})
    // After this tick, once the target's inspect has gone out too.
    setImmediate(() => {
      if (!this.closed && !this.watchdogTaken) this.spareWatchdog ??= startWatchdog()
    })
  }

  private watchdogFor(name: string): Watchdog {
    const watchdog = this.spareWatchdog ?? startWatchdog()
    this.spareWatchdog = undefined
    this.watchdogTaken = true
    watchdog.watch({container: name})
    return watchdog
  }

  private imagePlatform(image: string): Promise<string | undefined> {
    let known = this.platforms.get(image)
    if (!known) this.platforms.set(image, (known = this.engine.imagePlatform(image)))
    return known
  }

  static async connect(): Promise<DockerBackend> {
    return new DockerBackend(await DockerEngine.connect())
  }

  async resolve(ref: TargetRef): Promise<DockerTarget[]> {
    if (ref.runtime !== 'docker') throw new Error(`the Docker backend was given a ${ref.runtime} reference`)
    if (ref.image) return [imageTarget(ref.ref)]
    return [await guard(this.engine.inspectTarget(ref.ref))]
  }

  standIn(target: DockerTarget, request: DebuggerRequest, reporter: Reporter): Promise<StandIn<DockerTarget>> {
    return startStandIn(this.engine, target, request, reporter)
  }

  async select(selector: TargetSelector): Promise<DockerTarget[]> {
    if (selector.runtime !== 'docker') throw new Error(`the Docker backend was given a ${selector.runtime} selector`)
    return guard(this.engine.selectTargets(parseLabelSelector(selector.labels)))
  }

  async plan(target: DockerTarget, request: DebuggerRequest, streams: StreamMode, context: PlanContext): Promise<DockerPlan> {
    return guard(this.planDebugger(target, request, streams, context))
  }

  private async planDebugger(found: DockerTarget, request: DebuggerRequest, streams: StreamMode, context: PlanContext): Promise<DockerPlan> {
    if (request.shared) return this.planShared(found, request, streams, context)
    const engine = this.engine
    const sibling = request.imageSource === 'sibling'
    const [kind, platformByName, user] = await Promise.all([
      engine.kind(),
      sibling || request.pull === 'always' ? Promise.resolve(undefined) : this.imagePlatform(request.image),
      numericUser(engine, found),
    ])
    // The debugger may run as the target's user (restricted, a nonroot twin): by number, since the debug image has
    // its own /etc/passwd, or none.
    const target = {...found, user}
    let image = request.image
    let runAs = request.user
    let imageReason = describeImageSource(request.imageSource, context.configPath)
    let imagePlatform = platformByName
    if (sibling) {
      const twin = firstTwin(await engine.taggedImagesOf(target), request.siblingMappings)
      image = twin.image
      imageReason = `--sibling (${twin.rule})`
      // A nonroot twin runs as the target's user, so that file permissions line up.
      if (twin.nonRoot && runAs === undefined && !isRootUser(target.user)) runAs = target.user
      imagePlatform = request.pull !== 'always' ? await this.imagePlatform(image) : undefined
    }
    // Present under its name, but for another platform than --platform asks: as good as absent (the engine would
    // refuse to create it, saying only that no such image exists).
    if (imagePlatform !== undefined && request.platform && !samePlatform(imagePlatform, request.platform)) imagePlatform = undefined
    const present = imagePlatform !== undefined
    const platform = request.platform ?? (present ? undefined : await engine.platformOf(target))
    const init = initArch(imagePlatform ?? platform)
    const initTar = init && initArchive(init)
    const initSource = init && initTar ? initMountSource(engine, kind, target, init) : undefined
    const identity: SessionIdentity = {user: invokingUser(), startedAt: new Date().toISOString(), version: context.version, reason: request.reason}
    const name = request.name ?? sidecarName(target.name)
    const spec = buildSidecarSpec(target, {...request, image, user: runAs}, streams, identity, kind, name, initTar !== undefined, initSource)
    if (request.platform) spec.platform = request.platform
    const host = spec.HostConfig ?? {}
    const joins = (
      [
        ['pid', host.PidMode],
        ['network', host.NetworkMode],
        ['ipc', host.IpcMode],
        ['uts', host.UTSMode],
      ] as const
    )
      .filter(([, mode]) => mode)
      .map(([ns]) => ns)
    return {
      target,
      name,
      image,
      streams,
      command: request.command,
      spec,
      pull: request.pull,
      platform,
      present,
      init: initTar,
      initMounted: initSource !== undefined,
      report: {
        runtime: 'docker',
        target: {name: target.name, id: target.id, image: target.image, user: target.user || 'root', label: `${target.name} (${target.id.slice(0, 12)})`},
        image,
        imageReason,
        imagePresent: present,
        platform,
        pull: request.pull,
        profile: request.profile,
        user: spec.User ?? '(the image default)',
        joins,
        name,
        notes: [
          ...(target.pidMode === 'host' && request.profile !== 'restricted'
            ? [`${target.name} runs in the host's PID namespace: this sidecar sees (and, as root, can read) every process of the host; --profile restricted avoids that`]
            : []),
          ...(initTar
            ? []
            : [`this build has no mindbg-init for ${imagePlatform || platform || 'the image\'s platform'}: a process the session leaves behind may stay a zombie in ${target.name} until it restarts`]),
        ],
        command: request.command,
        spec,
      },
    }
  }

  /**
   * run --shared-debugger: the steps of `target` as execs in the run's one debugger, which enters the target's
   * namespaces (mindbg-init --enter); the debugger itself is planned here too, the same for every target.
   */
  private async planShared(target: DockerTarget, request: DebuggerRequest, streams: StreamMode, context: PlanContext): Promise<DockerPlan> {
    const engine = this.engine
    const [kind, imagePlatform] = await Promise.all([engine.kind(), request.pull === 'always' ? Promise.resolve(undefined) : this.imagePlatform(request.image)])
    const usable = imagePlatform !== undefined && !(request.platform && !samePlatform(imagePlatform, request.platform))
    const platform = request.platform ?? (usable ? undefined : await engine.platformOf(target))
    const init = initArch((usable ? imagePlatform : undefined) ?? platform)
    if (!init) throw usageError(`--shared-debugger needs mindbg-init for ${platform ?? "the debug image's platform"}, which this build lacks`, 'Use an amd64 or arm64 debug image, or run without --shared-debugger.')
    const initTar = initArchive(init)
    const initSource = initMountSource(engine, kind, target, init)
    const name = (this.sharedNameOfRun ??= sharedName())
    const identity: SessionIdentity = {user: invokingUser(), startedAt: new Date().toISOString(), version: context.version, reason: request.reason}
    const spec = buildSharedSpec({image: request.image, name, identity, owner: ownerLabel(), initSource, platform: request.platform})
    return {
      target,
      name,
      image: request.image,
      streams,
      command: request.command,
      spec,
      pull: request.pull,
      platform,
      present: usable,
      init: initTar,
      initMounted: initSource !== undefined,
      shared: {env: sharedStepEnv(target, request.env)},
      report: {
        runtime: 'docker',
        target: {name: target.name, id: target.id, image: target.image, user: target.user || 'root', label: `${target.name} (${target.id.slice(0, 12)})`},
        image: request.image,
        imageReason: describeImageSource(request.imageSource, context.configPath),
        imagePresent: usable,
        platform,
        pull: request.pull,
        profile: request.profile,
        user: 'root',
        joins: ['pid', 'network', 'ipc', 'uts'],
        name,
        notes: [`${name} serves every target of the run from the host's PID namespace, with CAP_SYS_ADMIN, which mindbg-init gives up before each step it runs in a target's namespaces`],
        command: request.command,
        spec,
      },
    }
  }

  async create(plan: DockerPlan, reporter: Reporter): Promise<Debugger> {
    if (plan.shared) {
      const host = await this.sharedDebugger(plan, reporter)
      return new SharedSession(host.mux, host.name, plan.image, plan.target, plan.command, plan.streams, plan.shared.env)
    }
    const engine = this.engine
    const kind = await engine.cli()
    const {container, watchdog, copyInit} = await this.createContainer(plan, reporter, kind)
    // The copy is the slowest call of a session (Docker re-executes itself to untar): it runs while the attach
    // request is on its way, and start waits for it. A failure fails the start; the session then ends the sidecar.
    const initCopied = plan.init && copyInit
      ? engine.putArchive(container, plan.init, '/').catch((error: unknown) => {
          throw new MindbgError('sidecarFailed', `cannot put mindbg-init (${INIT_PATH}) into the sidecar: ${engineMessage(error)}`, `Report this with the engine's version (${kind} version).`, {cause: error})
        })
      : Promise.resolve()
    initCopied.catch(() => {})
    const notice =
      plan.command.length === 0
        ? `mindbg: ${container.slice(0, 12)} (${plan.name}) is next to ${plan.target.name}; its filesystem is at ${targetRootPath(plan.target)}` +
          (plan.streams.tty ? `; detach with ${plan.streams.detachKeysSpec}` : '')
        : undefined
    return new DockerDebugger(engine, container, plan.name, plan.image, plan.target, true, plan.streams, watchdog, kind, notice, initCopied)
  }

  /**
   * Pulls if need be, says the plan's notes, then creates the container of `plan` under a watchdog started before the
   * create request, so that a SIGKILL at any moment from here on leaves nothing behind. copyInit: mindbg-init must
   * still be put in.
   */
  private async createContainer(plan: DockerPlan, reporter: Reporter, kind: EngineKind): Promise<{container: string; watchdog: Watchdog; copyInit: boolean}> {
    const engine = this.engine
    await guard(engine.ensureImage(plan.image, plan.pull, reporter, {present: plan.present, platform: plan.platform, askedFor: plan.spec.platform}))
    // Said once the image is there: an image that cannot be had is the one thing worth saying then.
    for (const note of plan.report.notes) reporter.notice(`mindbg: ${note}`)
    const watchdog = this.watchdogFor(plan.name)
    let copyInit = !plan.initMounted
    try {
      watchdog.creating()
      let container: string
      try {
        container = await engine.createContainer(plan.spec)
      } catch (error) {
        if (!plan.initMounted || !/bind source path does not exist/i.test(engineMessage(error))) throw error
        // The engine does not see this machine's files (its socket was passed into a container): copied in instead.
        container = await engine.createContainer(withoutInitMount(plan.spec))
        copyInit = true
      }
      watchdog.created()
      return {container, watchdog, copyInit}
    } catch (error) {
      watchdog.release()
      throw createError(error, plan.name, plan.image, kind)
    }
  }

  /**
   * The run's shared debugger, created, attached and started once, by the first target's create(); close() ends it.
   * Attached before the start (as a sidecar is), so that no frame of its sessions is written before anyone reads.
   */
  private sharedDebugger(plan: DockerPlan, reporter: Reporter): Promise<{mux: Mux; name: string}> {
    this.shared ??= (async () => {
      const engine = this.engine
      const kind = await engine.cli()
      const {container, watchdog, copyInit} = await this.createContainer(plan, reporter, kind)
      const made: NonNullable<DockerBackend['sharedMade']> = {id: container, name: plan.name, watchdog, reporter}
      this.sharedMade = made
      try {
        if (plan.init && copyInit) await engine.putArchive(container, plan.init, '/')
        made.mux = new Mux(await engine.attach(container, {stdin: true}))
        await engine.start(container)
      } catch (error) {
        throw new MindbgError('sidecarFailed', `the shared debugger ${plan.name} could not start: ${engineMessage(error)}`, `It needs CAP_SYS_ADMIN and the host's PID namespace, which this ${kind} may refuse (rootless, a user namespace, a policy): run without --shared-debugger.`, {cause: error})
      }
      return {mux: made.mux, name: plan.name}
    })()
    return this.shared
  }

  async find(query: {name?: string | undefined; target?: DockerTarget | undefined}, streams: StreamMode): Promise<Debugger | undefined> {
    return guard(this.findDebugger(query, streams))
  }

  private async findDebugger(query: {name?: string | undefined; target?: DockerTarget | undefined}, streams: StreamMode): Promise<Debugger | undefined> {
    const engine = this.engine
    // Asked alongside the inspect, not after it: one round trip less before the command runs.
    const kind = engine.kind()
    kind.catch(() => {})
    let id: string
    if (query.name !== undefined) id = query.name
    else {
      // The newest live sidecar next to the target that serves commands (attach --detach), else that a terminal
      // can get back into (a detached shell).
      const live = (await engine.listSidecars()).filter((s) => s.targetId === query.target?.id && s.state === 'running')
      const candidates = await Promise.all(live.map(async (s) => ({s, info: await engine.inspectContainer(s.id)})))
      const newest = (keep: (info: Dockerode.ContainerInspectInfo) => boolean): string | undefined =>
        candidates.filter(({info}) => keep(info)).sort((a, b) => b.s.started.localeCompare(a.s.started))[0]?.s.id
      const found = newest((info) => info.Config.Labels?.[LABEL.serve] === '1') ?? newest((info) => info.Config.Tty && info.Config.OpenStdin)
      if (!found) return undefined
      id = found
    }
    let info: Dockerode.ContainerInspectInfo
    try {
      info = await engine.inspectContainer(id)
    } catch (error) {
      if (httpStatus(error) === 404) throw sessionNotFound(id, 'no such sidecar (it was ended, its --ttl ran out, or its target stopped)')
      throw error
    }
    const labels = info.Config.Labels ?? {}
    if (labels[LABEL.sidecar] !== 'true') throw sessionNotFound(id, 'is not a mindbg sidecar')
    if (!info.State.Running) throw sessionNotFound(id, 'has already ended')
    const serves = labels[LABEL.serve] === '1'
    // A command in a serving debugger needs no target inspect: the label has its ID and name.
    const target =
      query.target ?? (serves ? servedTarget(labels) : await engine.inspectTarget(labels[LABEL.target] ?? '').catch(() => undefined))
    const name = info.Name.replace(/^\//, '')
    const mode: StreamMode = {...streams, stdin: info.Config.OpenStdin, tty: info.Config.Tty}
    const notice = `mindbg: re-attached to ${name}${mode.tty ? '; press Enter for a prompt' : ''}`
    // A serving debugger is not this process's to remove if it dies: it has its own bound (--ttl).
    let watchdog: Watchdog | undefined
    if (!serves) {
      watchdog = this.watchdogFor(name)
      watchdog.created()
    }
    const engineKind = await kind
    const dbg = new DockerDebugger(engine, info.Id, name, info.Config.Image, target, false, mode, watchdog, engineKind, notice)
    dbg.serves = serves
    // Podman closes a container's stdin when the attach that started it ends (StdinOnce or not): its step server
    // cannot be reached again, and every command goes by exec.
    if (serves && engineKind === 'docker') dbg.serve = () => dbg.attachServer()
    return dbg
  }

  list(): Promise<SidecarSummary[]> {
    return guard(this.engine.listSidecars())
  }

  async prune({all}: {all: boolean}): Promise<PrunedDebugger[]> {
    const removed: PrunedDebugger[] = []
    const sidecars = await this.list()
    for (const sidecar of sidecars) {
      const why = orphanReason(sidecar) ?? (all ? '--all' : undefined)
      if (!why) continue
      await guard(this.engine.remove(sidecar.id))
      removed.push({name: sidecar.name, target: sidecar.targetName, why})
    }
    // Stand-ins and snapshots outlive their session only when their watchdogs could not run (a host reboot).
    const joined = new Set(sidecars.filter((s) => s.state === 'running' && !removed.some((r) => r.name === s.name)).map((s) => s.targetId))
    removed.push(...(await guard(pruneStandIns(this.engine, joined, all))))
    return removed
  }

  async close(): Promise<void> {
    this.closed = true
    this.spareWatchdog?.release()
    this.spareWatchdog = undefined
    const shared = this.sharedMade
    this.sharedMade = undefined
    if (!shared) return
    // Its stdin ends: mindbg-init ends what is left of its sessions and exits; the removal makes sure of it. Bounded:
    // an engine that froze mid-run must not hold the run's end (a Ctrl-C) for ever. Until the removal is confirmed
    // the watchdog stays armed, and removes it once this process is gone and the engine answers again.
    shared.mux?.close()
    const removal = (): Promise<void> => this.engine.remove(shared.id).then(() => shared.watchdog.release())
    await endWithin(SHARED_REMOVAL_MS, removal, () =>
      shared.reporter.notice(`mindbg: the engine did not confirm the end of ${shared.name} within ${SHARED_REMOVAL_MS / 1000} s; its watchdog ends it once the engine answers again`),
    ).catch(() => {}) // refused: the watchdog is still armed, and removes it once this process is gone
  }
}

/** How long the end of a run waits for the engine to remove its shared debugger (it exits on its own already). */
const SHARED_REMOVAL_MS = 5000

/** Why a sidecar is an orphan, or undefined if it may still belong to a live session. */
export function orphanReason(s: Pick<SidecarSummary, 'state' | 'targetState' | 'shared'>): string | undefined {
  if (s.shared && s.targetState === 'gone') return 'its run ended'
  if (s.targetState === 'gone') return 'target removed'
  if (s.state !== 'running') return `sidecar ${s.state}`
  if (s.targetState !== 'running') return `target ${s.targetState}`
  return undefined
}

/** A sidecar container: created by this session, or found again by name. */
class DockerDebugger implements Debugger {
  readonly runtime = 'docker'
  /** It has exited (the engine's AutoRemove removes it), or we removed it. */
  private removed = false
  /** mindbg is ending it: a kill seen from now on is ours. */
  ending = false
  private left = false
  /** It runs the step server of attach --detach. */
  serves = false
  /** Its step server's streams, where the engine keeps its stdin open across attaches (Docker). */
  serve: (() => Promise<ServeLink>) | undefined

  constructor(
    private readonly engine: DockerEngine,
    private readonly id: string,
    readonly name: string,
    readonly image: string,
    readonly target: DockerTarget | undefined,
    readonly fresh: boolean,
    readonly streams: StreamMode,
    /** None for a serving debugger found again: nothing removes it when this process dies. */
    private readonly watchdog: Watchdog | undefined,
    private readonly engineKind: EngineKind,
    readonly notice: string | undefined,
    /** Settles once the sidecar may start (mindbg-init copied in). */
    readonly ready: Promise<void> = Promise.resolve(),
  ) {}

  async attach(_signal: AbortSignal, reporter: Reporter): Promise<DebuggerLink> {
    // Podman creates the container's process (runc create) when a client attaches to it, so mindbg-init must be in
    // place by then; and what fails there (a command that cannot run) fails the attach, not the start.
    if (this.engineKind === 'podman') await this.ready
    let socket: Duplex
    try {
      socket = await this.engine.attach(this.id, {stdin: this.streams.stdin, detachKeys: this.streams.detachKeysSpec})
    } catch (error) {
      throw startError(error)
    }
    return new DockerLink(this, this.engine, this.id, socket, this.streams, this.engineKind, reporter)
  }

  /**
   * It has exited, and the engine removes it (AutoRemove: dockerd itself, Podman's conmon): nothing is left to do but
   * let the watchdog go.
   */
  markExited(): void {
    this.removed = true
  }

  async end(): Promise<void> {
    if (this.left) return
    this.ending = true
    if (!this.removed) {
      try {
        await this.engine.remove(this.id)
        this.removed = true
      } catch {
        // The watchdog is still armed and will remove it once we are gone.
        return
      }
    }
    this.watchdog?.release()
  }

  leave(): string {
    this.left = true
    this.watchdog?.release()
    // Not `docker rm -f`: that kills the shell and its init at once, and in the target's PID namespace the shell is
    // then left to the target's PID 1, which may never reap it (a zombie); --end stops it with a grace period first.
    return `mindbg: detached from ${this.name}; it keeps running.\nRe-attach: mindbg attach --session ${this.name}\nEnd it:    mindbg attach --session ${this.name} --end`
  }

  async attachServer(): Promise<ServeLink> {
    let socket: Duplex
    try {
      // No terminal: the engine applies no detach keys, the requests pass as they are.
      socket = await this.engine.attach(this.id, {stdin: true})
    } catch (error) {
      if (isGone(error)) throw sessionNotFound(this.name, 'has just ended')
      throw dockerError(error)
    }
    const output = new DebuggerOutput(socket)
    const demux = new StdDemuxer((stream, payload) => output.push(stream, payload))
    socket.on('data', (chunk: Buffer) => demux.push(chunk))
    for (const event of ['end', 'close', 'error']) socket.once(event, () => output.end())
    return {stdout: output.stdout, stderr: output.stderr, input: socket, close: () => socket.destroy()}
  }

  exec(command: string[], streams: StreamMode): Debugger {
    return new DockerExec(this.engine, this.id, this.name, this.image, this.target, command, streams)
  }

  async targetGone(): Promise<boolean> {
    if (!this.target) return false
    try {
      const info = await this.engine.inspectContainer(this.target.id)
      return !info.State.Running
    } catch {
      return true
    }
  }
}

/**
 * How much input may wait while a write to the engine is in flight: with Writable's default (16 kB), every 64 kB chunk
 * of stdin paused the reader until the socket took it (200 MB of piped input: ~3x the docker CLI's time).
 */
export const INPUT_BUFFER = 1024 * 1024

/** The hijacked attach stream of a sidecar, with the wait for its end armed before it starts. */
class DockerLink implements DebuggerLink {
  readonly stdout: Readable
  readonly stderr: Readable
  readonly input: Writable | undefined
  readonly inputSocketFd: number | undefined
  readonly exited: Promise<number>
  /** The engine has the wait for the end: a command that ends at once cannot be removed before it is asked. */
  private readonly waitRegistered: Promise<void>
  private readonly waitAbort = new AbortController()
  /** Resolved when the engine reports a SIGKILL of the sidecar that mindbg did not send (docker kill, rm -f). */
  private markKilledOutside: () => void = () => {}
  private readonly killedOutside = new Promise<void>((resolve) => (this.markKilledOutside = resolve))
  private outsideKill = false
  private readonly eventsAbort = new AbortController()
  /** The exit code of the engine's die event for the sidecar (Docker): it comes before the wait's answer. */
  private markDied: (code: number) => void = () => {}
  private readonly died = new Promise<number>((resolve) => (this.markDied = resolve))

  constructor(
    private readonly sidecar: DockerDebugger,
    private readonly engine: DockerEngine,
    private readonly id: string,
    private readonly socket: Duplex,
    streams: StreamMode,
    private readonly engineKind: EngineKind,
    reporter: Reporter,
  ) {
    this.watch(reporter)
    const output = new DebuggerOutput(socket)
    this.stdout = output.stdout
    this.stderr = output.stderr
    const demux = streams.tty ? undefined : new StdDemuxer((stream, payload) => output.push(stream, payload))
    socket.on('data', (chunk: Buffer) => (demux ? demux.push(chunk) : output.push('stdout', chunk)))
    const ended = (): void => {
      // A frame the engine left unfinished is shown as it is rather than dropped.
      if (demux && demux.pendingBytes > 0) output.push('stderr', Buffer.from(`mindbg: the engine cut the output short (${demux.pendingBytes} bytes of an unfinished frame)\n`))
      output.end()
    }
    socket.once('end', ended)
    socket.once('close', ended)
    socket.once('error', ended)
    this.input = streams.stdin ? socketInput(socket) : undefined
    this.inputSocketFd = streams.stdin ? ownSocketFd(socket) : undefined
    // The exit code as soon as the command has ended; the removal (AutoRemove, the engine's own) is left to finish on
    // its own, as a script can rely on: by the time mindbg exits, the sidecar runs no more (README, "What a script
    // can rely on"). "next-exit" is armed before the start, so a command that ends at once cannot be missed.
    const wait = engine.waitContainer(id, 'next-exit', this.waitAbort.signal)
    // Bounded: an engine that answers a wait only at the end (a Podman that does not flush its headers) must not
    // keep the start waiting for an end that cannot come before it.
    this.waitRegistered = Promise.race([wait.registered.catch(() => {}), new Promise<void>((r) => setTimeout(r, WAIT_REGISTER_MS).unref())])
    // Podman's compatible wait polls the container every ~250 ms; the end of the attach stream comes with the exit,
    // and one inspect then has the code (undefined: still running, e.g. its output closed; the wait tells). Docker's
    // die event, with the same exit code, comes ~10-15 ms before its answer to the wait (traced, BENCHMARKS.md): the
    // first of the two has it.
    const endedEarly =
      engineKind === 'podman'
        ? new Promise<void>((resolve) => socket.once('close', resolve)).then(() =>
            engine.exitCode(id).then(
              (code) => code ?? new Promise<number>(() => {}),
              () => new Promise<number>(() => {}),
            ),
          )
        : this.died
    this.exited = Promise.race([wait.result, endedEarly]).then(
      (code) => {
        this.waitAbort.abort()
        sidecar.markExited()
        return code
      },
      (error: unknown) => {
        throw dockerError(error)
      },
    )
    // A link closed before anyone waited on its end (a stop while the attach was under way) aborts the wait: that is
    // our own cancel, not a failure that may end the process as an unhandled rejection.
    this.exited.catch(() => {})
  }

  /** Tells the user when the target is paused or unpaused mid-session, notes a kill of the sidecar from outside and its death. */
  private watch(reporter: Reporter): void {
    const target = this.sidecar.target
    const actions = ['kill', 'pause', 'unpause', ...(this.engineKind === 'docker' ? ['die'] : [])]
    this.engine.watchEvents([this.id, ...(target ? [target.id] : [])], actions, this.eventsAbort.signal, (event) => {
      if (event.id === this.id) {
        const code = event.action === 'die' ? event.attributes.exitCode : undefined
        if (code !== undefined && /^\d+$/.test(code)) this.markDied(Number(code))
        if (event.action === 'kill' && event.attributes.signal === '9' && !this.sidecar.ending) {
          this.outsideKill = true
          this.markKilledOutside()
        }
      } else if (target && event.action === 'pause') {
        reporter.notice(`mindbg: ${target.name} was paused (${this.engineKind} pause): its processes are frozen, this session's are not; ${this.engineKind} unpause ${target.name} resumes it`)
      } else if (target && event.action === 'unpause') {
        reporter.notice(`mindbg: ${target.name} was unpaused and runs again`)
      }
    })
  }

  async start(): Promise<void> {
    await Promise.all([this.waitRegistered, this.sidecar.ready])
    try {
      await this.engine.start(this.id)
    } catch (error) {
      throw startError(error)
    }
  }

  resize(size: {rows: number; columns: number}): void {
    this.engine.resize(this.id, size).catch(() => {})
  }

  close(): void {
    // Removing the sidecar (Debugger.end) ends its processes; a detach leaves it running.
    this.waitAbort.abort()
    this.eventsAbort.abort()
    this.socket.destroy()
  }

  async checkTarget(exitCode: number): Promise<void> {
    try {
      await this.explainExit(exitCode)
    } finally {
      this.eventsAbort.abort()
    }
  }

  private async explainExit(exitCode: number): Promise<void> {
    if (exitCode === 137 && !this.outsideKill) {
      // The kill event travels on another connection than the exit: give it a moment to arrive.
      await Promise.race([this.killedOutside, new Promise((r) => setTimeout(r, 300))])
    }
    if (this.outsideKill) {
      const name = this.sidecar.name
      const tool = this.engineKind
      throw new MindbgError('debuggerKilled', `the sidecar ${name} was killed from outside mindbg (${tool} kill or ${tool} rm -f) during the session`, `Whoever ran it can say why; ${tool} events --filter container=${name} shows it while it happens.`)
    }
    // A dying target takes the sidecar's processes with it (shared PID namespace): they end by a signal.
    const target = this.sidecar.target
    if (target && exitCode >= 128 && (await this.sidecar.targetGone())) {
      throw new MindbgError('targetStopped', `target ${target.name} stopped during the session; the sidecar was removed`, `See why with: ${this.engineKind} logs ${target.name}`)
    }
  }
}

/**
 * What an exec runs: its shell's PID first, on a line of its own (taken out of the output, for end()), then the
 * command under mindbg-init where the sidecar has it (no zombie left in the target). The serving debugger's ttl
 * (MINDBG_TIMEOUT_MS in its environment) is its own, not the command's.
 */
const EXEC_WRAPPER = `echo $$; unset MINDBG_TIMEOUT_MS; [ -x ${INIT_PATH} ] && exec ${INIT_PATH} "$@"; exec "$@"`

/**
 * A target's session in the run's shared debugger (run --shared-debugger): a session of its mindbg-init --mux, which
 * runs the command under `mindbg-init --enter PID` in the target's namespaces. Not fresh: nothing to start.
 */
class SharedSession implements Debugger {
  readonly runtime = 'docker'
  readonly fresh = false
  readonly notice = undefined
  private link: MuxLink | undefined

  constructor(
    private readonly mux: Mux,
    readonly name: string,
    readonly image: string,
    readonly target: DockerTarget,
    private readonly command: string[],
    readonly streams: StreamMode,
    private readonly env: string[],
  ) {}

  async attach(): Promise<DebuggerLink> {
    this.link = this.mux.open(this.target.pid, this.env, this.command)
    return this.link
  }

  async end(): Promise<void> {
    const link = this.link
    if (!link || link.ended) return
    link.signal()
    await Promise.race([link.exited.catch(() => {}), new Promise((r) => setTimeout(r, 3000).unref())])
  }

  leave(): string {
    return `mindbg: the session in ${this.name} ends with the run`
  }
}

/** A command run in a live sidecar by the engine (docker exec): a debugger of its own whose end() ends only it. */
class DockerExec implements Debugger {
  readonly runtime = 'docker'
  readonly fresh = false
  readonly notice = undefined
  /** The wrapper's PID in the sidecar, once it has said it. */
  pid: number | undefined
  exited = false

  constructor(
    private readonly engine: DockerEngine,
    private readonly container: string,
    readonly name: string,
    readonly image: string,
    readonly target: DockerTarget | undefined,
    private readonly command: string[],
    readonly streams: StreamMode,
  ) {}

  async attach(): Promise<DebuggerLink> {
    const consoleSize = this.streams.tty && this.streams.consoleSize ? ([this.streams.consoleSize.rows, this.streams.consoleSize.columns] as [number, number]) : undefined
    try {
      const exec = await this.engine.createExec(this.container, {Cmd: ['sh', '-c', EXEC_WRAPPER, 'mindbg-exec', ...this.command], AttachStdin: this.streams.stdin, Tty: this.streams.tty, ConsoleSize: consoleSize})
      const socket = await this.engine.startExec(exec, {tty: this.streams.tty, consoleSize})
      return new DockerExecLink(this, this.engine, exec, socket, this.streams)
    } catch (error) {
      if (isGone(error) || httpStatus(error) === 409) throw sessionNotFound(this.name, 'has just ended')
      throw startError(error)
    }
  }

  async end(): Promise<void> {
    if (this.exited || this.pid === undefined) return
    // The engine has no kill for an exec: a second one sends the SIGTERM (mindbg-init then ends what it started).
    const kill = new DockerExec(this.engine, this.container, this.name, this.image, this.target, ['kill', '-TERM', String(this.pid)], {...this.streams, stdin: false, tty: false})
    const link = await kill.attach().catch(() => undefined)
    if (!link) return
    link.stdout.resume()
    link.stderr.resume()
    await Promise.race([link.exited.catch(() => {}), new Promise((r) => setTimeout(r, 3000).unref())])
  }

  leave(): string {
    return `mindbg: detached; the command keeps running in ${this.name}`
  }
}

/** An exec's hijacked streams, as DockerLink's, less the wrapper's first line; its exit code from the exec's inspect. */
class DockerExecLink implements DebuggerLink {
  readonly stdout: Readable
  readonly stderr: Readable
  readonly input: Writable | undefined
  readonly inputSocketFd: number | undefined
  readonly exited: Promise<number>
  private closed = false

  constructor(
    exec: DockerExec,
    private readonly engine: DockerEngine,
    private readonly execId: string,
    private readonly socket: Duplex,
    streams: StreamMode,
  ) {
    const output = new DebuggerOutput(socket)
    this.stdout = output.stdout
    this.stderr = output.stderr
    let first: Buffer | undefined = Buffer.alloc(0)
    const push = (stream: 'stdout' | 'stderr', payload: Buffer): void => {
      if (stream === 'stdout' && first) {
        const all = Buffer.concat([first, payload])
        const newline = all.indexOf(0x0a)
        if (newline < 0) return void (first = all)
        exec.pid = Number(all.subarray(0, newline).toString('latin1').trim()) || undefined
        first = undefined
        payload = all.subarray(newline + 1)
      }
      output.push(stream, payload)
    }
    const demux = streams.tty ? undefined : new StdDemuxer(push)
    socket.on('data', (chunk: Buffer) => (demux ? demux.push(chunk) : push('stdout', chunk)))
    const closed = new Promise<void>((resolve) => {
      for (const event of ['end', 'close', 'error']) {
        socket.once(event, () => {
          output.end()
          resolve()
        })
      }
    })
    this.input = streams.stdin ? socketInput(socket) : undefined
    this.inputSocketFd = streams.stdin ? ownSocketFd(socket) : undefined
    this.exited = closed.then(async () => {
      // The stream ends with the command; the engine may take a moment more to record its exit code.
      for (let tries = 0; tries < 200 && !this.closed; tries++) {
        const state = await engine.inspectExec(execId)
        if (!state.Running) {
          exec.exited = true
          return state.ExitCode ?? 0
        }
        await new Promise((r) => setTimeout(r, 10))
      }
      return new Promise<number>(() => {})
    })
    this.exited.catch(() => {})
  }

  async start(): Promise<void> {}

  resize(size: {rows: number; columns: number}): void {
    this.engine.resizeExec(this.execId, size).catch(() => {})
  }

  close(): void {
    this.closed = true
    this.socket.destroy()
  }

  async checkTarget(): Promise<void> {}
}

/**
 * The descriptor of a hijacked stream's socket, where another process may write into it: a plain socket of node:net
 * (the engine's unix socket, or tcp:// without TLS) with nothing of a request still queued on it; not a TLS socket,
 * nor dockerode's streams (ssh://).
 */
function ownSocketFd(socket: Duplex): number | undefined {
  const {Socket} = process.getBuiltinModule('node:net')
  if (!(socket instanceof Socket) || 'encrypted' in socket || socket.writableLength > 0) return undefined
  const fd = (socket as unknown as {_handle?: {fd?: unknown}})._handle?.fd
  return typeof fd === 'number' && fd >= 0 ? fd : undefined
}

/** The input of a hijacked stream, with backpressure; its end is the end of the command's stdin (a half-close). */
function socketInput(socket: Duplex): Writable {
  return new Writable({
    highWaterMark: INPUT_BUFFER,
    write: (chunk: Buffer, _encoding, done) => {
      if (socket.destroyed) return done()
      socket.write(chunk, () => done())
    },
    // What piled up during a write goes out in one writev(2).
    writev: (chunks, done) => {
      if (socket.destroyed) return done()
      socket.cork()
      chunks.forEach(({chunk}, i) => socket.write(chunk as Buffer, i === chunks.length - 1 ? () => done() : undefined))
      socket.uncork()
    },
    final: (done) => {
      if (!socket.destroyed) socket.end()
      done()
    },
  })
}

/** The target of a serving debugger as its labels record it, when nothing more is needed to run a command in it. */
function servedTarget(labels: Record<string, string>): DockerTarget | undefined {
  const id = labels[LABEL.target]
  if (!id) return undefined
  const name = labels[LABEL.targetName] ?? id.slice(0, 12)
  return {runtime: 'docker', id, name, ref: name, image: '', imageId: '', state: 'running', stateDetail: 'running', stateMessage: '', stateHint: '', user: '', env: [], pidMode: '', ipcMode: '', pid: 0, labels: {}}
}

/** How long start waits for the engine to take the wait for the sidecar's end (Docker: a few ms). */
const WAIT_REGISTER_MS = 2000

/**
 * mindbg-init as a file to bind-mount, when the engine can be expected to see this machine's files: a local socket,
 * no SELinux in the way (a file not labelled for containers cannot be executed in one). Podman creates a missing
 * bind source as an empty directory on its host instead of refusing it, so it gets the file only when its own file
 * for the target is seen here too; Docker refuses a missing source at create, and create() then copies the init.
 */
function initMountSource(engine: DockerEngine, kind: EngineKind, target: DockerTarget, arch: InitArch): string | undefined {
  if (!engine.local || selinuxEnforcing()) return undefined
  if (kind === 'podman' && !(target.enginePath && existsSync(target.enginePath))) return undefined
  return initHostPath(arch)
}

function selinuxEnforcing(): boolean {
  try {
    return readFileSync('/sys/fs/selinux/enforce', 'utf8').trim() === '1'
  } catch {
    return false
  }
}

function withoutInitMount(spec: Dockerode.ContainerCreateOptions): Dockerode.ContainerCreateOptions {
  const {Mounts: _mounts, ...hostConfig} = spec.HostConfig ?? {}
  return {...spec, HostConfig: hostConfig}
}

/** linux/arm64 matches linux/arm64/v8 and the other way round: a variant left out is any variant. */
function samePlatform(have: string | undefined, want: string): boolean {
  if (!have) return false
  const [a, b] = [have.split('/'), want.split('/')]
  return a[0] === b[0] && a[1] === b[1] && (a[2] === undefined || b[2] === undefined || a[2] === b[2])
}

/** The target's user as uid[:gid], looked up in its own /etc/passwd and /etc/group when it is a name. */
async function numericUser(engine: DockerEngine, target: DockerTarget): Promise<string> {
  const [name = '', group] = target.user.split(':')
  if (name === '' || (/^\d+$/.test(name) && (group === undefined || /^\d+$/.test(group)))) return target.user
  const lookup = async (file: string, key: string): Promise<string[] | undefined> =>
    (await engine.readFile(target.id, file))
      ?.toString('utf8')
      .split('\n')
      .map((line) => line.split(':'))
      .find((fields) => fields[0] === key)
  const passwd = /^\d+$/.test(name) ? undefined : await lookup('/etc/passwd', name)
  const uid = /^\d+$/.test(name) ? name : passwd?.[2]
  if (uid === undefined) return target.user // the engine will say it cannot find the user
  const gid = group === undefined ? passwd?.[3] : /^\d+$/.test(group) ? group : (await lookup('/etc/group', group))?.[2]
  return gid === undefined ? uid : `${uid}:${gid}`
}

/** image://REF before anything is asked: a target that never runs, debugged through a stand-in made from the image. */
function imageTarget(image: string): DockerTarget {
  return {
    runtime: 'docker',
    id: image,
    name: image,
    ref: `image://${image}`,
    image,
    imageId: image,
    state: 'stopped',
    stateDetail: 'an image',
    stateMessage: `${image} is an image, not a container`,
    stateHint: 'Debug a container made from it: mindbg attach image://' + image,
    user: '',
    env: [],
    pidMode: '',
    ipcMode: '',
    pid: 0,
    labels: {},
    fromImage: true,
  }
}

/** The twin of the first tag that has one; the first tag's error when none has. */
function firstTwin(images: string[], mappings: DebuggerRequest['siblingMappings']): ReturnType<typeof siblingImage> {
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

function sessionNotFound(session: string, why: string): MindbgError {
  return new MindbgError('sessionNotFound', `session ${session}: ${why}`, 'List live sidecars with: mindbg ls')
}

function createError(error: unknown, name: string, image: string, tool: EngineKind): MindbgError {
  const status = httpStatus(error)
  // Docker answers 409; Podman 500 with "the container name ... is already in use by ...".
  if (status === 409 || /name .* is already in use/i.test(engineMessage(error))) {
    return usageError(`the name ${name} is already in use`, `Pick another --name, or remove the old container (${tool} rm -f ${name}, or mindbg prune for a sidecar).`)
  }
  if (status === 404) return new MindbgError('imageUnavailable', `image ${image} disappeared before the sidecar was created`, 'Run the command again.')
  // Socket-level failures (engine gone, permission) keep their own translation.
  if (typeof (error as {code?: unknown}).code === 'string') return dockerError(error)
  return new MindbgError('sidecarFailed', `the engine refused the sidecar: ${engineMessage(error)}`, 'Check the flags against the target (rerun with --debug for details).', {cause: error})
}

function startError(error: unknown): MindbgError {
  const message = engineMessage(error)
  if (/executable file not found|no such file or directory/i.test(message)) {
    return new MindbgError('commandNotFound', `cannot run the command in the sidecar: ${message}`, 'The debug image lacks it; use --image with an image that has it.')
  }
  if (/permission denied/i.test(message)) return new MindbgError('commandNotExecutable', `cannot run the command in the sidecar: ${message}`)
  if (typeof (error as {code?: unknown}).code === 'string') return dockerError(error)
  return new MindbgError('sidecarFailed', `the sidecar did not start: ${message}`, 'Check the flags against the target (rerun with --debug for details).', {cause: error})
}
