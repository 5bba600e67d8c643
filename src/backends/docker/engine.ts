import type {Duplex, Readable} from 'node:stream'

import type Dockerode from 'dockerode'

import {deps, lazy} from '../../deps.js'
import {formatMs, parseDuration} from '../../domain/duration.js'
import {MindbgError} from '../../domain/errors.js'
import type {Reporter} from '../../domain/reporter.js'
import type {PullPolicy} from '../../domain/request.js'
import {readIdentity} from '../../domain/session.js'
import type {TargetState} from '../../domain/target.js'
import {parseImageReference} from '../../images/reference.js'
import {registryAuth} from '../../images/registry-auth.js'
import type {DebuggerSummary} from '../backend.js'
import {splitLines} from '../lines.js'
import {contextEndpoint} from './context.js'
import {engineAddress, engineMessage, httpStatus as status} from './errors.js'
import {type EngineHttp, type EngineResponse, ModemHttp, readJson, SocketHttp, unixSocket} from './http.js'
import {PullProgress} from './pull-progress.js'
import type {DockerTarget, EngineKind} from './spec.js'
import {identityLabel, LABEL} from './spec.js'

/**
 * Up again for a moment in a restart loop: it has restarted and its current run began less than this long ago. A
 * debugger made next to it now would most likely find it gone; it is debugged like a restarting one (a snapshot).
 */
const JUST_RESTARTED_MS = 1000

function crashLooping(info: Dockerode.ContainerInspectInfo): boolean {
  const started = Date.parse(info.State.StartedAt)
  return info.State.Running && info.RestartCount > 0 && Number.isFinite(started) && Date.now() - started < JUST_RESTARTED_MS
}

/** A sidecar as `mindbg ls` shows it. */
export interface SidecarSummary extends DebuggerSummary {
  runtime: 'docker'
  id: string
  /** The target's container ID. */
  targetId: string
  targetName: string
  profile: string
  /** A run's shared debugger (run --shared-debugger): no one target; targetState says whether its run is alive. */
  shared?: true
}

/** HOST:PID of this process, as a shared debugger's owner label records it. */
export const ownerLabel = (): string => `${process.getBuiltinModule('node:os').hostname()}:${process.pid}`

/** Whether the process an owner label names is alive: unknown (true) for another host's. */
function ownerAlive(owner: string): boolean {
  const [host, pid] = owner.split(':')
  if (host !== process.getBuiltinModule('node:os').hostname() || !pid) return true
  try {
    process.kill(Number(pid), 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** DOCKER_HOST as the docker CLI accepts it: unix://PATH, tcp://HOST:PORT, ssh://[USER@]HOST[:PORT], npipe://. */
export function checkDockerHost(host: string | undefined): void {
  if (host === undefined || host === '') return
  const bad = (why: string): MindbgError =>
    new MindbgError('usage', `DOCKER_HOST="${host}" ${why}`, 'Use unix:///var/run/docker.sock, tcp://HOST:2375 (2376 with TLS) or ssh://USER@HOST; or unset DOCKER_HOST.')
  const m = /^([a-z]+):\/\/(.*)$/.exec(host)
  if (!m) throw bad('has no scheme')
  const [, scheme, rest = ''] = m
  if (scheme === 'unix' || scheme === 'npipe') {
    if (!rest) throw bad('names no socket')
    return
  }
  if (scheme !== 'tcp' && scheme !== 'ssh' && scheme !== 'http' && scheme !== 'https') throw bad(`has an unknown scheme "${scheme}"`)
  const port = /:(\d*)\/?$/.exec(rest.replace(/^\[[^\]]*\]/, ''))?.[1]
  if (port !== undefined && (port === '' || Number(port) < 1 || Number(port) > 65535)) throw bad(`has an invalid port "${port}"`)
  if (!rest.replace(/^[^@]*@/, '').replace(/:\d*\/?$/, '')) throw bad('names no host')
}

/** One line of the engine's event stream, for a container. */
export interface ContainerEvent {
  action: string
  id: string
  attributes: Record<string, string>
}

/**
 * The container no longer exists: a 404, or Podman's 500 "... does not exist in database: no such container" for one
 * removed (AutoRemove) while the request was under way.
 */
export function isGone(error: unknown): boolean {
  return status(error) === 404 || /no such container/i.test(engineMessage(error))
}

/** How long a sidecar's processes have to end after SIGTERM before the engine kills them. */
export const STOP_GRACE_SECONDS = 2

/**
 * How long an engine may leave its first request (/_ping) unanswered, by default. A frozen engine (dockerd stopped
 * with SIGSTOP, deadlocked, its disk hung) accepts connections and never answers: without a bound every command
 * would wait for ever, and a runbook in a cron job with it. /_ping is answered at once by a loaded engine too.
 */
export const DEFAULT_ENGINE_TIMEOUT_MS = 30_000

/** MINDBG_ENGINE_TIMEOUT: a duration (30s, 2m), or 0 for no bound. */
export function engineTimeoutMs(env: NodeJS.ProcessEnv): number {
  const text = env.MINDBG_ENGINE_TIMEOUT?.trim()
  if (!text) return DEFAULT_ENGINE_TIMEOUT_MS
  return text === '0' ? 0 : parseDuration(text, 'MINDBG_ENGINE_TIMEOUT')
}

/** The engine answered nothing in time (only this stops other requests: any answer, an error too, shows it alive). */
class EngineSilent extends MindbgError {
  constructor(ms: number) {
    super(
      'engineUnreachable',
      `${engineAddress()} did not answer within ${formatMs(ms)}`,
      'The engine may be stopped or overloaded: check it with docker info (podman info). MINDBG_ENGINE_TIMEOUT sets the limit (0: none).',
    )
  }
}

function withinEngineTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  if (ms === 0) return work
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new EngineSilent(ms)), ms)
    // Nothing else may be left to wait for (a refused connection): the bound must not keep the process alive.
    timer.unref()
  })
  return Promise.race([work, late]).finally(() => clearTimeout(timer))
}

/**
 * Requests that fail as soon as the engine is found not to answer at all (`alive` rejects), rather than each
 * waiting on its own connection for ever; once it has answered, they are the requests as they are.
 */
function answering(http: EngineHttp, alive: () => Promise<unknown>): EngineHttp {
  const race = <T>(work: Promise<T>): Promise<T> => Promise.race([work, alive().then(() => work)])
  return {
    stream: (method, path, options) => race(http.stream(method, path, options)),
    hijack: (path, query, body) => race(http.hijack(path, query, body)),
  }
}

/** The Docker Engine API (also Podman's Docker-compatible service), as mindbg uses it. Connects lazily. */
export class DockerEngine {
  private kindPromise: Promise<EngineKind> | undefined

  /**
   * Reached over a unix socket on this Linux machine: the engine most likely sees this filesystem (mindbg-init can
   * be bind-mounted). Not certain: a socket passed into a container leads to the host's engine.
   */
  readonly local: boolean

  /** How long the first /_ping may go unanswered (MINDBG_ENGINE_TIMEOUT). */
  private readonly timeoutMs: number
  /** Every request but the liveness check itself: it fails as soon as that does (see answering()). */
  private readonly http: EngineHttp
  /**
   * dockerode, for what is off a session's hot path (pull, commit, archives, listings): loaded on first use, and
   * handed out once the engine has answered (a frozen one fails kind() in time, dockerode's requests never would).
   */
  readonly api: () => Promise<Dockerode>

  private constructor(
    private readonly direct: EngineHttp,
    loadApi: () => Promise<Dockerode>,
  ) {
    const host = process.env.DOCKER_HOST
    this.local = process.platform === 'linux' && (!host || host.startsWith('unix://'))
    // Read once, here: a bad value is a usage error of every command at its connect, not of whichever asks first.
    this.timeoutMs = engineTimeoutMs(process.env)
    const alive = (): Promise<void> =>
      this.kind().then(
        () => undefined,
        (error: unknown) => {
          if (error instanceof EngineSilent) throw error
        },
      )
    this.http = answering(direct, alive)
    this.api = async () => (await Promise.all([loadApi(), alive()]))[0]
  }

  static async connect(): Promise<DockerEngine> {
    // A docker context becomes DOCKER_HOST (and its TLS settings) for this process and the reaper it starts: where
    // docker-modem and the error messages look.
    const endpoint = contextEndpoint(process.env)
    for (const [key, value] of Object.entries(endpoint.env)) {
      if (value === undefined) delete process.env[key]
      else process.env[key] = value
    }
    checkDockerHost(process.env.DOCKER_HOST)
    const makeApi = async (): Promise<Dockerode> => {
      const Docker = await deps.dockerode()
      // docker-modem has no setting of its own for an unchecked certificate; an agent's options apply to every request.
      const options = endpoint.skipTLSVerify ? ({agent: new (await import('node:https')).Agent({rejectUnauthorized: false})} as Dockerode.DockerOptions) : undefined
      // DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH are honoured by docker-modem, which reads the certificates
      // right away.
      try {
        return new Docker(options)
      } catch (error) {
        const {code, path} = error as {code?: string; path?: string}
        if (code === 'ENOENT' && path) {
          throw new MindbgError(
            'engineUnreachable',
            `DOCKER_TLS_VERIFY is set but ${path} is missing`,
            'Point DOCKER_CERT_PATH at the directory holding ca.pem, cert.pem and key.pem, or unset DOCKER_TLS_VERIFY.',
            {cause: error},
          )
        }
        throw error
      }
    }
    const socket = unixSocket(process.env.DOCKER_HOST)
    if (socket !== undefined) return new DockerEngine(new SocketHttp(socket), lazy(makeApi))
    const api = await makeApi()
    return new DockerEngine(new ModemHttp(api.modem as ConstructorParameters<typeof ModemHttp>[0]), async () => api)
  }

  /**
   * A hijacked attach stream. Not dockerode's container.attach(): it also sends the options as a JSON body, which
   * Docker ignores but Podman hands to the container as the first bytes of its stdin. Here the options travel in
   * the query only and the body is empty (Content-Length: 0, as the docker CLI sends it).
   */
  attach(id: string, options: {stdin: boolean; detachKeys?: string | undefined}): Promise<Duplex> {
    return this.http.hijack(`/containers/${encodeURIComponent(id)}/attach`, {stream: true, stdin: options.stdin, stdout: true, stderr: true, detachKeys: options.detachKeys})
  }

  /** Creates an exec instance (docker exec), not started; its ID. */
  async createExec(id: string, spec: {Cmd: string[]; AttachStdin: boolean; Tty: boolean; ConsoleSize?: [number, number] | undefined}): Promise<string> {
    const res = await this.http.stream('POST', `/containers/${encodeURIComponent(id)}/exec`, {body: {...spec, AttachStdout: true, AttachStderr: true}})
    return (await readJson<{Id: string}>(res)).Id
  }

  /** Starts an exec instance; its hijacked streams, as an attach's. */
  startExec(execId: string, options: {tty: boolean; consoleSize?: [number, number] | undefined}): Promise<Duplex> {
    return this.http.hijack(`/exec/${encodeURIComponent(execId)}/start`, {}, {Detach: false, Tty: options.tty, ...(options.consoleSize ? {ConsoleSize: options.consoleSize} : {})})
  }

  async inspectExec(execId: string): Promise<{Running: boolean; ExitCode: number | null}> {
    return readJson(await this.http.stream('GET', `/exec/${encodeURIComponent(execId)}/json`))
  }

  async resizeExec(execId: string, size: {rows: number; columns: number}): Promise<void> {
    ;(await this.http.stream('POST', `/exec/${encodeURIComponent(execId)}/resize`, {query: {h: size.rows, w: size.columns}})).resume()
  }

  /**
   * The end of a container, under `condition` ("removed", "next-exit"): `registered` once the engine has the wait
   * (Docker sends the headers of its answer then, before the end), `result` the exit code. dockerode's wait() offers
   * only the latter, which lets a container that ends at once be removed before the wait reaches the engine (seen
   * over ssh://).
   */
  waitContainer(id: string, condition: string, signal: AbortSignal): {registered: Promise<void>; result: Promise<number>} {
    const response = this.http.stream('POST', `/containers/${encodeURIComponent(id)}/wait`, {query: {condition}, signal})
    const result = response.then(async (res) => {
      const answer = await readJson<{StatusCode?: number; Error?: {Message?: string} | null}>(res)
      if (answer?.Error?.Message) throw new Error(answer.Error.Message)
      return answer?.StatusCode ?? 0
    })
    return {registered: response.then(() => undefined), result}
  }

  /** A container as the engine shows it (GET /containers/ID/json). */
  async inspectContainer(id: string): Promise<Dockerode.ContainerInspectInfo> {
    return readJson<Dockerode.ContainerInspectInfo>(await this.http.stream('GET', `/containers/${encodeURIComponent(id)}/json`))
  }

  /** Creates a container; its ID. `platform` and `name` travel in the query, as the API has them. */
  async createContainer(spec: Dockerode.ContainerCreateOptions): Promise<string> {
    const {name, platform, ...body} = spec as Dockerode.ContainerCreateOptions & {platform?: string}
    const res = await this.http.stream('POST', '/containers/create', {query: {name, platform}, body})
    return (await readJson<{Id: string}>(res)).Id
  }

  async start(id: string): Promise<void> {
    ;(await this.http.stream('POST', `/containers/${encodeURIComponent(id)}/start`)).resume()
  }

  async resize(id: string, size: {rows: number; columns: number}): Promise<void> {
    ;(await this.http.stream('POST', `/containers/${encodeURIComponent(id)}/resize`, {query: {h: size.rows, w: size.columns}})).resume()
  }

  /**
   * Docker or Podman, from the headers of /_ping (Podman's service adds Libpod-Api-Version to every answer):
   * /_ping is answered at once, while /version makes dockerd ask containerd and runc (~12 ms on every attach).
   */
  kind(): Promise<EngineKind> {
    this.kindPromise ??= withinEngineTimeout(
      this.direct.stream('GET', '/_ping').then((res: EngineResponse) => {
        res.resume()
        const server = String(res.headers.server ?? '')
        return res.headers['libpod-api-version'] !== undefined || /libpod|podman/i.test(server) ? 'podman' : 'docker'
      }),
      this.timeoutMs,
    )
    return this.kindPromise
  }

  /** A container's exit code once it has exited; undefined while it runs (or has not started). */
  async exitCode(id: string): Promise<number | undefined> {
    const state = (await this.inspectContainer(id)).State
    return state.Status === 'exited' || state.Status === 'stopped' ? state.ExitCode : undefined
  }

  /** The engine's own command-line tool, for the hints: `podman ...` on Podman, `docker ...` otherwise. */
  cli(): Promise<EngineKind> {
    return this.kind().catch((): EngineKind => 'docker')
  }

  /** Finds the target by name, ID or unique ID prefix, in whatever state it is. */
  async inspectTarget(ref: string): Promise<DockerTarget> {
    let info: Dockerode.ContainerInspectInfo
    const cli = this.cli()
    try {
      info = await this.inspectContainer(ref)
    } catch (error) {
      if (status(error) === 404 || /multiple/i.test(engineMessage(error))) throw await this.explainMissing(ref, await cli)
      throw error
    }
    const tool = await cli
    const name = info.Name.replace(/^\//, '')
    const s = info.State
    const [state, stateDetail, stateHint]: [TargetState, string, string] = s.Paused
      ? ['paused', 'paused', `Unpause it first: ${tool} unpause ${name}`]
      : s.Restarting || crashLooping(info)
        ? ['restarting', `restarting, ${info.RestartCount} restarts`, `Wait until it runs, or look at why it restarts: ${tool} logs ${name}`]
        : s.Running
          ? ['running', 'running', '']
          : ['stopped', `${s.Status}, exit code ${s.ExitCode}`, `mindbg debugs running containers; start it with: ${tool} start ${name}`]
    const stateMessage = state === 'stopped' ? `${name} is not running (${stateDetail})` : `${name} is ${state}`
    const labels = info.Config.Labels ?? {}
    const target: DockerTarget = {
      runtime: 'docker',
      id: info.Id,
      name,
      ref: name,
      image: info.Config.Image,
      state,
      stateDetail,
      stateMessage,
      stateHint,
      imageId: info.Image,
      user: info.Config.User ?? '',
      env: info.Config.Env ?? [],
      pidMode: info.HostConfig.PidMode ?? '',
      ipcMode: info.HostConfig.IpcMode ?? '',
      pid: s.Pid,
      labels,
      enginePath: info.HostnamePath ?? '',
    }
    if (labels[LABEL.sidecar] === 'true') {
      target.isDebugger = {message: `${name} is itself a mindbg sidecar`, hint: `Debug its target instead: mindbg attach ${labels[LABEL.targetName] ?? '<target>'}`}
    }
    return target
  }

  /** Running containers with all of these labels (KEY=VALUE or KEY), mindbg's sidecars left out, by name. */
  async selectTargets(labels: string[]): Promise<DockerTarget[]> {
    const found = await (await this.api()).listContainers({filters: {label: labels, status: ['running']}})
    const targets = await Promise.all(found.filter((c) => c.Labels?.[LABEL.sidecar] !== 'true').map((c) => this.inspectTarget(c.Id).catch(() => undefined)))
    // Gone between the list and the inspect: not selected.
    return targets.filter((t): t is DockerTarget => t !== undefined && t.state === 'running').sort((a, b) => a.name.localeCompare(b.name))
  }

  private async explainMissing(ref: string, tool: EngineKind): Promise<MindbgError> {
    const all = await (await this.api()).listContainers({all: true})
    const matches = all.filter((c) => c.Id.startsWith(ref))
    if (matches.length > 1) {
      const names = matches.slice(0, 4).map((c) => c.Names[0]?.replace(/^\//, '') ?? c.Id.slice(0, 12))
      return new MindbgError('targetAmbiguous', `"${ref}" matches ${matches.length} containers (${names.join(', ')})`, 'Use a longer ID prefix or the container name.')
    }
    return new MindbgError('targetNotFound', `no container named or with ID "${ref}"`, `List running containers with: ${tool} ps (or mindbg ls for sidecars).`)
  }

  /**
   * Makes sure `image` is present, pulling it as `policy` allows. `present` is the answer of imageExists() when the
   * caller already asked (in parallel with other look-ups, to save a round trip on the hot path).
   */
  async ensureImage(image: string, policy: PullPolicy, reporter: Reporter, known: {present?: boolean; platform?: string | undefined; askedFor?: string | undefined} = {}): Promise<void> {
    const {present, platform} = known
    if (policy !== 'always') {
      if (present ?? (await this.imageExists(image))) return
      if (policy === 'never') {
        const tool = await this.cli()
        throw new MindbgError(
          'imageUnavailable',
          `image ${image} is not present${known.askedFor ? ` for ${known.askedFor}` : ''} and --pull never forbids pulling it`,
          `Load it with "${tool} load -i FILE" (saved elsewhere with "${tool} save ${image}"), or use --pull missing.`,
        )
      }
    }
    await this.pull(image, reporter, platform)
  }

  async imageExists(image: string): Promise<boolean> {
    return (await this.imagePlatform(image)) !== undefined
  }

  private async pull(image: string, reporter: Reporter, platform: string | undefined): Promise<void> {
    const progress = new PullProgress(image)
    reporter.begin(`Pulling ${image}${platform ? ` (${platform})` : ''}`)
    try {
      const authconfig = await registryAuth(parseImageReference(image))
      const api = await this.api()
      const stream = await api.pull(image, {...(platform ? {platform} : {}), ...(authconfig ? {authconfig} : {})})
      await new Promise<void>((resolve, reject) => {
        api.modem.followProgress(
          stream,
          (err: Error | null, events: Array<{error?: string}>) => {
            const failed = err ?? events.find((e) => e.error)?.error
            if (failed) reject(failed instanceof Error ? failed : new Error(failed))
            else resolve()
          },
          (event: Parameters<PullProgress['add']>[0]) => reporter.update(progress.add(event)),
        )
      })
    } catch (error) {
      reporter.end(`Pulling ${image} failed`, false)
      if (error instanceof MindbgError) throw error
      const code = (error as {code?: unknown}).code
      if (code === 'ECONNREFUSED' || code === 'ENOENT' || code === 'EACCES') throw error
      const message = engineMessage(error)
      const tool = await this.cli()
      const hint = /unauthorized|authentication required|denied|credentials/i.test(message)
        ? `Log in to the registry (${tool} login${parseImageReference(image).registry ? ` ${parseImageReference(image).registry}` : ''}) or configure a credential helper.`
        : `Check the image name and the registry, or load it locally (${tool} load) and use --pull never.`
      throw new MindbgError('imageUnavailable', `cannot pull ${image}: ${message}`, hint, {cause: error})
    }
    reporter.end(`Pulled ${image}`, true)
  }

  /**
   * The target's image as tagged references, for deriving its debug twin: the reference it was created from first
   * when that has a tag, then every tag the engine knows for the image it runs (RepoTags of its Image ID, which both
   * engines set: created from an ID, Docker keeps the ID as Config.Image but Podman the image's first name, which
   * need not be the one with a twin).
   */
  async taggedImagesOf(target: DockerTarget): Promise<string[]> {
    const ref = parseImageReference(target.image)
    const byIdOrDigest = Boolean(ref.digest) || /^(sha256:)?[0-9a-f]{12,64}$/.test(target.image)
    const info = await (await this.api()).getImage(target.imageId).inspect()
    const repoTags = (info.RepoTags ?? []).filter((t) => t && !t.startsWith('<none>') && t !== target.image)
    const tagged = byIdOrDigest ? repoTags : [target.image, ...repoTags]
    if (tagged.length === 0) {
      throw new MindbgError('imageUnavailable', `${target.name} runs ${target.image}, which has no tag to derive a debug twin from`, 'Pass the debug image with --image.')
    }
    return tagged
  }

  /** The target image's platform (os/arch[/variant]): what a pulled debug image must match, whatever the host is. */
  platformOf(target: DockerTarget): Promise<string | undefined> {
    return this.imagePlatform(target.imageId)
  }

  /** An image's os/arch[/variant] ('' if the engine does not say), or undefined when the engine does not have it. */
  async imagePlatform(image: string): Promise<string | undefined> {
    try {
      const info = await readJson<Dockerode.ImageInspectInfo & {Variant?: string}>(await this.http.stream('GET', `/images/${image}/json`))
      return [info.Os, info.Architecture, info.Variant].filter(Boolean).join('/')
    } catch (error) {
      if (status(error) === 404) return undefined
      throw error
    }
  }

  /**
   * Calls `onEvent` for every container event (kill, pause, ...) of `containers` from now until `signal` aborts.
   * Best effort: an engine that cannot stream events only means fewer notices.
   */
  watchEvents(containers: string[], actions: string[], signal: AbortSignal, onEvent: (event: ContainerEvent) => void): void {
    const filters = JSON.stringify({type: ['container'], container: containers, event: actions})
    this.http
      .stream('GET', '/events', {query: {filters}, signal})
      .then((stream) => {
        // One JSON object a line (node:readline would load ~10 modules for this, fs/promises among them).
        const lines = splitLines((line) => {
          try {
            const e = JSON.parse(line) as {Action?: string; Actor?: {ID?: string; Attributes?: Record<string, string>}}
            onEvent({action: e.Action ?? '', id: e.Actor?.ID ?? '', attributes: e.Actor?.Attributes ?? {}})
          } catch {
            // not an event
          }
        })
        stream.setEncoding('utf8')
        stream.on('data', (chunk: string) => lines.push(chunk))
        stream.on('end', () => lines.end())
        stream.on('error', () => {})
        const stop = (): void => void (stream as unknown as {destroy?: () => void}).destroy?.()
        if (signal.aborted) stop()
        else signal.addEventListener('abort', stop, {once: true})
      })
      .catch(() => {})
  }

  /** Puts files (a tar archive) into a container's filesystem, at `dir`. */
  async putArchive(container: string, tar: Buffer, dir: string): Promise<void> {
    await (await this.api()).getContainer(container).putArchive(tar, {path: dir})
  }

  /** A small file of a container's filesystem (its image and writable layer), or undefined when it has none. */
  async readFile(container: string, path: string): Promise<Buffer | undefined> {
    let stream: NodeJS.ReadableStream
    try {
      stream = await (await this.api()).getContainer(container).getArchive({path})
    } catch (error) {
      if (status(error) === 404) return undefined
      throw error
    }
    const chunks: Buffer[] = []
    for await (const chunk of stream) chunks.push(chunk as Buffer)
    // One regular file in a tar archive: a 512-byte header (size in octal at 124), then the bytes.
    const tar = Buffer.concat(chunks)
    if (tar.length < 512) return undefined
    const size = Number.parseInt(tar.subarray(124, 136).toString('latin1').replace(/\0.*$/, '').trim(), 8)
    return Number.isFinite(size) ? tar.subarray(512, 512 + size) : undefined
  }

  /**
   * Removes a container. A running one is stopped first, with SIGTERM: its mindbg-init then ends and reaps what the
   * session started before exiting (a SIGKILL would leave those to the target's PID 1); SIGKILL after `graceSeconds`.
   * A container already gone (or being removed) is fine.
   */
  async remove(idOrName: string, graceSeconds = STOP_GRACE_SECONDS): Promise<void> {
    const path = `/containers/${encodeURIComponent(idOrName)}`
    try {
      ;(await this.http.stream('POST', `${path}/stop`, {query: {t: graceSeconds}})).resume()
    } catch (error) {
      // 304: not running (created, or exited and not yet removed); 409: being removed; gone: 404, or Podman's 500
      // "no such container" for one its AutoRemove took a moment ago.
      const code = status(error)
      if (isGone(error)) return
      if (code !== 304 && code !== 409) throw error
    }
    try {
      ;(await this.http.stream('DELETE', path, {query: {force: true}})).resume()
    } catch (error) {
      const code = status(error)
      if (isGone(error)) return
      if (code === 409 && /already in progress/i.test(engineMessage(error))) return
      throw error
    }
  }

  async listSidecars(): Promise<SidecarSummary[]> {
    const all = await (await this.api()).listContainers({all: true})
    const stateById = new Map(all.map((c) => [c.Id, c.State]))
    const now = Date.now()
    return all
      .filter((c) => c.Labels?.[LABEL.sidecar] === 'true')
      .map((c) => {
        const labels = c.Labels
        const identity = readIdentity((field) => labels[identityLabel(field)])
        const started = identity.started || new Date(c.Created * 1000).toISOString()
        const targetId = labels[LABEL.target] ?? ''
        const targetName = labels[LABEL.targetName] ?? ''
        const shared = labels[LABEL.shared] === '1'
        // A shared debugger has no one target: it lives as long as the run that made it.
        const targetState = shared ? (ownerAlive(labels[LABEL.owner] ?? '') ? 'running' : 'gone') : (stateById.get(targetId) ?? 'gone')
        return {
          runtime: 'docker',
          id: c.Id,
          name: c.Names[0]?.replace(/^\//, '') ?? c.Id.slice(0, 12),
          location: '',
          state: c.State,
          target: targetName || targetId.slice(0, 12),
          targetId,
          targetName,
          targetState,
          ...(shared ? {shared: true as const} : {}),
          user: identity.user,
          started,
          ageSeconds: Math.max(0, Math.round((now - Date.parse(started)) / 1000)),
          reason: identity.reason,
          profile: labels[LABEL.profile] ?? '',
          version: identity.version,
          image: c.Image,
          // attach --detach: it serves commands until then (ls --json).
          ...(labels[LABEL.serve] === '1' ? {serves: true, expires: labels[LABEL.expires] ?? ''} : {}),
        }
      })
  }
}
