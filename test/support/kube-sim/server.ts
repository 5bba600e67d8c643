/**
 * kube-sim: a Kubernetes API server simulator backed by the real Docker engine, faithful enough for the real kubectl
 * (see README.md beside this file for what is and is not simulated).
 *
 *   const sim = await startKubeSim({namespaces: [{name: 'locked', labels: {'pod-security.kubernetes.io/enforce': 'restricted'}}]})
 *   sim.writeKubeconfig('/tmp/kc')           // kubectl --kubeconfig /tmp/kc get pods
 *   await sim.close()                        // removes every Docker container it started
 */
import {randomBytes} from 'node:crypto'
import {createServer, type Server} from 'node:https'
import type {AddressInfo} from 'node:net'
import {hostname} from 'node:os'
import Docker from 'dockerode'
import {Authenticator, type RbacOptions} from './auth.ts'
import type {SimContext} from './context.ts'
import {DockerBackend, LABEL, OWNER_LABEL} from './docker-backend.ts'
import {kubeconfigText, writeKubeconfigFile} from './kubeconfig.ts'
import {newNamespace} from './namespaces-api.ts'
import {type EngineInfo, newNode} from './nodes-api.ts'
import {Router} from './router.ts'
import {Store} from './store.ts'
import {ALL_PROTOCOLS, StreamServer} from './streams.ts'
import {selfSignedCert} from './tls.ts'
import {WatchHub} from './watch.ts'

export interface KubeSimOptions {
  /** Extra namespaces (default always exists), optionally labelled (PodSecurity levels). */
  namespaces?: Array<string | {name: string; labels?: Record<string, string>}>
  rbac?: RbacOptions
  /** How many change events are kept for watches from an old resourceVersion (default 1000). */
  historyLimit?: number
  /** false simulates a cluster without the ephemeralcontainers subresource (404 with empty details). */
  ephemeralContainers?: boolean
  /** WebSocket subprotocols accepted for exec/attach (default all; ['v4.channel.k8s.io'] forces clients to v4). */
  protocols?: string[]
  /** Interval of BOOKMARK events on watches with allowWatchBookmarks (default 1000 ms; a real server: ~1 min). */
  bookmarkIntervalMs?: number
  /** A started container is reported running after this long (kubelet PLEG latency; default 300 ms). */
  runningReportDelayMs?: number
  /** Delay from ErrImagePull to ImagePullBackOff, doubling per retry (default 1000 ms). */
  pullBackoffMs?: number
  /**
   * First crash-loop back-off of a restarted container (default 1000 ms; a kubelet's is 10 s), doubling per restart up
   * to 30x (a kubelet's 5 min). The first restart after an exit is immediate, as on a kubelet.
   */
  restartBackoffMs?: number
  /** Name of the simulator's one node (default 'kube-sim'): pods are bound to it, `kubectl debug node/NAME` targets it. */
  nodeName?: string
  /** Image of the per-pod pause container (must be local and have `sleep`). */
  pauseImage?: string
  /** Port on 127.0.0.1 (default: a free one). */
  port?: number
  /** Request log: true (stderr), a function, or false. Default: on when KUBE_SIM_LOG=1. */
  log?: boolean | ((msg: string) => void)
  docker?: Docker
}

export interface KubeSim {
  url: string
  port: number
  instanceId: string
  /** The simulator's one node (`kubectl debug node/NAME`): options.nodeName, default 'kube-sim'. */
  nodeName: string
  /** PEM of the self-signed server certificate (also the kubeconfig's certificate-authority-data). */
  caPem: string
  /** Bearer token of a user by name ('admin' by default). */
  token(user?: string): string
  kubeconfig(options?: {user?: string; namespace?: string}): string
  writeKubeconfig(path: string, options?: {user?: string; namespace?: string}): void
  /** The current global resourceVersion. */
  readonly resourceVersion: number
  /** Forgets the watch history (watches from an older resourceVersion get 410); expireWatches ends open watches with 410 too. */
  compactHistory(options?: {expireWatches?: boolean}): void
  /** How many watches are being served now. */
  readonly openWatches: number
  /** Docker ids of a pod: the pause, each container's current instance and the previous one it keeps after a restart. */
  dockerIdsOf(namespace: string, pod: string): string[]
  /** Changes the exec/attach WebSocket subprotocols accepted from now on (e.g. ['v4.channel.k8s.io']). */
  setStreamProtocols(protocols: string[]): void
  close(): Promise<void>
}

function makeLogger(option: KubeSimOptions['log'], id: string): (msg: string) => void {
  if (typeof option === 'function') return option
  const on = option ?? process.env.KUBE_SIM_LOG === '1'
  return on ? (msg) => process.stderr.write(`kube-sim[${id}] ${msg}\n`) : () => {}
}

/** Whether the simulator process that labelled a container or volume is gone (a crashed test run of this host). */
function ownerGone(labels: Record<string, string> | undefined): string | undefined {
  const [h, pid] = (labels?.[OWNER_LABEL] ?? '').split(':')
  if (h !== hostname() || !pid) return undefined
  try {
    process.kill(Number(pid), 0)
    return undefined // alive: another simulator's
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? undefined : pid
  }
}

/** Removes containers, then the pods' volumes, left by simulator processes of this host that no longer exist. */
async function reapOrphans(docker: Docker, log: (m: string) => void): Promise<void> {
  const list = await docker.listContainers({all: true, filters: {label: [LABEL]}})
  await Promise.all(list.map(async (c) => {
    const pid = ownerGone(c.Labels)
    if (!pid) return
    log(`reaping orphan ${c.Id.slice(0, 12)} of dead process ${pid}`)
    await docker.getContainer(c.Id).remove({force: true}).catch(() => {})
  }))
  const {Volumes: volumes} = await docker.listVolumes({filters: {label: [LABEL]}})
  await Promise.all((volumes ?? []).filter((v) => ownerGone(v.Labels)).map((v) => docker.getVolume(v.Name).remove().catch(() => {})))
}

export async function startKubeSim(options: KubeSimOptions = {}): Promise<KubeSim> {
  const instanceId = randomBytes(4).toString('hex')
  const log = makeLogger(options.log, instanceId)
  const docker = options.docker ?? new Docker()
  await reapOrphans(docker, log)
  const store = new Store(options.historyLimit ?? 1000)
  const nodeName = options.nodeName ?? 'kube-sim'
  store.create('nodes', newNode(nodeName, (await docker.info()) as EngineInfo))
  store.create('namespaces', newNamespace('default'))
  for (const ns of options.namespaces ?? []) {
    const spec = typeof ns === 'string' ? {name: ns} : ns
    if (spec.name !== 'default') store.create('namespaces', newNamespace(spec.name, spec.labels ?? {}))
    else if (spec.labels) {
      const d = store.get('namespaces', undefined, 'default')!
      d.metadata.labels = {...d.metadata.labels, ...spec.labels}
      store.update('namespaces', d)
    }
  }
  const backend = new DockerBackend({
    docker, store, instanceId, log, nodeName,
    pauseImage: options.pauseImage ?? 'mindbg-fixture/busybox:local',
    runningReportDelayMs: options.runningReportDelayMs ?? 300,
    pullBackoffMs: options.pullBackoffMs ?? 1000,
    restartBackoffMs: options.restartBackoffMs ?? 1000,
  })
  await backend.start()
  const ctx: SimContext = {
    store, backend, docker, log,
    watches: new WatchHub(store, options.bookmarkIntervalMs ?? 1000),
    streams: new StreamServer(docker),
    nodeName,
    ephemeralContainers: options.ephemeralContainers ?? true,
    protocols: options.protocols ?? ALL_PROTOCOLS,
  }
  const auth = new Authenticator(options.rbac)
  const tls = selfSignedCert()
  let port = 0
  const router = new Router(ctx, auth, () => `127.0.0.1:${port}`)
  const server: Server = createServer({cert: tls.cert, key: tls.key}, (req, res) => void router.handle(req, res))
  server.on('upgrade', (req, socket, head) => void router.upgrade(req, socket, head))
  // A client that drops mid-handshake must not take the process down.
  server.on('tlsClientError', () => {})
  server.on('clientError', (_err, socket) => socket.destroy())
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(options.port ?? 0, '127.0.0.1', () => resolve())
    })
  } catch (err) {
    await backend.removeAll()
    throw err
  }
  port = (server.address() as AddressInfo).port
  const url = `https://127.0.0.1:${port}`
  log(`serving on ${url}`)

  const tokenOf = (user = 'admin'): string => {
    const t = auth.tokenFor(user)
    if (!t) throw new Error(`kube-sim: no user named ${user} (configure it in options.rbac.users)`)
    return t
  }
  const kubeconfig = (o: {user?: string; namespace?: string} = {}): string =>
    kubeconfigText({server: url, caPem: tls.cert, user: o.user ?? 'admin', token: tokenOf(o.user), namespace: o.namespace ?? 'default'})

  let closing: Promise<void> | undefined
  return {
    url,
    port,
    instanceId,
    nodeName,
    caPem: tls.cert,
    token: tokenOf,
    kubeconfig,
    writeKubeconfig: (path, o = {}) => writeKubeconfigFile(path, kubeconfig(o)),
    get resourceVersion() {
      return store.rv
    },
    compactHistory(o = {}) {
      store.compactHistory()
      if (o.expireWatches) ctx.watches.expireAll()
    },
    get openWatches() {
      return ctx.watches.size
    },
    dockerIdsOf: (ns, pod) => backend.dockerIdsOf(ns, pod),
    setStreamProtocols(protocols) {
      ctx.protocols = [...protocols]
    },
    close() {
      closing ??= (async () => {
        server.close()
        ctx.watches.closeAll()
        ctx.streams.closeAll()
        server.closeAllConnections()
        await backend.removeAll()
        log('closed')
      })()
      return closing
    },
  }
}
