/**
 * The simulated kubelet: runs pods as Docker containers and writes pod status back into the store.
 *
 * Layout per pod (like dockershim did):
 *   pause  busybox `sleep inf`, --network none, --ipc shareable, hostname = pod name: owns the pod's namespaces
 *   app    --network/--ipc container:<pause>, --pid container:<pause> when shareProcessNamespace
 *   ephemeral  same, --pid container:<target> with targetContainerName
 *   hostNetwork/hostPID/hostIPC: --network/--pid/--ipc host for the pause and every container (the node is the
 *   Docker host)
 * Every container carries the label org.mindbg.kube-sim=<instance id> (close() and the reaper find them by it)
 * plus the io.kubernetes.* labels dockershim used.
 *
 * Status is kept in sync from the Docker events stream (start/die/destroy/oom of our containers) plus refreshes
 * after our own actions. Like a kubelet, which learns about a started container (and its exit) only at its next PLEG
 * relist, the simulator reports a started container only once runningReportDelayMs have passed since its start,
 * running or terminated by then: a command that exits at once (`kubectl debug -- ps`) goes straight to terminated,
 * so kubectl takes its "stream the logs" path instead of racing an attach against the exit. Attach and exec, like
 * the kubelet's, look at the runtime, not at the reported status: they work as soon as the container runs.
 *
 * Restarts: once a container's exit is reported, restartPolicy decides (reactToExits): a new Docker container per
 * restart, with the kubelet's crash-loop back-off (restartWithBackoff); the previous instance is kept for
 * logs --previous. Init containers are started one by one as the previous one's exit 0 is reported.
 * activeDeadlineSeconds kills the pod (Failed, DeadlineExceeded).
 *
 * Images come from the local engine only. IfNotPresent/Never use the local image; Always uses it too when present
 * (no registry is reachable; the local copy stands in for the registry's). A missing image is pulled for real only
 * from a loopback registry (127.0.0.1:PORT/..., localhost:PORT/...; see test/support/registry.ts); any other
 * registry is never contacted and the pull fails with containerd's NotFound message, then ErrImagePull ->
 * ImagePullBackOff -> retry (1 s, doubling up to 10 s), re-checking the local engine each time.
 */
import {chmodSync, existsSync, mkdirSync, writeFileSync} from 'node:fs'
import {hostname} from 'node:os'
import type Docker from 'dockerode'
import {
  ConfigError, dockerCreateOptions, effectiveSecurity, imageUser, resolveEnv, verifyRunAsNonRoot,
} from './container-config.ts'
import {normalizeImage} from './defaults.ts'
import {type ContainerView, type PodView, type TerminatedView, computeStatus, timestamp} from './pod-status.ts'
import type {Obj, Store} from './store.ts'

export const LABEL = 'org.mindbg.kube-sim'
export const OWNER_LABEL = 'org.mindbg.kube-sim.owner'

type Kind = 'init' | 'app' | 'ephemeral'

interface ContainerRec {
  name: string
  kind: Kind
  waiting?: {reason: string; message?: string}
  startError?: {message: string; finishedAt: string}
  dockerId?: string
  inspect?: Docker.ContainerInspectInfo
  /** Docker no longer knows the container (removed behind our back). */
  gone?: boolean
  imageID?: string
  /** Image pull retries so far (drives the back-off). */
  pullAttempt?: number
  /** The kubelet's restartCount: instances started after the first. */
  restartCount?: number
  /** How the previous instance ended: status.lastState.terminated. */
  lastTerminated?: TerminatedView
  /** Docker id of the previous instance (logs --previous); older instances are removed. */
  previousDockerId?: string
  /** What was reported before the restart, shown until the new instance is reported (PLEG latency). */
  previousView?: ContainerView
  /** The crash-loop back-off (flowcontrol.Backoff): the current delay and the exit it was last advanced for. */
  backoffMs?: number
  lastExitAt?: number
  /** Set while the container waits out its back-off: reported as waiting CrashLoopBackOff. */
  crashLoop?: {message: string}
  /** The instance whose exit has been acted on (restart, next init container, or nothing). */
  handledExit?: string
}

interface PodRuntime {
  key: string
  namespace: string
  name: string
  uid: string
  pauseId?: string
  startTime: string
  startedAtMs: number
  /** activeDeadlineSeconds passed: containers killed, pod Failed/DeadlineExceeded, nothing restarts. */
  deadlineExceeded: boolean
  deadlineTimer?: NodeJS.Timeout
  containers: Map<string, ContainerRec>
  /** Serialises engine operations on this pod (create, ephemeral starts, delete). */
  chain: Promise<void>
  deleted: boolean
  timers: Set<NodeJS.Timeout>
  refreshing: boolean
  refreshAgain: boolean
}

export interface BackendOptions {
  docker: Docker
  store: Store
  instanceId: string
  /** The node this kubelet runs: pods bound to another node are left alone (Pending, as without their kubelet). */
  nodeName: string
  pauseImage: string
  runningReportDelayMs: number
  /** First ErrImagePull -> ImagePullBackOff delay; doubles per retry up to 10x. */
  pullBackoffMs: number
  /** First crash-loop back-off (the kubelet's 10 s); doubles per restart up to 30x (the kubelet's 5 min). */
  restartBackoffMs: number
  log: (msg: string) => void
}

const STATE_ACTIONS = new Set(['create', 'start', 'die', 'oom', 'kill', 'stop', 'destroy', 'pause', 'unpause'])
/** Go's time.Duration String() for whole milliseconds: 500ms, 10s, 1m20s, 5m0s. */
export function goDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`
  const seconds = ms / 1000
  if (seconds < 60) return `${Number(seconds.toFixed(3))}s`
  const minutes = Math.floor(seconds / 60)
  const rest = `${Number((seconds - minutes * 60).toFixed(3))}s`
  return minutes < 60 ? `${minutes}m${rest}` : `${Math.floor(minutes / 60)}h${minutes % 60}m${rest}`
}

const isLoopbackRegistry = (image: string): boolean => /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?\//.test(image)
const dockerTime = (t: string): string => t.replace(/\.\d+Z$/, 'Z')
const statusCode = (err: unknown): number | undefined => (err as {statusCode?: number}).statusCode
const errText = (err: unknown): string => {
  const e = err as {json?: {message?: string}; message?: string}
  return e.json?.message ?? e.message ?? String(err)
}

/** Which of the node's namespaces the pod shares (spec.hostPID/hostNetwork/hostIPC). */
const hostNamespaces = (pod: Obj): {pid: boolean; network: boolean; ipc: boolean} =>
  ({pid: pod.spec?.hostPID === true, network: pod.spec?.hostNetwork === true, ipc: pod.spec?.hostIPC === true})

export class DockerBackend {
  private readonly o: BackendOptions
  private readonly pods = new Map<string, PodRuntime>()
  private events: (NodeJS.ReadableStream & {destroy?: () => void}) | undefined
  private closed = false

  constructor(options: BackendOptions) {
    this.o = options
  }

  labelsFor(pod: Obj, container: string): Record<string, string> {
    return {
      [LABEL]: this.o.instanceId,
      [OWNER_LABEL]: `${hostname()}:${process.pid}`,
      'io.kubernetes.pod.name': pod.metadata.name,
      'io.kubernetes.pod.namespace': pod.metadata.namespace,
      'io.kubernetes.pod.uid': pod.metadata.uid,
      'io.kubernetes.container.name': container,
    }
  }

  async start(): Promise<void> {
    const stream = await this.o.docker.getEvents({filters: {type: ['container'], label: [`${LABEL}=${this.o.instanceId}`]}})
    this.events = stream as typeof this.events
    let buf = ''
    stream.on('data', (chunk: Buffer) => {
      buf += chunk.toString('utf8')
      let nl: number
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        if (!line.trim()) continue
        try {
          const ev = JSON.parse(line) as {Action?: string; Actor?: {Attributes?: Record<string, string>}}
          // exec_* events (every kubectl exec) do not change container state.
          if (!STATE_ACTIONS.has(ev.Action ?? '')) continue
          const a = ev.Actor?.Attributes ?? {}
          const key = `${a['io.kubernetes.pod.namespace']}/${a['io.kubernetes.pod.name']}`
          if (this.pods.has(key)) this.scheduleRefresh(this.pods.get(key)!, 0)
        } catch {
          // Ignore a malformed line; the next refresh repairs state.
        }
      }
    })
    stream.on('error', (err) => {
      if (!this.closed) this.o.log(`docker events stream failed: ${String(err)}`)
    })
  }

  /** The pod's Docker container for a container name (ephemeral included), if it exists. */
  dockerIdOf(namespace: string, podName: string, container: string): string | undefined {
    return this.pods.get(`${namespace}/${podName}`)?.containers.get(container)?.dockerId
  }

  /** Whether the runtime runs this container now (what the kubelet's attach and exec look at). */
  async isRunning(dockerId: string): Promise<boolean> {
    try {
      return (await this.o.docker.getContainer(dockerId).inspect()).State.Running
    } catch {
      return false
    }
  }

  /** Every Docker id of a pod (pause and kept previous instances included): used by tests through the KubeSim handle. */
  dockerIdsOf(namespace: string, podName: string): string[] {
    const rt = this.pods.get(`${namespace}/${podName}`)
    if (!rt) return []
    return [rt.pauseId, ...[...rt.containers.values()].flatMap((c) => [c.dockerId, c.previousDockerId])].filter((x): x is string => !!x)
  }

  private enqueue(rt: PodRuntime, work: () => Promise<void>): Promise<void> {
    const next = rt.chain.then(async () => {
      if (rt.deleted || this.closed) return
      await work()
    }).catch((err) => this.o.log(`pod ${rt.key}: ${String(err)}`))
    rt.chain = next
    return next
  }

  /** A pod was created: start its sandbox, init containers (one after the other) and containers. */
  addPod(pod: Obj): void {
    if (pod.spec.nodeName !== this.o.nodeName) {
      this.o.log(`pod ${pod.metadata.namespace}/${pod.metadata.name}: bound to node "${pod.spec.nodeName}", which has no kubelet here: stays Pending`)
      return
    }
    const rt: PodRuntime = {
      key: `${pod.metadata.namespace}/${pod.metadata.name}`, namespace: pod.metadata.namespace, name: pod.metadata.name,
      uid: pod.metadata.uid, startTime: timestamp(new Date()), startedAtMs: Date.now(), deadlineExceeded: false,
      containers: new Map(), chain: Promise.resolve(), deleted: false, timers: new Set(), refreshing: false, refreshAgain: false,
    }
    for (const c of pod.spec.initContainers ?? []) rt.containers.set(c.name, {name: c.name, kind: 'init'})
    for (const c of pod.spec.containers ?? []) rt.containers.set(c.name, {name: c.name, kind: 'app'})
    this.pods.set(rt.key, rt)
    this.armDeadline(rt, pod)
    this.scheduleRefresh(rt, 0)
    void this.enqueue(rt, async () => {
      await this.createSandbox(rt, pod)
      await this.runPodContainers(rt)
    })
  }

  /** The pod's spec changed (activeDeadlineSeconds is the one mutable field the kubelet acts on). */
  podUpdated(pod: Obj): void {
    const rt = this.pods.get(`${pod.metadata.namespace}/${pod.metadata.name}`)
    if (rt && rt.uid === pod.metadata.uid) this.armDeadline(rt, pod)
  }

  /** activeDeadlineSeconds counts from status.startTime, when the kubelet first saw the pod. */
  private armDeadline(rt: PodRuntime, pod: Obj): void {
    if (rt.deadlineTimer) {
      clearTimeout(rt.deadlineTimer)
      rt.timers.delete(rt.deadlineTimer)
      delete rt.deadlineTimer
    }
    const seconds = pod.spec.activeDeadlineSeconds
    if (typeof seconds !== 'number' || rt.deadlineExceeded) return
    const t = setTimeout(() => {
      rt.timers.delete(t)
      this.exceedDeadline(rt)
    }, Math.max(0, rt.startedAtMs + seconds * 1000 - Date.now()))
    rt.deadlineTimer = t
    rt.timers.add(t)
  }

  /**
   * The kubelet's activeDeadlineHandler: the pod is killed (SIGKILL here, no grace period, as for deletion) and ends
   * Failed with reason DeadlineExceeded; nothing restarts.
   */
  private exceedDeadline(rt: PodRuntime): void {
    rt.deadlineExceeded = true
    for (const rec of rt.containers.values()) delete rec.crashLoop
    this.scheduleRefresh(rt, 0)
    void this.enqueue(rt, async () => {
      const ids = [...rt.containers.values()].map((r) => r.dockerId).filter((x): x is string => !!x)
      await Promise.all([...ids, ...(rt.pauseId ? [rt.pauseId] : [])].map((id) => this.o.docker.getContainer(id).kill().catch(() => {})))
      await this.refresh(rt)
    })
  }

  /**
   * Init containers one after the other (each must exit 0), then the app containers. Re-entrant and driven by the
   * reported exits (reactToExits): it starts the first init container that has not run and returns; once that one's
   * exit 0 is reported it is called again and goes on. An image-pull retry or a restart simply calls it again.
   */
  private async runPodContainers(rt: PodRuntime): Promise<void> {
    const pod = this.o.store.get('pods', rt.namespace, rt.name)
    if (!pod || rt.deadlineExceeded) return
    for (const c of pod.spec.initContainers ?? []) {
      const rec = rt.containers.get(c.name)!
      if (!rec.dockerId) {
        await this.runContainer(rt, c, 'init')
        return
      }
      const st = rec.inspect?.State
      if (!st || st.Running || st.Status !== 'exited' || st.ExitCode !== 0) return
    }
    for (const c of pod.spec.containers ?? []) {
      if (!rt.containers.get(c.name)?.dockerId) await this.runContainer(rt, c, 'app')
    }
  }

  /** The current instance's exit, once it is reported (see viewOf); undefined while it runs or is not reported yet. */
  private reportedExit(rec: ContainerRec, now: number): {code: number; at: number} | undefined {
    if (rec.startError) return {code: 128, at: Date.parse(rec.startError.finishedAt)}
    if (rec.gone) return {code: 137, at: now}
    const s = rec.inspect?.State
    if (!s || s.Running || (s.Status !== 'exited' && s.Status !== 'dead')) return undefined
    if (now - Date.parse(s.StartedAt) < this.o.runningReportDelayMs) return undefined
    return {code: s.ExitCode, at: Date.parse(s.FinishedAt)}
  }

  /**
   * What the kubelet's pod sync does once it has seen a container exit: an init container that succeeded lets the
   * next one start; under restartPolicy Always (any exit) or OnFailure (a failure; init containers under both) the
   * container is restarted with the crash-loop back-off; under Never, nothing. Ephemeral containers never restart.
   */
  private reactToExits(rt: PodRuntime, pod: Obj, now: number): void {
    if (rt.deleted || this.closed || rt.deadlineExceeded) return
    const policy = pod.spec.restartPolicy ?? 'Always'
    for (const rec of rt.containers.values()) {
      if (rec.kind === 'ephemeral' || !rec.dockerId || rec.handledExit === rec.dockerId || rec.crashLoop) continue
      const exit = this.reportedExit(rec, now)
      if (!exit) continue
      rec.handledExit = rec.dockerId
      if (rec.kind === 'init' && exit.code === 0) {
        void this.enqueue(rt, () => this.runPodContainers(rt))
        continue
      }
      const restart = rec.kind === 'init' ? policy !== 'Never' : policy === 'Always' || (policy === 'OnFailure' && exit.code !== 0)
      if (restart) this.restartWithBackoff(rt, rec, exit.at, now)
    }
  }

  /**
   * flowcontrol.Backoff as the kubelet's doBackOff uses it: the first exit restarts at once and sets the delay to the
   * base; each later exit waits the current delay (reported as CrashLoopBackOff), then doubles it, up to 30x the base;
   * an exit more than twice the cap after the previous one starts over.
   */
  private restartWithBackoff(rt: PodRuntime, rec: ContainerRec, exitAt: number, now: number): void {
    const base = this.o.restartBackoffMs
    const cap = base * 30
    if (rec.backoffMs === undefined || exitAt - (rec.lastExitAt ?? 0) > 2 * cap) {
      rec.backoffMs = base
      rec.lastExitAt = exitAt
      this.restart(rt, rec)
      return
    }
    const advance = (): void => {
      rec.backoffMs = Math.min(rec.backoffMs! * 2, cap)
      rec.lastExitAt = exitAt
    }
    const wait = exitAt + rec.backoffMs - now
    if (wait <= 0) {
      advance()
      this.restart(rt, rec)
      return
    }
    rec.crashLoop = {message: `back-off ${goDuration(rec.backoffMs)} restarting failed container=${rec.name} pod=${rt.name}_${rt.namespace}(${rt.uid})`}
    const t = setTimeout(() => {
      rt.timers.delete(t)
      delete rec.crashLoop
      advance()
      this.restart(rt, rec)
    }, wait)
    rt.timers.add(t)
  }

  /** A new instance of the container (the kubelet never restarts a container in place: it creates another). */
  private restart(rt: PodRuntime, rec: ContainerRec): void {
    void this.enqueue(rt, async () => {
      const pod = this.o.store.get('pods', rt.namespace, rt.name)
      if (!pod || rt.deadlineExceeded) return
      const shown = this.viewOf(rt, rec, Date.now())
      if (shown.state === 'terminated') {
        const {restartCount: _r, lastState: _l, ...ended} = shown
        rec.lastTerminated = ended
      }
      rec.previousView = shown
      // The kubelet's container GC keeps the last dead instance (logs --previous) and removes older ones.
      const older = rec.previousDockerId
      if (rec.dockerId) rec.previousDockerId = rec.dockerId
      rec.restartCount = (rec.restartCount ?? 0) + 1
      delete rec.dockerId
      delete rec.inspect
      delete rec.startError
      delete rec.gone
      if (older) await this.o.docker.getContainer(older).remove({force: true}).catch(() => {})
      if (rec.kind === 'init') await this.runPodContainers(rt)
      else {
        const spec = (pod.spec.containers ?? []).find((c: Obj) => c.name === rec.name)
        if (spec) await this.runContainer(rt, spec, 'app')
      }
    })
  }

  /** Docker id of the container's previous instance (logs --previous). */
  previousDockerIdOf(namespace: string, podName: string, container: string): string | undefined {
    return this.pods.get(`${namespace}/${podName}`)?.containers.get(container)?.previousDockerId
  }

  /** New ephemeral containers were accepted: start them after whatever the pod is doing. */
  addEphemeralContainers(namespace: string, podName: string, names: string[]): void {
    const rt = this.pods.get(`${namespace}/${podName}`)
    if (!rt) return
    for (const n of names) if (!rt.containers.has(n)) rt.containers.set(n, {name: n, kind: 'ephemeral'})
    this.scheduleRefresh(rt, 0)
    void this.enqueue(rt, async () => {
      const pod = this.o.store.get('pods', namespace, podName)
      if (!pod) return
      for (const n of names) {
        const spec = (pod.spec.ephemeralContainers ?? []).find((e: Obj) => e.name === n)
        if (spec) await this.runContainer(rt, spec, 'ephemeral')
      }
    })
  }

  /** Removes every container of the pod (force: no grace period, see README) and forgets it. */
  async deletePod(namespace: string, podName: string): Promise<void> {
    const rt = this.pods.get(`${namespace}/${podName}`)
    if (!rt) return
    rt.deleted = true
    for (const t of rt.timers) clearTimeout(t)
    rt.timers.clear()
    // Wait for an in-flight create to finish so no container is created after the removal.
    await rt.chain
    await this.removeByFilter([`io.kubernetes.pod.uid=${rt.uid}`])
    await this.removeVolumes([`io.kubernetes.pod.uid=${rt.uid}`])
    if (this.pods.get(rt.key) === rt) this.pods.delete(rt.key)
  }

  /** Removes every container of this instance (close()). */
  async removeAll(): Promise<void> {
    this.closed = true
    this.events?.destroy?.()
    for (const rt of this.pods.values()) {
      rt.deleted = true
      for (const t of rt.timers) clearTimeout(t)
    }
    // Do not wait for in-flight chains forever: remove what exists now, then once more after they settle.
    await this.removeByFilter([])
    await Promise.race([Promise.all([...this.pods.values()].map((rt) => rt.chain)), new Promise((r) => setTimeout(r, 5000))])
    await this.removeByFilter([])
    await this.removeVolumes([])
    this.pods.clear()
  }

  private async removeByFilter(extraLabels: string[]): Promise<void> {
    const list = await this.o.docker.listContainers({all: true, filters: {label: [`${LABEL}=${this.o.instanceId}`, ...extraLabels]}})
    await Promise.all(list.map((c) => this.o.docker.getContainer(c.Id).remove({force: true, v: true}).catch((err) => {
      if (statusCode(err) !== 404 && statusCode(err) !== 409) this.o.log(`remove ${c.Id.slice(0, 12)}: ${errText(err)}`)
    })))
  }

  /** Restarted instances get the attempt appended (dockershim's k8s_..._<attempt>), the first keeps the plain name. */
  private containerName(rt: PodRuntime, container: string, attempt = 0): string {
    return `ks-${this.o.instanceId}_${container}_${rt.name}_${rt.namespace}_${rt.uid.slice(0, 8)}${attempt > 0 ? `_${attempt}` : ''}`
  }

  private volumeName(rt: PodRuntime, volume: string): string {
    return `ks-${this.o.instanceId}_${volume}_${rt.name}_${rt.namespace}_${rt.uid.slice(0, 8)}`
  }

  /**
   * The pod's volumes as the kubelet would set them up: an emptyDir is a Docker volume of the pod's (tmpfs for medium
   * Memory), removed with the pod; a hostPath is a bind mount (DirectoryOrCreate and FileOrCreate create it). Other
   * kinds (configMap, secret, projected, persistentVolumeClaim...) are not mounted: see README, deviations.
   */
  private async createVolumes(rt: PodRuntime, pod: Obj): Promise<void> {
    for (const v of pod.spec.volumes ?? []) {
      if (!v?.emptyDir) continue
      const memory = v.emptyDir.medium === 'Memory'
      // The kubelet makes an emptyDir 0777, so that containers of any uid can write it.
      const name = this.volumeName(rt, v.name)
      await this.o.docker.createVolume({
        Name: name,
        Labels: this.labelsFor(pod, 'POD'),
        ...(memory ? {Driver: 'local', DriverOpts: {type: 'tmpfs', device: 'tmpfs', o: 'mode=0777'}} : {}),
      })
      if (!memory) chmodSync((await this.o.docker.getVolume(name).inspect()).Mountpoint, 0o777)
    }
  }

  /** A container's volumeMounts as Docker mounts, from the pod's volumes (unknown kinds left out). */
  private mountsFor(rt: PodRuntime, pod: Obj, container: Obj): Obj[] {
    const volumes = new Map<string, Obj>((pod.spec.volumes ?? []).map((v: Obj) => [v.name, v]))
    const mounts: Obj[] = []
    for (const m of container.volumeMounts ?? []) {
      const v = volumes.get(m.name)
      const readOnly = m.readOnly === true
      // NoCopy: an emptyDir starts empty, whatever the image has at the mount path (Docker would copy that in).
      if (v?.emptyDir && !m.subPath) mounts.push({Type: 'volume', Source: this.volumeName(rt, v.name), Target: m.mountPath, ReadOnly: readOnly, VolumeOptions: {NoCopy: true}})
      else if (v?.hostPath?.path && !m.subPath) {
        const type = v.hostPath.type ?? ''
        if (type === 'DirectoryOrCreate') mkdirSync(v.hostPath.path, {recursive: true})
        if (type === 'FileOrCreate' && !existsSync(v.hostPath.path)) writeFileSync(v.hostPath.path, '')
        mounts.push({Type: 'bind', Source: v.hostPath.path, Target: m.mountPath, ReadOnly: readOnly})
      } else this.o.log(`pod ${rt.key}: volumeMount ${m.name} at ${m.mountPath} is not simulated (subPath, or a volume kind the simulator lacks)`)
    }
    return mounts
  }

  private async removeVolumes(extraLabels: string[]): Promise<void> {
    const {Volumes: volumes} = await this.o.docker.listVolumes({filters: {label: [`${LABEL}=${this.o.instanceId}`, ...extraLabels]}})
    await Promise.all((volumes ?? []).map((v) => this.o.docker.getVolume(v.Name).remove().catch((err) => this.o.log(`remove volume ${v.Name}: ${errText(err)}`))))
  }

  private async createSandbox(rt: PodRuntime, pod: Obj): Promise<void> {
    await this.createVolumes(rt, pod)
    const host = hostNamespaces(pod)
    const c = await this.o.docker.createContainer({
      name: this.containerName(rt, 'POD'),
      Image: this.o.pauseImage,
      Entrypoint: ['sleep'],
      Cmd: ['inf'],
      User: '65535:65535',
      // A hostNetwork pod has the node's hostname (Docker refuses a hostname with --network host anyway).
      ...(host.network ? {} : {Hostname: String(pod.spec.hostname ?? rt.name).slice(0, 63)}),
      Labels: this.labelsFor(pod, 'POD'),
      HostConfig: {
        NetworkMode: host.network ? 'host' : 'none', IpcMode: host.ipc ? 'host' : 'shareable', ...(host.pid ? {PidMode: 'host'} : {}),
        CapDrop: ['ALL'], SecurityOpt: ['no-new-privileges:true'], ReadonlyRootfs: true, RestartPolicy: {Name: 'no'},
      },
    })
    await c.start()
    rt.pauseId = c.id
  }

  /** Resolves the image like the kubelet's image manager; undefined = not available (rec.waiting says why). */
  private async ensureImage(rec: ContainerRec, spec: Obj): Promise<Docker.ImageInspectInfo | undefined> {
    const image = String(spec.image)
    const policy = spec.imagePullPolicy ?? 'IfNotPresent'
    const local = await this.o.docker.getImage(image).inspect().catch(() => undefined)
    if (local && (policy !== 'Always' || !isLoopbackRegistry(image))) return local
    if (policy === 'Never') {
      rec.waiting = {reason: 'ErrImageNeverPull', message: `Container image "${image}" is not present with pull policy of Never`}
      return undefined
    }
    const pulled = await this.pull(image)
    if (pulled === undefined) return this.o.docker.getImage(image).inspect().catch(() => undefined)
    rec.waiting = {reason: 'ErrImagePull', message: pulled}
    return undefined
  }

  /** Pulls from a loopback registry; any other registry is never contacted. Returns an error message or undefined. */
  private async pull(image: string): Promise<string | undefined> {
    const full = normalizeImage(image)
    if (!isLoopbackRegistry(image)) {
      return `rpc error: code = NotFound desc = failed to pull and unpack image "${full}": failed to resolve reference "${full}": ${full}: not found`
    }
    try {
      const stream = await this.o.docker.pull(image)
      await new Promise<void>((resolve, reject) => this.o.docker.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve())))
      return undefined
    } catch (err) {
      return `rpc error: code = Unknown desc = failed to pull and unpack image "${full}": ${errText(err)}`
    }
  }

  /** Image pull failed: ErrImagePull now, ImagePullBackOff after the back-off starts, then retry. */
  private schedulePullRetry(rt: PodRuntime, rec: ContainerRec, spec: Obj, kind: Kind, attempt: number): void {
    const backoff = Math.min(this.o.pullBackoffMs * 2 ** attempt, this.o.pullBackoffMs * 10)
    const firstError = rec.waiting?.message ?? ''
    const t1 = setTimeout(() => {
      rt.timers.delete(t1)
      rec.waiting = {reason: 'ImagePullBackOff', message: `Back-off pulling image "${spec.image}": ErrImagePull: ${firstError}`}
      this.scheduleRefresh(rt, 0)
      const t2 = setTimeout(() => {
        rt.timers.delete(t2)
        void this.enqueue(rt, async () => {
          if (kind === 'ephemeral') await this.runContainer(rt, spec, kind, attempt + 1)
          else {
            rec.pullAttempt = attempt + 1
            await this.runPodContainers(rt)
          }
        })
      }, backoff)
      rt.timers.add(t2)
    }, Math.min(this.o.pullBackoffMs, backoff))
    rt.timers.add(t1)
  }

  /** Creates and starts one container. Returns true when it was started. */
  private async runContainer(rt: PodRuntime, spec: Obj, kind: Kind, attemptArg?: number): Promise<boolean> {
    const rec: ContainerRec = rt.containers.get(spec.name) ?? {name: spec.name, kind}
    const attempt = attemptArg ?? rec.pullAttempt ?? 0
    rt.containers.set(spec.name, rec)
    delete rec.waiting
    const pod = this.o.store.get('pods', rt.namespace, rt.name)
    if (!pod || rt.deleted || !rt.pauseId) return false
    const image = await this.ensureImage(rec, spec)
    if (!image) {
      await this.refresh(rt)
      // ensureImage set rec.waiting (TS narrowed it to undefined after the delete above).
      if ((rec as ContainerRec).waiting?.reason === 'ErrImagePull') this.schedulePullRetry(rt, rec, spec, kind, attempt)
      return false
    }
    rec.imageID = image.RepoDigests?.[0] ?? image.Id
    const podRef = `${rt.name}_${rt.namespace}(${rt.uid})`
    const eff = effectiveSecurity(pod.spec.securityContext, spec.securityContext)
    const nonRootProblem = verifyRunAsNonRoot(eff, imageUser(image.Config?.User), podRef, spec.name)
    if (nonRootProblem) {
      rec.waiting = {reason: 'CreateContainerConfigError', message: nonRootProblem}
      await this.refresh(rt)
      return false
    }
    try {
      resolveEnv(pod, spec, '127.0.0.1')
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err
      rec.waiting = {reason: 'CreateContainerConfigError', message: err.message}
      await this.refresh(rt)
      return false
    }
    // The simulator's node is the Docker host: host namespaces are the engine's own (--pid/--network/--ipc host).
    const host = hostNamespaces(pod)
    let pidMode: string | undefined
    if (host.pid) pidMode = 'host'
    else if (kind === 'ephemeral' && spec.targetContainerName) {
      const target = rt.containers.get(spec.targetContainerName)?.dockerId
      if (target) pidMode = `container:${target}`
    } else if (pod.spec.shareProcessNamespace === true) pidMode = `container:${rt.pauseId}`
    const options = dockerCreateOptions({
      pod, container: spec, podIP: '127.0.0.1', imageRef: String(spec.image), imageConfigUser: image.Config?.User,
      name: this.containerName(rt, spec.name, rec.restartCount), labels: this.labelsFor(pod, spec.name),
      networkMode: host.network ? 'host' : `container:${rt.pauseId}`, ipcMode: host.ipc ? 'host' : `container:${rt.pauseId}`,
      ...(pidMode ? {pidMode} : {}),
      mounts: this.mountsFor(rt, pod, spec),
    })
    let container: Docker.Container
    try {
      container = await this.o.docker.createContainer(options as Docker.ContainerCreateOptions)
    } catch (err) {
      rec.waiting = {reason: 'CreateContainerError', message: errText(err)}
      await this.refresh(rt)
      return false
    }
    rec.dockerId = container.id
    try {
      await container.start()
    } catch (err) {
      rec.startError = {message: `failed to create containerd task: failed to create shim task: OCI runtime create failed: ${errText(err)}`,
        finishedAt: timestamp(new Date())}
      await this.refresh(rt)
      return false
    }
    await this.refresh(rt)
    return true
  }

  private scheduleRefresh(rt: PodRuntime, delayMs: number): void {
    const t = setTimeout(() => {
      rt.timers.delete(t)
      void this.refresh(rt)
    }, delayMs)
    rt.timers.add(t)
  }

  /** Re-inspects the pod's containers and writes the status if it changed (one refresh at a time per pod). */
  async refresh(rt: PodRuntime): Promise<void> {
    if (rt.deleted || this.closed) return
    if (rt.refreshing) {
      rt.refreshAgain = true
      return
    }
    rt.refreshing = true
    try {
      do {
        rt.refreshAgain = false
        await Promise.all([...rt.containers.values()].filter((r) => r.dockerId).map(async (r) => {
          try {
            r.inspect = await this.o.docker.getContainer(r.dockerId!).inspect()
          } catch (err) {
            if (statusCode(err) === 404) r.gone = true
          }
        }))
        if (rt.deleted || this.closed) return
        this.writeStatus(rt)
      } while (rt.refreshAgain)
    } finally {
      rt.refreshing = false
    }
  }

  /**
   * What the status reports for a container: its current instance (instanceView), with restartCount and lastState;
   * waiting CrashLoopBackOff while it backs off; and, right after a restart, what was reported before until the new
   * instance is reported itself.
   */
  private viewOf(rt: PodRuntime, rec: ContainerRec, now: number): ContainerView {
    const current = this.instanceView(rt, rec, now)
    const restartCount = rec.restartCount ?? 0
    if (rec.crashLoop && current.state === 'terminated') {
      const {restartCount: _r, lastState: _l, ...ended} = current
      return {state: 'waiting', reason: 'CrashLoopBackOff', message: rec.crashLoop.message,
        ...(current.containerID ? {containerID: current.containerID} : {}), ...(current.imageID ? {imageID: current.imageID} : {}),
        restartCount, lastState: ended}
    }
    if (rec.previousView) {
      if (current.state === 'waiting' && current.reason === 'ContainerCreating') return rec.previousView
      delete rec.previousView
    }
    return {...current, restartCount, ...(rec.lastTerminated ? {lastState: rec.lastTerminated} : {})}
  }

  /** The state of the container's current instance. */
  private instanceView(rt: PodRuntime, rec: ContainerRec, now: number): ContainerView {
    const containerID = rec.dockerId ? `docker://${rec.dockerId}` : undefined
    const ids = {...(containerID ? {containerID} : {}), ...(rec.imageID ? {imageID: rec.imageID} : {})}
    if (rec.startError) {
      return {state: 'terminated', exitCode: 128, reason: 'StartError', message: rec.startError.message,
        startedAt: '1970-01-01T00:00:00Z', finishedAt: rec.startError.finishedAt, ...ids}
    }
    if (rec.waiting) return {state: 'waiting', reason: rec.waiting.reason, ...(rec.waiting.message ? {message: rec.waiting.message} : {})}
    if (rec.gone) {
      return {state: 'terminated', exitCode: 137, reason: 'ContainerStatusUnknown',
        message: 'The container could not be located when the pod was terminated', startedAt: '1970-01-01T00:00:00Z',
        finishedAt: timestamp(new Date(now)), ...ids}
    }
    const s = rec.inspect?.State
    if (!s || s.Status === 'created') return {state: 'waiting', reason: 'ContainerCreating'}
    const sinceStart = now - Date.parse(s.StartedAt)
    if (sinceStart < this.o.runningReportDelayMs) {
      // PLEG latency (see the file comment): whatever it is doing, a container is reported once it has been started
      // for a moment; one that already exited by then goes straight to terminated.
      this.scheduleRefresh(rt, this.o.runningReportDelayMs - sinceStart + 5)
      return {state: 'waiting', reason: 'ContainerCreating'}
    }
    if (s.Running) return {state: 'running', startedAt: dockerTime(s.StartedAt), containerID: containerID!, imageID: rec.imageID ?? ''}
    const exitCode = s.ExitCode
    return {state: 'terminated', exitCode, reason: s.OOMKilled ? 'OOMKilled' : exitCode === 0 ? 'Completed' : 'Error',
      startedAt: dockerTime(s.StartedAt), finishedAt: dockerTime(s.FinishedAt), ...ids}
  }

  private writeStatus(rt: PodRuntime): void {
    const pod = this.o.store.get('pods', rt.namespace, rt.name)
    if (!pod || pod.metadata.uid !== rt.uid) return
    const now = Date.now()
    const view: PodView = {sandboxReady: rt.pauseId !== undefined && !rt.deadlineExceeded, startTime: rt.startTime, podIP: '127.0.0.1',
      containers: new Map()}
    // First what the kubelet does about exits it has seen (a back-off shows in this very status), then the views.
    this.reactToExits(rt, pod, now)
    for (const rec of rt.containers.values()) view.containers.set(rec.name, this.viewOf(rt, rec, now))
    // A kubelet reports the terminal phase only once no container runs any more.
    if (rt.deadlineExceeded && [...view.containers.values()].every((v) => v.state !== 'running')) {
      view.failed = {reason: 'DeadlineExceeded', message: 'Pod was active on the node longer than the specified deadline'}
    }
    const status = computeStatus(pod, view, new Date(now))
    if (JSON.stringify(status) === JSON.stringify(pod.status)) return
    pod.status = status
    this.o.store.update('pods', pod)
  }
}
