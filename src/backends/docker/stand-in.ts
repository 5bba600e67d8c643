import type Dockerode from 'dockerode'

import {MindbgError} from '../../domain/errors.js'
import type {Reporter} from '../../domain/reporter.js'
import {printable} from '../../domain/printable.js'
import type {DebuggerRequest} from '../../domain/request.js'
import type {PrunedDebugger, StandIn} from '../backend.js'
import {initArch} from '../init.js'
import {StdDemuxer} from './demux.js'
import type {DockerEngine} from './engine.js'
import {engineMessage, guard} from './errors.js'
import {initArchive, INIT_PATH} from './init.js'
import {type DockerTarget, LABEL, sidecarName} from './spec.js'
import {startWatchdog, type Watchdog} from './watchdog.js'

/** Snapshots are tagged mindbg-snapshot:<stand-in name>, so that a reaper can find one by name after a SIGKILL. */
const SNAPSHOT_REPOSITORY = 'mindbg-snapshot'
/** How many of a stopped target's last log lines are shown before the session. */
const LAST_LOG_LINES = 5

/** What the stand-in takes from the target: its image config, its volumes. */
export interface StandInSource {
  image: string
  env: string[]
  user: string
  workdir: string
  mounts: Array<Pick<Dockerode.ContainerInspectInfo['Mounts'][number], 'Type' | 'Name' | 'Source' | 'Destination'>>
}

/**
 * Pure: the create request of a stand-in. Its only process is mindbg-init --hold, so a debugger has a PID namespace to
 * join and the stand-in's filesystem at /proc/1/root. No network (a stopped container has none to share), volumes and
 * bind mounts where they were, read-only unless asked, and nothing that restarts it.
 */
export function buildStandInSpec(target: DockerTarget, source: StandInSource, name: string, writableVolumes: boolean): Dockerode.ContainerCreateOptions {
  const mounts = source.mounts.flatMap((m): Dockerode.MountSettings[] => {
    const readOnly = !writableVolumes
    if (m.Type === 'volume' && m.Name) return [{Type: 'volume', Source: m.Name, Target: m.Destination, ReadOnly: readOnly}]
    if (m.Type === 'bind') return [{Type: 'bind', Source: m.Source, Target: m.Destination, ReadOnly: readOnly}]
    // A tmpfs held nothing once the container stopped; other kinds (npipe, cluster) do not occur on Linux engines.
    return []
  })
  const spec: Dockerode.ContainerCreateOptions = {
    name,
    Image: source.image,
    Entrypoint: [INIT_PATH, '--hold'],
    Cmd: [],
    Env: source.env,
    Labels: {[LABEL.standIn]: 'true', [LABEL.target]: target.id, [LABEL.targetName]: target.name},
    StopSignal: 'SIGTERM',
    HostConfig: {NetworkMode: 'none', IpcMode: 'shareable', RestartPolicy: {Name: 'no'}, Mounts: mounts},
  }
  if (source.user) spec.User = source.user
  if (source.workdir) spec.WorkingDir = source.workdir
  return spec
}

/** Things made for a stand-in, removed in reverse order, each guarded by its own watchdog until then. */
class Made {
  private readonly undo: Array<() => Promise<void>> = []

  constructor(private readonly engine: DockerEngine) {}

  /** Runs `make` under a watchdog for `what`, which from then on is removed by end(), or by the watchdog. */
  async track<R>(what: {container: string} | {image: string}, make: () => Promise<R>): Promise<R> {
    const watchdog: Watchdog = startWatchdog(what)
    watchdog.creating()
    let made: R
    try {
      made = await make()
    } catch (error) {
      // The request may have been carried out all the same: look once, and let the watchdog go only then.
      await this.remove(what).then(() => watchdog.release(), () => {})
      throw error
    }
    watchdog.created()
    this.undo.push(async () => {
      await this.remove(what)
      watchdog.release()
    })
    return made
  }

  private async remove(what: {container: string} | {image: string}): Promise<void> {
    if ('container' in what) return this.engine.remove(what.container, 2)
    try {
      await (await this.engine.api()).getImage(what.image).remove()
    } catch (error) {
      if ((error as {statusCode?: number}).statusCode !== 404) throw error
    }
  }

  async end(): Promise<void> {
    // What cannot be removed now is left to its watchdog, still armed.
    for (const undo of this.undo.splice(0).reverse()) await undo().catch(() => {})
  }
}

/**
 * A stopped, exited, created or restarting container (a snapshot of its filesystem, its writable layer included), or
 * an image (`image://REF`), as a running stand-in that a sidecar joins as if it were the target. The original is not
 * touched: a commit without pause reads its layers and writes a new image (a restart loop goes on meanwhile).
 */
export async function startStandIn(engine: DockerEngine, target: DockerTarget, request: DebuggerRequest, reporter: Reporter): Promise<StandIn<DockerTarget>> {
  const name = `${sidecarName(target.name)}-fs`
  const made = new Made(engine)
  try {
    let source: StandInSource
    let notice: string
    if (target.fromImage) {
      await guard(engine.ensureImage(target.image, request.pull, reporter))
      const info = await guard((await engine.api()).getImage(target.image).inspect())
      source = {image: info.Id, env: info.Config.Env ?? [], user: info.Config.User ?? '', workdir: info.Config.WorkingDir ?? '', mounts: []}
      notice = `mindbg: ${target.image} is an image: this session is on a container made from it (no network, no volumes), removed at the end`
    } else {
      if (request.stopRestarts && target.state === 'restarting') await holdRestarts(engine, target, reporter)
      const info = await guard((await engine.api()).getContainer(target.id).inspect())
      for (const line of await lastRun(engine, info)) reporter.notice(line)
      const snapshot = `${SNAPSHOT_REPOSITORY}:${name}`
      const api = await engine.api()
      await made.track({image: snapshot}, () =>
        guard(
          api.getContainer(target.id).commit({
            repo: SNAPSHOT_REPOSITORY,
            tag: name,
            pause: false,
            comment: `mindbg: a snapshot of ${target.name} for a debug session`,
            changes: `LABEL ${LABEL.snapshot}=true`,
          }),
        ),
      )
      source = {image: snapshot, env: info.Config.Env ?? [], user: info.Config.User ?? '', workdir: info.Config.WorkingDir ?? '', mounts: info.Mounts ?? []}
      notice =
        `mindbg: ${target.name} ${target.state === 'restarting' ? (request.stopRestarts ? 'was restarting (now held)' : 'is restarting') : `is not running (${target.stateDetail})`}: this session is on a snapshot of its filesystem (its writable layer included), ` +
        `with its volumes ${request.writableVolumes ? 'writable' : 'read-only'}; the container itself is untouched`
    }
    const platform = await engine.imagePlatform(source.image)
    const arch = initArch(platform)
    const init = arch && initArchive(arch)
    if (!init) throw new MindbgError('sidecarFailed', `this build has no mindbg-init for ${platform || 'the platform of ' + target.image}, which a stand-in for a target that is not running needs`, 'Debug it on an amd64 or arm64 engine.')
    const spec = buildStandInSpec(target, source, name, request.writableVolumes)
    const api = await engine.api()
    const holder = await made.track({container: name}, () => guard(api.createContainer(spec)))
    await guard(engine.putArchive(holder.id, init, '/'))
    try {
      await holder.start()
    } catch (error) {
      throw new MindbgError('sidecarFailed', `the stand-in for ${target.name} did not start: ${engineMessage(error)}`, 'Rerun with --debug for the engine\'s words.', {cause: error})
    }
    const running = await guard(holder.inspect())
    const standIn: DockerTarget = {
      ...target,
      id: running.Id,
      user: source.user,
      env: source.env,
      pidMode: '',
      ipcMode: 'shareable',
      pid: running.State.Pid,
      state: 'running',
      stateDetail: 'running',
      stateMessage: `${target.name} is running`,
      stateHint: '',
    }
    return {target: standIn, notice, end: () => made.end()}
  } catch (error) {
    await made.end()
    throw error
  }
}

/** How long --stop-restarts waits for a run of the loop that is under way to end by itself. */
const HOLD_WAIT_MS = 30_000
const HOLD_SETTLE_MS = 300

/**
 * --stop-restarts: the restart policy becomes "no", so the loop ends with the current run (never killed by mindbg);
 * the policy is left so, since putting it back would start the loop again: the user is told how.
 */
async function holdRestarts(engine: DockerEngine, target: DockerTarget, reporter: Reporter): Promise<void> {
  const container = (await engine.api()).getContainer(target.id)
  const before = await guard(container.inspect())
  const policy = before.HostConfig.RestartPolicy
  // Podman's compatible API (4.x) cannot change a restart policy (no /containers/{id}/update): said as such, not as
  // the 404 it answers.
  if ((await engine.kind()) === 'podman') {
    throw new MindbgError('targetNotDebuggable', `--stop-restarts: Podman cannot change the restart policy of ${target.name}`, `Stop its loop yourself (podman stop ${target.name}), then debug it stopped: mindbg attach ${target.name}; or leave the loop running and attach without --stop-restarts.`)
  }
  await guard(container.update({RestartPolicy: {Name: 'no'}}))
  const deadline = Date.now() + HOLD_WAIT_MS
  // Stopped twice in a row, HOLD_SETTLE_MS apart: between a run's end and the restart it had already scheduled, the
  // engine shows it exited for a moment.
  let stoppedSince: number | undefined
  for (;;) {
    const now = await guard(container.inspect())
    if (now.State.Running || now.State.Restarting) stoppedSince = undefined
    else if (stoppedSince === undefined) stoppedSince = Date.now()
    else if (Date.now() - stoppedSince >= HOLD_SETTLE_MS) break
    if (Date.now() > deadline) {
      throw new MindbgError('targetNotDebuggable', `${target.name} still runs ${HOLD_WAIT_MS / 1000} s after its restarts were stopped`, `Its restart policy is now "no"; stop it with: ${await engine.cli()} stop ${target.name}`)
    }
    await new Promise((r) => setTimeout(r, 200))
  }
  const was = policy?.Name ? `${policy.Name}${policy.Name === 'on-failure' && policy.MaximumRetryCount ? `:${policy.MaximumRetryCount}` : ''}` : 'no'
  const tool = await engine.cli()
  reporter.notice(`mindbg: ${target.name}'s restarts are held (restart policy was ${was}, now no); resume them with: ${tool} update --restart ${was} ${target.name} && ${tool} start ${target.name}`)
}

/** How the target's last run ended, and its last log lines: what an SRE looks at first. */
async function lastRun(engine: DockerEngine, info: Dockerode.ContainerInspectInfo): Promise<string[]> {
  const s = info.State
  const name = info.Name.replace(/^\//, '')
  const finished = s.FinishedAt && !s.FinishedAt.startsWith('0001') ? ` at ${s.FinishedAt}` : ''
  const lines = [
    s.Status === 'created'
      ? `mindbg: ${name} was created and never started`
      : `mindbg: ${name} exited with code ${s.ExitCode}${finished}${s.OOMKilled ? ', killed for running out of memory (OOMKilled)' : ''}` +
        (info.RestartCount ? `; restarted ${info.RestartCount} times` : ''),
  ]
  const logs = await (await engine.api())
    .getContainer(info.Id)
    .logs({stdout: true, stderr: true, tail: LAST_LOG_LINES, follow: false})
    .catch(() => undefined)
  if (logs && logs.length > 0) {
    const text: Buffer[] = []
    if (info.Config.Tty) text.push(logs)
    else new StdDemuxer((_stream, payload) => text.push(payload)).push(logs)
    const last = Buffer.concat(text).toString('utf8').trimEnd().split('\n').slice(-LAST_LOG_LINES)
    lines.push(`mindbg: its last log lines (${await engine.cli()} logs ${name}):`, ...last.map((l) => `  ${printable(l)}`))
  }
  return lines
}

/** A stand-in that no debugger has joined for this long is left over, not about to be joined. */
const UNJOINED_GRACE_MS = 60_000

/**
 * Removes stand-ins that no session uses, then the snapshot images no container uses any more; without `all`, only
 * those older than a session's start-up (one may be about to be joined, or a stand-in made from it).
 */
export async function pruneStandIns(engine: DockerEngine, joined: Set<string>, all: boolean): Promise<PrunedDebugger[]> {
  const removed: PrunedDebugger[] = []
  const old = (createdSeconds: number): boolean => all || Date.now() - createdSeconds * 1000 >= UNJOINED_GRACE_MS
  const standIns = await (await engine.api()).listContainers({all: true, filters: {label: [`${LABEL.standIn}=true`]}})
  for (const c of standIns) {
    if ((!all && joined.has(c.Id)) || !old(c.Created)) continue
    await engine.remove(c.Id, 2)
    removed.push({name: c.Names[0]?.replace(/^\//, '') ?? c.Id.slice(0, 12), target: c.Labels[LABEL.targetName] ?? '', why: 'stand-in no debugger uses'})
  }
  const inUse = new Set((await (await engine.api()).listContainers({all: true})).map((c) => c.ImageID))
  // Listed after the removals above, so that a snapshot whose stand-in was just removed goes too.
  for (const image of await (await engine.api()).listImages({filters: {label: [`${LABEL.snapshot}=true`]}})) {
    if (inUse.has(image.Id) || !old(image.Created)) continue
    await (await engine.api()).getImage(image.Id).remove({force: true})
    removed.push({name: image.RepoTags?.[0] ?? image.Id.slice(7, 19), target: '', why: 'snapshot no stand-in uses'})
  }
  return removed
}
