/**
 * Contract of the Kubernetes API simulator (test/support/kube-sim): the REAL kubectl (1.34, .tools/bin/kubectl,
 * installed by test/support/kube-sim/install-kubectl.sh) must work against it exactly as against a cluster, and the
 * raw API must answer like a real API server (Status objects, watch semantics, patch flavours, ephemeral container
 * rules). Where kubectl and the simulator disagree, the simulator is wrong.
 */
import {execFileSync, spawn} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync} from 'node:fs'
import {request} from 'node:https'
import {hostname, tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import WebSocket from 'ws'

import {type KubeSim, startKubeSim} from '../support/kube-sim/server.ts'
import {ALL_PROTOCOLS} from '../support/kube-sim/streams.ts'
import {PtySession} from '../support/pty.js'
import {BUSYBOX, DISTROLESS, docker, dockerOk, eventually, requireEngine, ROOT} from './helpers.js'

const KUBECTL = join(ROOT, '.tools/bin/kubectl')
const dir = mkdtempSync(join(tmpdir(), 'kube-sim-contract-'))
const sims: KubeSim[] = []
let sim: KubeSim
let admin: string
let viewer: string
const simLog: string[] = []

interface Result {
  code: number | null
  stdout: string
  stderr: string
}

function kubectl(args: string[], options: {input?: string; kubeconfig?: string; timeoutMs?: number} = {}): Promise<Result> {
  const child = spawn(KUBECTL, ['--kubeconfig', options.kubeconfig ?? admin, ...args], {stdio: ['pipe', 'pipe', 'pipe']})
  const out: Buffer[] = []
  const err: Buffer[] = []
  child.stdout.on('data', (d: Buffer) => out.push(d))
  child.stderr.on('data', (d: Buffer) => err.push(d))
  child.stdin.end(options.input ?? '')
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`kubectl ${args.join(' ')} did not finish; stderr: ${Buffer.concat(err).toString()}`))
    }, options.timeoutMs ?? 30_000)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString()})
    })
  })
}

function manifest(name: string, text: string): string {
  const file = join(dir, name)
  writeFileSync(file, text)
  return file
}

interface Answer {
  status: number
  body: any
  headers: Record<string, string | string[] | undefined>
}

/** One HTTPS request to the simulator, trusting its self-signed certificate. */
function api(method: string, path: string, body?: unknown, options: {contentType?: string; token?: string | null; target?: KubeSim} = {}): Promise<Answer> {
  const target = options.target ?? sim
  const token = options.token === undefined ? target.token() : options.token
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body))
  return new Promise((resolve, reject) => {
    const req = request(`${target.url}${path}`, {
      method, ca: target.caPem,
      headers: {
        Accept: 'application/json',
        ...(token ? {Authorization: `Bearer ${token}`} : {}),
        ...(payload ? {'Content-Type': options.contentType ?? 'application/json', 'Content-Length': payload.length} : {}),
      },
    }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString()
        let parsed: unknown = text
        try {
          parsed = JSON.parse(text)
        } catch {
          // plain text (logs)
        }
        resolve({status: res.statusCode ?? 0, body: parsed, headers: res.headers})
      })
    })
    req.on('error', reject)
    req.end(payload)
  })
}

interface WatchStream {
  events: Array<{type: string; object: any}>
  ended: Promise<void>
  close(): void
}

function watch(path: string): WatchStream {
  const events: WatchStream['events'] = []
  let close = (): void => {}
  const ended = new Promise<void>((resolve, reject) => {
    const req = request(`${sim.url}${path}`, {ca: sim.caPem, headers: {Authorization: `Bearer ${sim.token()}`}}, (res) => {
      let buf = ''
      res.on('data', (c: Buffer) => {
        buf += c.toString()
        let nl: number
        while ((nl = buf.indexOf('\n')) >= 0) {
          events.push(JSON.parse(buf.slice(0, nl)))
          buf = buf.slice(nl + 1)
        }
      })
      res.on('end', () => resolve())
      res.on('close', () => resolve())
    })
    req.on('error', (err) => ((err as NodeJS.ErrnoException).code === 'ECONNRESET' ? resolve() : reject(err)))
    req.end()
    close = () => req.destroy()
  })
  return {events, ended, close}
}

interface WsResult {
  protocol: string
  /** [channel, data] in arrival order (base64 text frames decoded). */
  frames: Array<[number, Buffer]>
  closeCode: number
  /** Set when the upgrade was refused: the HTTP status and Status body. */
  refused?: {status: number; body: any}
}

/** One exec/attach session as a raw WebSocket client; `input` frames are sent as soon as the socket opens. */
function wsSession(path: string, params: Record<string, string | string[]>, protocols: string[], input: Buffer[] = []): Promise<WsResult> {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) for (const x of [v].flat()) q.append(k, x)
  const ws = new WebSocket(`wss://127.0.0.1:${sim.port}${path}?${q}`, protocols, {ca: sim.caPem, headers: {Authorization: `Bearer ${sim.token()}`}})
  const result: WsResult = {protocol: '', frames: [], closeCode: 0}
  return new Promise((resolve, reject) => {
    ws.on('open', () => {
      result.protocol = ws.protocol
      for (const f of input) ws.send(f)
    })
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) result.frames.push([data[0]!, data.subarray(1)])
      else result.frames.push([data.toString().charCodeAt(0) - 48, Buffer.from(data.toString().slice(1), 'base64')])
    })
    ws.on('close', (code) => {
      result.closeCode = code
      resolve(result)
    })
    ws.on('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        result.refused = {status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString())}
        resolve(result)
      })
    })
    ws.on('error', (err) => {
      if (!result.refused) reject(err)
    })
  })
}

const channel = (r: WsResult, ch: number): string => Buffer.concat(r.frames.filter(([c]) => c === ch).map(([, d]) => d)).toString()

const simContainers = (): string[] => sims.flatMap((s) => {
  const out = docker('ps', '-a', '-q', '--filter', `label=org.mindbg.kube-sim=${s.instanceId}`)
  return out ? out.split('\n') : []
})

beforeAll(async () => {
  requireEngine()
  if (!existsSync(KUBECTL)) execFileSync('bash', [join(ROOT, 'test/support/kube-sim/install-kubectl.sh')], {stdio: 'inherit'})
  sim = await startKubeSim({
    namespaces: [{name: 'locked', labels: {'pod-security.kubernetes.io/enforce': 'restricted'}}],
    rbac: {users: {'viewer-token': {name: 'viewer', allow: [{verbs: ['get', 'list', 'watch'], resources: ['pods', 'pods/log']}]}}},
    bookmarkIntervalMs: 200,
    restartBackoffMs: 500,
    log: (m) => simLog.push(m),
  })
  sims.push(sim)
  admin = join(dir, 'admin.kubeconfig')
  viewer = join(dir, 'viewer.kubeconfig')
  sim.writeKubeconfig(admin)
  sim.writeKubeconfig(viewer, {user: 'viewer'})
})

afterAll(async () => {
  await Promise.all(sims.map((s) => s.close()))
  rmSync(dir, {recursive: true, force: true})
  // Every container any simulator of this file started is gone.
  expect(simContainers()).toEqual([])
})

describe('the real kubectl', () => {
  it('applies manifests; the pods become Ready and `get pods` shows them Running', async () => {
    const file = manifest('pods.yaml', `
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  containers:
  - name: web
    image: ${DISTROLESS}
    imagePullPolicy: IfNotPresent
    securityContext: {runAsUser: 65532}
---
apiVersion: v1
kind: Pod
metadata: {name: bb}
spec:
  restartPolicy: Never
  containers:
  - name: bb
    image: ${BUSYBOX}
    command: [sh, -c, 'echo hello from bb; exec sleep inf']
---
apiVersion: v1
kind: Pod
metadata: {name: cat}
spec:
  restartPolicy: Never
  containers:
  - {name: cat, image: ${BUSYBOX}, command: [sh, -c, 'cat; echo bye'], stdin: true, stdinOnce: true}
`)
    const applied = await kubectl(['apply', '-f', file])
    expect(applied.stderr).toBe('')
    expect(applied.stdout).toBe('pod/web created\npod/bb created\npod/cat created\n')
    const waited = await kubectl(['wait', '--for=condition=Ready', 'pod/web', 'pod/bb', 'pod/cat', '--timeout=30s'])
    expect(waited.code, waited.stderr).toBe(0)
    const got = await kubectl(['get', 'pods'])
    expect(got.stdout).toMatch(/^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$/m)
    for (const name of ['web', 'bb', 'cat']) expect(got.stdout).toMatch(new RegExp(`^${name}\\s+1/1\\s+Running\\s+0\\s+\\d+s$`, 'm'))
    // A second apply computes an empty three-way patch: nothing changes.
    expect((await kubectl(['apply', '-f', file])).stdout).toBe('pod/web unchanged\npod/bb unchanged\npod/cat unchanged\n')
    const wide = await kubectl(['get', 'pod', 'web', '-o', 'wide'])
    expect(wide.stdout).toMatch(/^web\s+1\/1\s+Running\s+0\s+\S+\s+127\.0\.0\.1\s+kube-sim\s+<none>\s+<none>$/m)
  })

  it('debug --target shares the target\'s PID namespace: ps in the debugger shows /app/web', async () => {
    const r = await kubectl(['debug', '-i', 'pod/web', `--image=${BUSYBOX}`, '--image-pull-policy=IfNotPresent', '--target=web', '--profile=general', '--', 'ps'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^\s*1 nonroot\s+\/app\/web 8080$/m)
    const pod = JSON.parse((await kubectl(['get', 'pod', 'web', '-o', 'json'])).stdout)
    expect(pod.spec.ephemeralContainers).toHaveLength(1)
    expect(pod.spec.ephemeralContainers[0]).toMatchObject({targetContainerName: 'web', stdin: true,
      securityContext: {capabilities: {add: ['SYS_PTRACE']}}, terminationMessagePolicy: 'File'})
    expect(pod.status.ephemeralContainerStatuses[0].state.terminated).toMatchObject({exitCode: 0, reason: 'Completed'})
  })

  it('debug in a namespace enforcing PodSecurity restricted: the general profile is refused, restricted works', async () => {
    const file = manifest('locked.yaml', `
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: locked}
spec:
  securityContext: {runAsNonRoot: true, runAsUser: 65532, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: app
    image: ${DISTROLESS}
    imagePullPolicy: IfNotPresent
    securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
`)
    expect((await kubectl(['apply', '-f', file])).code).toBe(0)
    expect((await kubectl(['-n', 'locked', 'wait', '--for=condition=Ready', 'pod/web', '--timeout=30s'])).code).toBe(0)
    const refused = await kubectl(['-n', 'locked', 'debug', '-i', 'pod/web', `--image=${BUSYBOX}`, '--target=app', '--profile=general', '--', 'true'])
    expect(refused.code).toBe(1)
    // kubectl prints this notice on stdout.
    const ec = refused.stdout.match(/Defaulting debug container name to (debugger-\w{5})\./)![1]
    expect(refused.stderr).toContain(`Error from server (Forbidden): pods "web" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "${ec}" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "${ec}" must set securityContext.capabilities.drop=["ALL"]; container "${ec}" must not include "SYS_PTRACE" in securityContext.capabilities.add)\n`)
    const ok = await kubectl(['-n', 'locked', 'debug', '-i', 'pod/web', `--image=${BUSYBOX}`, '--target=app', '--profile=restricted', '--', 'sh', '-c', 'id -u; ps'])
    expect(ok.code, ok.stderr).toBe(0)
    expect(ok.stdout).toMatch(/^65532$/m)
    expect(ok.stdout).toContain('/app/web')
    // A non-compliant pod is refused at creation too.
    const bad = await kubectl(['-n', 'locked', 'run', 'rooty', `--image=${BUSYBOX}`, '--restart=Never', '--', 'sleep', '1'])
    expect(bad.stderr).toMatch(/^Error from server \(Forbidden\): pods "rooty" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false \(container "rooty" must set securityContext.allowPrivilegeEscalation=false\), unrestricted capabilities \(container "rooty" must set securityContext.capabilities.drop=\["ALL"\]\), runAsNonRoot != true \(pod or container "rooty" must set securityContext.runAsNonRoot=true\), seccompProfile \(pod or container "rooty" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"\)$/m)
  })

  it('debug --custom adding ports is refused with the API server\'s 422 and adds nothing', async () => {
    const custom = manifest('custom.json', JSON.stringify({ports: [{containerPort: 80}]}))
    const before = sim.dockerIdsOf('default', 'web').length
    const r = await kubectl(['debug', 'pod/web', `--image=${BUSYBOX}`, `--custom=${custom}`, '--profile=general', '--', 'true'])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('The Pod "web" is invalid: spec.ephemeralContainers[1].ports: Forbidden: cannot be set for an Ephemeral Container\n')
    const pod = JSON.parse((await kubectl(['get', 'pod', 'web', '-o', 'json'])).stdout)
    expect(pod.spec.ephemeralContainers).toHaveLength(1)
    expect(sim.dockerIdsOf('default', 'web')).toHaveLength(before)
  })

  it('attach -i feeds stdin to a stdinOnce container; closing it lets the container finish', async () => {
    const r = await kubectl(['attach', '-i', 'cat'], {input: 'hello\nworld\n'})
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toBe('hello\nworld\nbye\n')
    await eventually('cat to complete', async () => (await api('GET', '/api/v1/namespaces/default/pods/cat')).body.status.phase === 'Succeeded')
    expect((await kubectl(['get', 'pod', 'cat'])).stdout).toMatch(/^cat\s+0\/1\s+Completed\s+0\s/m)
  })

  it('exec propagates the exit code and separates stdout from stderr (kubectl offers only v5 over WebSockets)', async () => {
    const v5 = await kubectl(['exec', 'bb', '--', 'sh', '-c', 'echo out; echo err >&2; exit 3'])
    expect([v5.code, v5.stdout]).toEqual([3, 'out\n'])
    expect(v5.stderr).toMatch(/^err\ncommand terminated with exit code 3\n$/)
    expect(simLog.filter((l) => l.includes('/exec?')).at(-1)).toContain('protocol=v5.channel.k8s.io')
    // v5 closes stdin with a [255, 0] frame: wc sees EOF.
    const piped = await kubectl(['exec', '-i', 'bb', '--', 'sh', '-c', 'wc -c; exit 0'], {input: '12345'})
    expect([piped.code, piped.stdout.trim()]).toEqual([0, '5'])
    const unknown = await kubectl(['exec', 'bb', '-c', 'nope', '--', 'true'])
    expect(unknown.stderr).toBe('Error from server (BadRequest): container nope is not valid for pod bb\n')
  })

  it('logs prints the container output (tail, timestamps) and refuses unknown containers', async () => {
    expect((await kubectl(['logs', 'bb'])).stdout).toBe('hello from bb\n')
    expect((await kubectl(['logs', 'bb', '--tail=1', '--timestamps'])).stdout).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z hello from bb\n$/)
    const raw = await api('GET', '/api/v1/namespaces/default/pods/bb/log?container=nope')
    expect(raw.status).toBe(400)
    expect(raw.body.message).toBe('container nope is not valid for pod bb')
  })

  it('a user without patch on pods/ephemeralcontainers gets kubectl\'s Forbidden error', async () => {
    expect((await kubectl(['get', 'pods'], {kubeconfig: viewer})).stdout).toMatch(/^web\s/m)
    const r = await kubectl(['debug', 'pod/web', `--image=${BUSYBOX}`, '--profile=general', '--', 'true'], {kubeconfig: viewer})
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('Error from server (Forbidden): pods "web" is forbidden: User "viewer" cannot patch resource "pods/ephemeralcontainers" in API group "" in the namespace "default"\n')
    expect((await kubectl(['auth', 'can-i', 'patch', 'pods/ephemeralcontainers'], {kubeconfig: viewer})).stdout).toBe('no\n')
    expect((await kubectl(['auth', 'can-i', 'patch', 'pods/ephemeralcontainers'])).stdout).toBe('yes\n')
  })

  it('emptyDir and hostPath volumes: shared between containers, read-only where asked, a debug --custom mount, gone with the pod', async () => {
    const host = join(dir, 'host-data')
    const file = manifest('volumes.yaml', `
apiVersion: v1
kind: Pod
metadata: {name: vols}
spec:
  volumes:
  - {name: scratch, emptyDir: {}}
  - {name: ram, emptyDir: {medium: Memory}}
  - {name: host, hostPath: {path: ${host}, type: DirectoryOrCreate}}
  containers:
  - name: writer
    image: ${BUSYBOX}
    command: [sh, -c, 'echo written > /scratch/x; echo ram > /ram/y; echo host > /host/z; exec sleep inf']
    volumeMounts: [{name: scratch, mountPath: /scratch}, {name: ram, mountPath: /ram}, {name: host, mountPath: /host}]
  - name: reader
    image: ${BUSYBOX}
    command: [sleep, inf]
    volumeMounts: [{name: scratch, mountPath: /data, readOnly: true}, {name: ram, mountPath: /ram}]
`)
    expect((await kubectl(['apply', '-f', file])).stdout).toBe('pod/vols created\n')
    expect((await kubectl(['wait', '--for=condition=Ready', 'pod/vols', '--timeout=30s'])).code).toBe(0)
    await eventually('the writer to have written', async () => (await kubectl(['exec', 'vols', '-c', 'reader', '--', 'cat', '/data/x'])).stdout === 'written\n')
    const read = await kubectl(['exec', 'vols', '-c', 'reader', '--', 'sh', '-c', 'cat /ram/y; grep " /ram " /proc/mounts | cut -d" " -f3; touch /data/w'])
    expect(read.stdout).toBe('ram\ntmpfs\n')
    expect(read.stderr).toContain('Read-only file system')
    expect(read.code).toBe(1)
    // kubectl debug has no volume flag; --custom may add volumeMounts (subPath is refused for ephemeral containers).
    const custom = manifest('mount.json', JSON.stringify({volumeMounts: [{name: 'scratch', mountPath: '/shared', readOnly: true}]}))
    const debugged = await kubectl(['debug', '-i', 'pod/vols', `--image=${BUSYBOX}`, '--image-pull-policy=IfNotPresent', '--profile=general', `--custom=${custom}`, '--', 'cat', '/shared/x'])
    expect(debugged.stdout, debugged.stderr).toMatch(/^written\n$/m)
    const subPath = manifest('subpath.json', JSON.stringify({volumeMounts: [{name: 'scratch', mountPath: '/s', subPath: 'x'}]}))
    const refused = await kubectl(['debug', '-i', 'pod/vols', `--image=${BUSYBOX}`, '--profile=general', `--custom=${subPath}`, '--', 'true'])
    expect(refused.stderr).toMatch(/spec\.ephemeralContainers\[1\]\.volumeMounts\[0\]\.subPath: Forbidden: cannot be set for an Ephemeral Container/)
    expect(readFileSync(join(host, 'z'), 'utf8')).toBe('host\n')
    const uid = JSON.parse((await kubectl(['get', 'pod', 'vols', '-o', 'json'])).stdout).metadata.uid as string
    expect(docker('volume', 'ls', '-q', '--filter', `label=io.kubernetes.pod.uid=${uid}`).split('\n').filter(Boolean)).toHaveLength(2)
    expect((await kubectl(['delete', 'pod', 'vols', '--wait=true'])).code).toBe(0)
    expect(docker('volume', 'ls', '-q', '--filter', `label=io.kubernetes.pod.uid=${uid}`)).toBe('')
  })

  it('get nodes shows the simulator\'s node; debug node/ -it runs in the host\'s namespaces with its / at /host; PodSecurity refuses it', async () => {
    expect((await kubectl(['get', 'nodes'])).stdout).toMatch(/^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION\nkube-sim\s+Ready\s+control-plane\s+\d+[smh]\S*\s+v1\.34\.0-kube-sim\n$/)
    expect((await kubectl(['get', 'node', 'kube-sim', '-o', 'wide'])).stdout).toMatch(/^kube-sim\s+Ready\s+control-plane\s+\S+\s+v1\.34\.0-kube-sim\s+127\.0\.0\.1\s+<none>\s+.+\s+docker:\/\/\S+$/m)
    const node = JSON.parse((await kubectl(['get', 'node', 'kube-sim', '-o', 'json'])).stdout)
    expect(node.metadata.labels).toMatchObject({'kubernetes.io/hostname': 'kube-sim', 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': expect.stringMatching(/^(amd64|arm64)$/)})
    expect(node.status.addresses).toEqual([{type: 'InternalIP', address: '127.0.0.1'}, {type: 'Hostname', address: 'kube-sim'}])
    expect(node.status.conditions.find((c: any) => c.type === 'Ready')).toMatchObject({status: 'True', reason: 'KubeletReady'})
    expect(node.status.nodeInfo).toMatchObject({operatingSystem: 'linux', kubeletVersion: 'v1.34.0-kube-sim', containerRuntimeVersion: expect.stringMatching(/^docker:\/\//)})
    expect(Number(node.status.allocatable.cpu)).toBeGreaterThan(0)
    expect((await api('GET', '/api/v1/nodes?fieldSelector=metadata.name%3Dnope')).body.items).toEqual([])
    expect((await api('GET', '/api/v1/nodes/nope')).body).toMatchObject({code: 404, reason: 'NotFound', message: 'nodes "nope" not found'})

    writeFileSync(join(dir, 'node-marker'), 'on-the-node\n')
    const session = new PtySession(KUBECTL, ['--kubeconfig', admin, 'debug', 'node/kube-sim', '-it', `--image=${BUSYBOX}`, '--image-pull-policy=IfNotPresent', '--profile=general', '--', 'sh'])
    let podName: string
    try {
      podName = (await session.expect(/Creating debugging pod (node-debugger-kube-sim-\w{5}) with container debugger on node kube-sim\./, 20_000))[1]!
      await session.expect(/try pressing enter\./, 20_000)
      // $((...)) keeps the terminal's echo of the command line from matching what is expected of its output.
      session.send(`cat /host${dir}/node-marker; for n in pid net ipc; do ls -l /proc/self/ns/$n; done; echo done-$((6*7))\r`)
      const out = (await session.expect(/on-the-node\r?\n([^]*)done-42/))[1]!
      // The test runs in the host's namespaces: the debugger's are the same ones.
      for (const n of ['pid', 'net', 'ipc']) expect(out).toContain(readlinkSync(`/proc/self/ns/${n}`))
      session.send('exit\r')
      expect((await session.waitExit(10_000)).exitCode).toBe(0)
    } finally {
      await session.close()
    }
    const pod = JSON.parse((await kubectl(['get', 'pod', podName, '-o', 'json'])).stdout)
    expect(pod.spec).toMatchObject({nodeName: 'kube-sim', hostPID: true, hostNetwork: true, hostIPC: true, restartPolicy: 'Never',
      volumes: [{name: 'host-root', hostPath: {path: '/'}}]})
    expect(pod.metadata.labels).toEqual({'app.kubernetes.io/managed-by': 'kubectl-debug'})
    // kubectl leaves the node debugger pod behind.
    expect((await kubectl(['delete', 'pod', podName])).code).toBe(0)

    const sysadmin = await kubectl(['debug', 'node/kube-sim', '-i', `--image=${BUSYBOX}`, '--image-pull-policy=IfNotPresent', '--profile=sysadmin', '--', 'grep', 'CapEff', '/proc/self/status'])
    const sysadminPod = sysadmin.stdout.match(/Creating debugging pod (\S+) /)![1]!
    const privileged = JSON.parse((await kubectl(['get', 'pod', sysadminPod, '-o', 'json'])).stdout)
    expect(privileged.spec.containers[0].securityContext).toEqual({privileged: true})
    expect(privileged.spec).toMatchObject({hostPID: true, hostNetwork: true, hostIPC: true})
    // A privileged container gets every capability of the engine, which cannot start one where it lacks some itself
    // (this VM's root lacks CAP_MAC_OVERRIDE): the kubelet then reports runc's StartError, as the simulator does.
    if (dockerOk('run', '--rm', '--privileged', BUSYBOX, 'true')) expect(sysadmin.stdout).toMatch(/^CapEff:\s+0000001?f{9,10}$/m)
    else expect(privileged.status.containerStatuses[0].state.terminated).toMatchObject({reason: 'StartError', message: expect.stringContaining('unable to apply caps')})
    expect((await kubectl(['delete', 'pod', sysadminPod])).code).toBe(0)

    const refused = await kubectl(['-n', 'locked', 'debug', 'node/kube-sim', `--image=${BUSYBOX}`, '--profile=general', '--', 'true'])
    expect(refused.code).toBe(1)
    expect(refused.stderr).toMatch(/^Error from server \(Forbidden\): pods "node-debugger-kube-sim-\w{5}" is forbidden: violates PodSecurity "restricted:latest": host namespaces \(hostNetwork=true, hostPID=true, hostIPC=true\), hostPath volumes \(volume "host-root"\), /)
  })

  it('debug --copy-to --replace --set-image: the copy shares one PID namespace, runs the new image, the original is gone', async () => {
    // busybox's sh on an open stdin waits; the distroless image set on the copy runs its web server instead.
    const file = manifest('orig.yaml', `
apiVersion: v1
kind: Pod
metadata: {name: orig, labels: {app: orig}}
spec:
  containers: [{name: orig, image: ${BUSYBOX}, imagePullPolicy: IfNotPresent, stdin: true}]
`)
    expect((await kubectl(['apply', '-f', file])).code).toBe(0)
    expect((await kubectl(['wait', '--for=condition=Ready', 'pod/orig', '--timeout=30s'])).code).toBe(0)
    // --attach, not -i: a container without stdinOnce is detached once the attacher's stdin ends (containerd and
    // Docker alike), and the input of this kubectl ends at once.
    const r = await kubectl(['debug', 'orig', '--attach', '--copy-to=orig-copy', '--replace', `--set-image=orig=${DISTROLESS}`, '--profile=general',
      `--image=${BUSYBOX}`, '--image-pull-policy=IfNotPresent', '--container=dbg', '--', 'sh', '-c', 'sleep 1; ps'])
    expect(r.code, r.stderr).toBe(0)
    // shareProcessNamespace: the pause process is PID 1, the copied container runs the image set by --set-image.
    expect(r.stdout).toMatch(/^\s*1 65535\s+sleep inf$/m)
    expect(r.stdout).toMatch(/^\s*\d+ nonroot\s+\/app\/web 8080$/m)
    expect((await kubectl(['get', 'pod', 'orig'])).stderr).toBe('Error from server (NotFound): pods "orig" not found\n')
    const copy = JSON.parse((await kubectl(['get', 'pod', 'orig-copy', '-o', 'json'])).stdout)
    expect(copy.metadata.labels).toBeUndefined() // the general profile drops them (--keep-labels keeps them)
    expect(copy.spec).toMatchObject({shareProcessNamespace: true, nodeName: 'kube-sim'})
    expect(copy.spec.containers.map((c: any) => [c.name, c.image])).toEqual([['orig', DISTROLESS], ['dbg', BUSYBOX]])
    expect(copy.spec.containers[1].securityContext).toEqual({capabilities: {add: ['SYS_PTRACE']}})
    expect((await kubectl(['delete', 'pod', 'orig-copy', '--wait=true'])).code).toBe(0)
    expect(sim.dockerIdsOf('default', 'orig-copy')).toEqual([])
  })

  it('restarts as a kubelet: RESTARTS grows under CrashLoopBackOff, logs --previous, init containers, activeDeadlineSeconds', async () => {
    const file = manifest('restarts.yaml', `
apiVersion: v1
kind: Pod
metadata: {name: crash}
spec:
  volumes: [{name: state, emptyDir: {}}]
  containers:
  - name: crash
    image: ${BUSYBOX}
    imagePullPolicy: IfNotPresent
    # Each instance prints its number (the emptyDir outlives the instances, as on a kubelet); the fifth stays up.
    command: [sh, -c, 'echo run >> /state/runs; n=$(wc -l < /state/runs); echo "run $n"; [ $n -lt 5 ] || sleep 600; exit 2']
    volumeMounts: [{name: state, mountPath: /state}]
---
apiVersion: v1
kind: Pod
metadata: {name: held}
spec:
  restartPolicy: OnFailure
  activeDeadlineSeconds: 600
  volumes: [{name: tools, emptyDir: {}}]
  initContainers:
  - {name: copy, image: ${BUSYBOX}, imagePullPolicy: IfNotPresent, command: [cp, /bin/busybox, /tools/busybox], volumeMounts: [{name: tools, mountPath: /tools}]}
  containers:
  - name: app
    image: ${DISTROLESS}
    imagePullPolicy: IfNotPresent
    command: [/tools/busybox, sh, -c, 'echo started from the init container copy; exec /tools/busybox sleep 600']
    volumeMounts: [{name: tools, mountPath: /tools}]
---
apiVersion: v1
kind: Pod
metadata: {name: once}
spec:
  restartPolicy: OnFailure
  containers: [{name: once, image: ${BUSYBOX}, imagePullPolicy: IfNotPresent, command: [sh, -c, 'exit 0']}]
`)
    expect((await kubectl(['apply', '-f', file])).code).toBe(0)
    // The back-offs are short here (restartBackoffMs 500: 0, 0.5, 1, 2 s): table and object are read together.
    const [row, crash] = await eventually('crash to back off', async () => {
      const [table, json] = await Promise.all([kubectl(['get', 'pod', 'crash', '--no-headers']), kubectl(['get', 'pod', 'crash', '-o', 'json'])])
      const p = JSON.parse(json.stdout)
      return /^crash\s+0\/1\s+CrashLoopBackOff\s+[1-3] \(\d+s ago\)\s/.test(table.stdout) &&
        p.status.containerStatuses[0].state.waiting?.reason === 'CrashLoopBackOff' && [table.stdout, p] as const
    }, 15_000)
    const restarts = Number(row.split(/\s+/)[3])
    expect(crash.status.phase).toBe('Running') // restartPolicy Always: it is being restarted
    const status = crash.status.containerStatuses[0]
    // The first exit restarts at once; then each back-off doubles from restartBackoffMs.
    expect(status.restartCount).toBe(restarts)
    expect(status.state.waiting).toMatchObject({reason: 'CrashLoopBackOff',
      message: expect.stringMatching(new RegExp(`^back-off ${['500ms', '1s', '2s'][status.restartCount - 1]} restarting failed container=crash pod=crash_default\\(${crash.metadata.uid}\\)$`))})
    expect(status.lastState.terminated).toMatchObject({exitCode: 2, reason: 'Error', startedAt: expect.any(String), finishedAt: expect.any(String)})
    const up = await eventually('the fifth instance to run', async () => {
      const line = (await kubectl(['get', 'pod', 'crash', '--no-headers'])).stdout
      return /^crash\s+1\/1\s+Running\s+4 \(\d+s ago\)\s/.test(line) && line
    }, 15_000)
    expect(Number(up.split(/\s+/)[3])).toBeGreaterThan(restarts)
    expect((await kubectl(['logs', 'crash'])).stdout).toBe('run 5\n')
    expect((await kubectl(['logs', 'crash', '--previous'])).stdout).toBe('run 4\n')

    await eventually('held and once to settle', async () => {
      const pods = JSON.parse((await kubectl(['get', 'pods', 'held', 'once', '-o', 'json'])).stdout).items
      return pods[0].status.phase === 'Running' && pods[1].status.phase === 'Succeeded'
    })
    expect((await kubectl(['logs', 'held'])).stdout).toBe('started from the init container copy\n')
    expect((await kubectl(['get', 'pod', 'once', '--no-headers'])).stdout).toMatch(/^once\s+0\/1\s+Completed\s+0\s/) // OnFailure, exit 0: done
    // activeDeadlineSeconds may only go down; once it has passed, the kubelet kills the pod: Failed, DeadlineExceeded.
    const raised = await kubectl(['patch', 'pod', 'held', '-p', '{"spec":{"activeDeadlineSeconds":601}}'])
    expect(raised.stderr).toBe('The Pod "held" is invalid: spec.activeDeadlineSeconds: Invalid value: 601: must be less than or equal to previous value\n')
    expect((await kubectl(['patch', 'pod', 'held', '-p', '{"spec":{"activeDeadlineSeconds":1}}'])).stdout).toBe('pod/held patched\n')
    const failed = await eventually('held to exceed its deadline', async () => {
      const p = JSON.parse((await kubectl(['get', 'pod', 'held', '-o', 'json'])).stdout)
      return p.status.phase === 'Failed' && p
    })
    expect(failed.status).toMatchObject({reason: 'DeadlineExceeded', message: 'Pod was active on the node longer than the specified deadline'})
    expect(failed.status.containerStatuses[0].state.terminated).toMatchObject({exitCode: 137, reason: 'Error'})
    expect(failed.status.initContainerStatuses[0].state.terminated).toMatchObject({exitCode: 0, reason: 'Completed'})

    // The pause, the running fifth instance and the fourth kept for logs --previous (older ones are removed).
    expect(sim.dockerIdsOf('default', 'crash')).toHaveLength(3)
    expect(docker('ps', '-a', '-q', '--filter', `label=io.kubernetes.pod.uid=${crash.metadata.uid}`).split('\n')).toHaveLength(3)
    const ids = ['crash', 'held', 'once'].flatMap((p) => sim.dockerIdsOf('default', p))
    expect((await kubectl(['delete', 'pod', 'crash', 'held', 'once', '--wait=true'])).code).toBe(0)
    for (const id of ids) expect(docker('ps', '-a', '-q', '--no-trunc', '--filter', `id=${id}`)).toBe('')
  })

  it('delete pod removes every Docker container of the pod', async () => {
    const ids = sim.dockerIdsOf('default', 'bb')
    expect(ids.length).toBe(2) // pause + bb
    const r = await kubectl(['delete', 'pod', 'bb', '--wait=true'])
    expect(r.stdout).toBe('pod "bb" deleted from default namespace\n')
    for (const id of ids) expect(docker('ps', '-a', '-q', '--no-trunc', '--filter', `id=${id}`)).toBe('')
    expect((await kubectl(['get', 'pod', 'bb'])).stderr).toBe('Error from server (NotFound): pods "bb" not found\n')
  })
})

describe('the API over HTTP', () => {
  const podsPath = '/api/v1/namespaces/default/pods'
  const ecPath = (pod: string): string => `${podsPath}/${pod}/ephemeralcontainers`
  const SMP = 'application/strategic-merge-patch+json'
  const JSONPATCH = 'application/json-patch+json'
  const MERGE = 'application/merge-patch+json'
  const ec = (name: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({name, image: BUSYBOX, command: ['sleep', 'inf'], ...extra})
  const sleeper = (name: string): object => ({apiVersion: 'v1', kind: 'Pod', metadata: {name},
    spec: {containers: [{name: 'main', image: BUSYBOX, command: ['sleep', 'inf']}]}})
  const names = (pod: any): string[] => (pod.spec.ephemeralContainers ?? []).map((e: {name: string}) => e.name)
  const ecState = async (pod: string, name: string): Promise<any> =>
    (await api('GET', `${podsPath}/${pod}/status`)).body.status.ephemeralContainerStatuses?.find((s: {name: string}) => s.name === name)?.state
  let uid: string

  beforeAll(async () => {
    const created = await api('POST', podsPath, sleeper('p'))
    expect(created.status).toBe(201)
    uid = created.body.metadata.uid
    await eventually('pod p to run', async () => (await api('GET', `${podsPath}/p`)).body.status.phase === 'Running')
  })

  it('watch: replays from a resourceVersion, sends bookmarks and DELETED, ends with 410 Expired after compaction', async () => {
    const rv0 = (await api('GET', `${podsPath}?fieldSelector=metadata.name%3Dw1`)).body.metadata.resourceVersion
    expect((await api('POST', podsPath, sleeper('w1'))).status).toBe(201)
    const query = 'allowWatchBookmarks=true&fieldSelector=metadata.name%3Dw1'
    const w = watch(`${podsPath}?watch=true&resourceVersion=${rv0}&${query}`)
    await eventually('w1 running and a bookmark', async () =>
      w.events.some((e) => e.type === 'MODIFIED' && e.object.status.phase === 'Running') && w.events.at(-1)!.type === 'BOOKMARK')
    expect(w.events[0]).toMatchObject({type: 'ADDED', object: {kind: 'Pod', apiVersion: 'v1', metadata: {name: 'w1'}}})
    const rvs = w.events.filter((e) => e.type !== 'BOOKMARK').map((e) => Number(e.object.metadata.resourceVersion))
    expect(rvs).toEqual([...rvs].sort((a, b) => a - b))
    expect(new Set(rvs).size).toBe(rvs.length)
    expect(w.events.find((e) => e.type === 'BOOKMARK')!.object).toEqual({kind: 'Pod', apiVersion: 'v1', metadata: {resourceVersion: expect.stringMatching(/^\d+$/)}})
    expect((await api('DELETE', `${podsPath}/w1`)).status).toBe(200)
    await eventually('DELETED', async () => w.events.some((e) => e.type === 'DELETED' && e.object.metadata.name === 'w1'))
    w.close()

    sim.compactHistory()
    const compactedAt = sim.resourceVersion
    const stale = watch(`${podsPath}?watch=true&resourceVersion=${rv0}&${query}`)
    await stale.ended
    expect(stale.events).toEqual([{type: 'ERROR', object: {kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure',
      message: `too old resource version: ${rv0} (${compactedAt})`, reason: 'Expired', code: 410}}])

    const watchesBefore = sim.openWatches
    const open = watch(`${podsPath}?watch=true&resourceVersion=${sim.resourceVersion}&fieldSelector=metadata.name%3Dp`)
    await eventually('the watch to be served', async () => sim.openWatches > watchesBefore)
    sim.compactHistory({expireWatches: true})
    await open.ended
    expect(open.events.at(-1)).toMatchObject({type: 'ERROR', object: {code: 410, reason: 'Expired'}})

    const started = Date.now()
    const timed = watch(`${podsPath}?watch=true&timeoutSeconds=1&fieldSelector=metadata.name%3Dp`)
    await timed.ended
    expect(Date.now() - started).toBeGreaterThanOrEqual(900)
    expect(timed.events.map((e) => e.type)).toEqual(['ADDED']) // no resourceVersion: the current state first
  })

  it('lists by label and field selectors; follows logs until the container exits; reports Failed with exit codes', async () => {
    const pod = {apiVersion: 'v1', kind: 'Pod', metadata: {name: 'lg', labels: {app: 'lg'}}, spec: {restartPolicy: 'Never', containers: [
      {name: 'c', image: BUSYBOX, command: ['sh', '-c', 'echo one; sleep 1; echo two']},
      {name: 'bad', image: BUSYBOX, command: ['sh', '-c', 'echo oops >&2; exit 2']}]}}
    expect((await api('POST', podsPath, pod)).status).toBe(201)
    const list = async (query: string): Promise<string[]> => (await api('GET', `${podsPath}?${query}`)).body.items.map((i: any) => i.metadata.name)
    expect(await list('labelSelector=app%3Dlg')).toEqual(['lg'])
    expect(await list('labelSelector=app%20in%20(x%2Clg)')).toEqual(['lg'])
    expect(await list('labelSelector=app%21%3Dlg%2Capp')).toEqual(['web']) // has app, but not app=lg
    expect(await list('labelSelector=%21app')).toEqual(['cat', 'p'])
    expect(await list('fieldSelector=metadata.name%3Dlg')).toEqual(['lg'])
    const badField = await api('GET', `${podsPath}?fieldSelector=spec.foo%3D1`)
    expect([badField.status, badField.body.message]).toEqual([400, 'field label not supported: spec.foo'])
    await eventually('c to run', async () => (await api('GET', `${podsPath}/lg`)).body.status.containerStatuses?.[0]?.state?.running)
    const started = Date.now()
    const followed = await api('GET', `${podsPath}/lg/log?container=c&follow=true`)
    expect(followed.body).toBe('one\ntwo\n')
    expect(Date.now() - started).toBeGreaterThan(300)
    const done = await eventually('lg to fail', async () => {
      const p = (await api('GET', `${podsPath}/lg`)).body
      return p.status.phase === 'Failed' && p
    })
    expect(done.status.containerStatuses.map((c: any) => [c.name, c.state.terminated.exitCode, c.state.terminated.reason, c.ready]))
      .toEqual([['c', 0, 'Completed', false], ['bad', 2, 'Error', false]])
    expect(done.status.conditions.find((c: any) => c.type === 'Ready')).toMatchObject({status: 'False', reason: 'PodFailed'})
    expect((await api('GET', `${podsPath}/lg/log?container=bad`)).body).toBe('oops\n')
    expect((await api('GET', `${podsPath}/lg/log`)).body.message).toBe('a container name must be specified for pod lg, choose one of: [c bad]')
    // printPod walks the statuses backwards, so the first container's reason wins (a real server's quirk).
    expect((await kubectl(['get', 'pod', 'lg'])).stdout).toMatch(/^lg\s+0\/2\s+Completed\s+0\s/m)
  })

  it('exec over WebSockets: v4 status frames, v5 stdin close, base64 framing, resize, negotiation and refusals', async () => {
    const exec = `${podsPath}/p/exec`
    const v4 = await wsSession(exec, {container: 'main', command: ['sh', '-c', 'echo four; echo err >&2; exit 4'], stdout: 'true', stderr: 'true'}, ['v4.channel.k8s.io'])
    expect(v4.protocol).toBe('v4.channel.k8s.io')
    expect(v4.frames[0]).toEqual([1, Buffer.alloc(0)]) // the "connected" frame on the lowest writable channel
    expect([channel(v4, 1), channel(v4, 2)]).toEqual(['four\n', 'err\n'])
    expect(v4.frames.at(-1)![0]).toBe(3)
    expect(JSON.parse(channel(v4, 3))).toEqual({metadata: {}, status: 'Failure',
      message: 'command terminated with non-zero exit code: error executing command [sh -c echo four; echo err >&2; exit 4], exit code 4',
      reason: 'NonZeroExitCode', details: {causes: [{reason: 'ExitCode', message: '4'}]}})
    expect(v4.closeCode).toBe(1000)

    const v5 = await wsSession(exec, {container: 'main', command: 'cat', stdin: 'true', stdout: 'true'}, ['v5.channel.k8s.io'],
      [Buffer.from('\x00ping'), Buffer.from([255, 0])])
    expect([v5.protocol, channel(v5, 1), channel(v5, 3)]).toEqual(['v5.channel.k8s.io', 'ping', '{"metadata":{},"status":"Success"}'])

    // The first offered protocol the server supports wins; base64 protocols use text frames.
    const b64 = await wsSession(exec, {container: 'main', command: ['echo', 'b64'], stdout: 'true'}, ['v4.base64.channel.k8s.io', 'v5.channel.k8s.io'])
    expect([b64.protocol, channel(b64, 1)]).toEqual(['v4.base64.channel.k8s.io', 'b64\n'])

    // The resize lands asynchronously (as with a kubelet): poll the size for up to 5 s.
    const poll = 'i=0; while [ $i -lt 50 ]; do s=$(stty size 2>/dev/null); [ "$s" = "30 100" ] && break; i=$((i+1)); sleep 0.1; done; echo "$s"'
    const tty = await wsSession(exec, {container: 'main', command: ['sh', '-c', poll], stdout: 'true', tty: 'true'}, ['v5.channel.k8s.io'],
      [Buffer.from('\x04{"Width":100,"Height":30}')])
    expect(channel(tty, 1)).toBe('30 100\r\n')

    sim.setStreamProtocols(['v4.channel.k8s.io'])
    try {
      const refused = await wsSession(exec, {container: 'main', command: 'true', stdout: 'true'}, ['v5.channel.k8s.io'])
      expect(refused.refused).toEqual({status: 400, body: expect.objectContaining({reason: 'BadRequest',
        message: 'unable to upgrade: requested protocol(s) are not supported: v5.channel.k8s.io; supports v4.channel.k8s.io'})})
    } finally {
      sim.setStreamProtocols(ALL_PROTOCOLS)
    }
    const noContainer = await wsSession(exec, {container: 'nope', command: 'true', stdout: 'true'}, ['v5.channel.k8s.io'])
    expect(noContainer.refused).toEqual({status: 400, body: {kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure',
      message: 'container nope is not valid for pod p', reason: 'BadRequest', code: 400}})
    const noPod = await wsSession(`${podsPath}/nope/attach`, {stdout: 'true'}, ['v5.channel.k8s.io'])
    expect(noPod.refused?.status).toBe(404)
  })

  it('ephemeralcontainers accepts strategic merge, JSON and merge patches with their own list semantics', async () => {
    const smp = await api('PATCH', ecPath('p'), {spec: {ephemeralContainers: [ec('e1')]}}, {contentType: SMP})
    expect(smp.status).toBe(200)
    expect(smp.body.kind).toBe('Pod')
    // Defaulting applies: pull policy from the tag, termination message fields.
    expect(smp.body.spec.ephemeralContainers).toEqual([{...ec('e1'), imagePullPolicy: 'IfNotPresent',
      terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File'}])
    // What kubectl debug sends once ECs exist: $setElementOrder plus the new element (merged by name).
    const ordered = await api('PATCH', ecPath('p'), {spec: {'$setElementOrder/ephemeralContainers': [{name: 'e1'}, {name: 'e2'}],
      ephemeralContainers: [ec('e2')]}}, {contentType: SMP})
    expect(names(ordered.body)).toEqual(['e1', 'e2'])
    const jp = await api('PATCH', ecPath('p'), [{op: 'test', path: '/spec/ephemeralContainers/0/name', value: 'e1'},
      {op: 'add', path: '/spec/ephemeralContainers/-', value: ec('e3')}], {contentType: JSONPATCH})
    expect(names(jp.body)).toEqual(['e1', 'e2', 'e3'])
    const failedTest = await api('PATCH', ecPath('p'), [{op: 'test', path: '/spec/ephemeralContainers/0/name', value: 'zz'},
      {op: 'add', path: '/spec/ephemeralContainers/-', value: ec('e9')}], {contentType: JSONPATCH})
    expect([failedTest.status, failedTest.body.reason]).toEqual([422, 'Invalid'])
    // RFC 7386 replaces lists: sending only the new element removes the others, which is forbidden.
    const replaced = await api('PATCH', ecPath('p'), {spec: {ephemeralContainers: [ec('e4')]}}, {contentType: MERGE})
    expect(replaced.status).toBe(422)
    expect(replaced.body.message).toBe('Pod "p" is invalid: [' + ['e1', 'e2', 'e3'].map((n) =>
      `spec.ephemeralContainers: Forbidden: existing ephemeral containers "${n}" may not be removed\n`).join(', ') + ']')
    const current = (await api('GET', ecPath('p'))).body
    const merged = await api('PATCH', ecPath('p'), {spec: {ephemeralContainers: [...current.spec.ephemeralContainers, ec('e4')]}}, {contentType: MERGE})
    expect(names(merged.body)).toEqual(['e1', 'e2', 'e3', 'e4'])
    // Other changes through the subresource are ignored, as its strategy drops them.
    const sneaky = await api('PATCH', ecPath('p'), {metadata: {labels: {sneaky: 'yes'}}, spec: {containers: [{name: 'main', image: 'other'}]}}, {contentType: MERGE})
    expect(sneaky.status).toBe(200)
    expect(sneaky.body.metadata.labels).toBeUndefined()
    expect(sneaky.body.spec.containers[0].image).toBe(BUSYBOX)
    const unsupported = await api('PATCH', ecPath('p'), {}, {contentType: 'application/apply-patch+yaml'})
    expect([unsupported.status, unsupported.body.reason]).toEqual([415, 'UnsupportedMediaType'])
    await eventually('e1..e4 to run', async () => {
      const states = await Promise.all(['e1', 'e2', 'e3', 'e4'].map((n) => ecState('p', n)))
      return states.every((s) => s?.running)
    })
  })

  it('existing ephemeral containers may be neither removed nor changed; stale updates conflict', async () => {
    const changed = await api('PATCH', ecPath('p'), [{op: 'replace', path: '/spec/ephemeralContainers/0/image', value: DISTROLESS}], {contentType: JSONPATCH})
    expect(changed.status).toBe(422)
    expect(changed.body.message).toMatch(/^Pod "p" is invalid: spec\.ephemeralContainers\[e1\]: Forbidden: existing ephemeral containers "e1" may not be changed\n/)
    expect(changed.body.details.causes).toEqual([{reason: 'FieldValueForbidden', field: 'spec.ephemeralContainers[e1]',
      message: expect.stringMatching(/^Forbidden: existing ephemeral containers "e1" may not be changed\n/)}])
    // A strategic merge patch element with an existing name merges into it: also a change.
    const smp = await api('PATCH', ecPath('p'), {spec: {ephemeralContainers: [{name: 'e2', args: ['x']}]}}, {contentType: SMP})
    expect(smp.body.message).toMatch(/^Pod "p" is invalid: spec\.ephemeralContainers\[e2\]: Forbidden: existing ephemeral containers "e2" may not be changed/)
    const removed = await api('PATCH', ecPath('p'), [{op: 'remove', path: '/spec/ephemeralContainers/1'}], {contentType: JSONPATCH})
    expect(removed.body).toEqual({kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure',
      message: 'Pod "p" is invalid: spec.ephemeralContainers: Forbidden: existing ephemeral containers "e2" may not be removed\n',
      reason: 'Invalid', details: {name: 'p', kind: 'Pod', causes: [{reason: 'FieldValueForbidden',
        message: 'Forbidden: existing ephemeral containers "e2" may not be removed\n', field: 'spec.ephemeralContainers'}]}, code: 422})
    const pod = (await api('GET', ecPath('p'))).body
    const stale = {...pod, metadata: {...pod.metadata, resourceVersion: '1'}, spec: {...pod.spec, ephemeralContainers: [...pod.spec.ephemeralContainers, ec('e5')]}}
    expect((await api('PUT', ecPath('p'), stale)).body).toEqual({kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure',
      message: 'Operation cannot be fulfilled on pods "p": the object has been modified; please apply your changes to the latest version and try again',
      reason: 'Conflict', details: {name: 'p', kind: 'pods'}, code: 409})
    const put = await api('PUT', ecPath('p'), {...stale, metadata: pod.metadata})
    expect(names(put.body)).toEqual(['e1', 'e2', 'e3', 'e4', 'e5'])
  })

  it('rejects duplicate names, unknown targets and forbidden fields with exact Status objects', async () => {
    const n = 5 // index of the next element
    const dup = await api('PATCH', ecPath('p'), {spec: {ephemeralContainers: [ec('main')]}}, {contentType: SMP})
    expect(dup.body).toEqual({kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure',
      message: `Pod "p" is invalid: spec.ephemeralContainers[${n}].name: Duplicate value: "main"`, reason: 'Invalid',
      details: {name: 'p', kind: 'Pod', causes: [{reason: 'FieldValueDuplicate', message: 'Duplicate value: "main"', field: `spec.ephemeralContainers[${n}].name`}]},
      code: 422})
    const target = await api('PATCH', ecPath('p'), {spec: {ephemeralContainers: [ec('et', {targetContainerName: 'nope'})]}}, {contentType: SMP})
    expect(target.body.message).toBe(`Pod "p" is invalid: spec.ephemeralContainers[${n}].targetContainerName: Not found: "nope"`)
    expect(target.body.details.causes).toEqual([{reason: 'FieldValueNotFound', message: 'Not found: "nope"', field: `spec.ephemeralContainers[${n}].targetContainerName`}])
    const many = await api('PATCH', ecPath('p'), {spec: {ephemeralContainers: [{name: 'Bad_Name', ports: [{containerPort: 80}],
      resources: {limits: {cpu: '1'}}, lifecycle: {preStop: {exec: {command: ['true']}}}, volumeMounts: [{name: 'v', mountPath: '/v', subPath: 'x'}]}]}}, {contentType: SMP})
    expect(many.body.message).toBe(`Pod "p" is invalid: [spec.ephemeralContainers[${n}].name: Invalid value: "Bad_Name": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?'), spec.ephemeralContainers[${n}].image: Required value, spec.ephemeralContainers[${n}].volumeMounts[0].name: Not found: "v", spec.ephemeralContainers[${n}].ports: Forbidden: cannot be set for an Ephemeral Container, spec.ephemeralContainers[${n}].resources: Forbidden: cannot be set for an Ephemeral Container, spec.ephemeralContainers[${n}].lifecycle: Forbidden: cannot be set for an Ephemeral Container, spec.ephemeralContainers[${n}].volumeMounts[0].subPath: Forbidden: cannot be set for an Ephemeral Container]`)
    expect(many.body.details.causes.map((c: {reason: string}) => c.reason)).toEqual(['FieldValueInvalid', 'FieldValueRequired', 'FieldValueNotFound',
      'FieldValueForbidden', 'FieldValueForbidden', 'FieldValueForbidden', 'FieldValueForbidden'])
    expect(names((await api('GET', ecPath('p'))).body)).toHaveLength(n)
  })

  it('a pod bound to a node without a kubelet stays Pending; DELETE checks preconditions and is final at once for it', async () => {
    const pod = {apiVersion: 'v1', kind: 'Pod', metadata: {name: 'elsewhere'}, spec: {nodeName: 'node-2', containers: [{name: 'c', image: BUSYBOX}]}}
    const created = await api('POST', podsPath, pod)
    expect(created.status).toBe(201)
    await new Promise((r) => setTimeout(r, 500))
    const got = (await api('GET', `${podsPath}/elsewhere`)).body
    expect(got.spec.nodeName).toBe('node-2')
    expect(got.status).toEqual({phase: 'Pending', qosClass: 'BestEffort'})
    expect(sim.dockerIdsOf('default', 'elsewhere')).toEqual([])
    const wrongUid = await api('DELETE', `${podsPath}/elsewhere`, {kind: 'DeleteOptions', apiVersion: 'v1', preconditions: {uid: 'nope'}})
    expect([wrongUid.status, wrongUid.body.message]).toEqual([409,
      `Operation cannot be fulfilled on pods "elsewhere": Precondition failed: UID in precondition: nope, UID in object meta: ${created.body.metadata.uid}`])
    const deleted = await api('DELETE', `${podsPath}/elsewhere`, {kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 0,
      propagationPolicy: 'Background', preconditions: {uid: created.body.metadata.uid}})
    expect(deleted.status).toBe(200)
    await eventually('elsewhere to be gone', async () => (await api('GET', `${podsPath}/elsewhere`)).status === 404)
  })

  it('a missing image gives ErrImagePull, then ImagePullBackOff, with the kubelet\'s messages', async () => {
    const image = 'kube-sim-missing/nothing:1'
    expect((await api('PATCH', ecPath('p'), {spec: {ephemeralContainers: [ec('e-missing', {image})]}}, {contentType: SMP})).status).toBe(200)
    const pullError = 'rpc error: code = NotFound desc = failed to pull and unpack image "docker.io/kube-sim-missing/nothing:1": failed to resolve reference "docker.io/kube-sim-missing/nothing:1": docker.io/kube-sim-missing/nothing:1: not found'
    const waitingFor = (reason: string): Promise<unknown> => eventually(reason, async () => {
      const state = await ecState('p', 'e-missing')
      return state?.waiting?.reason === reason && state
    })
    expect(await waitingFor('ErrImagePull')).toEqual({waiting: {reason: 'ErrImagePull', message: pullError}})
    expect(await waitingFor('ImagePullBackOff'))
      .toEqual({waiting: {reason: 'ImagePullBackOff', message: `Back-off pulling image "${image}": ErrImagePull: ${pullError}`}})
    const logs = await api('GET', `${podsPath}/p/log?container=e-missing`)
    expect([logs.status, logs.body.message]).toEqual([400, 'container "e-missing" in pod "p" is waiting to start: image can\'t be pulled'])
  })

  it('runAsNonRoot with an image that runs as root: CreateContainerConfigError', async () => {
    expect((await api('PATCH', ecPath('p'), {spec: {ephemeralContainers: [ec('e-root', {securityContext: {runAsNonRoot: true}})]}}, {contentType: SMP})).status).toBe(200)
    expect(await eventually('CreateContainerConfigError', async () => {
      const state = await ecState('p', 'e-root')
      // Every container is ContainerCreating first; wait for what the kubelet decides.
      return state?.waiting && state.waiting.reason !== 'ContainerCreating' && state
    })).toEqual({waiting: {
      reason: 'CreateContainerConfigError', message: `container has runAsNonRoot and image will run as root (pod: "p_default(${uid})", container: e-root)`}})
    // With a non-root uid it starts.
    expect((await api('PATCH', ecPath('p'), {spec: {ephemeralContainers: [ec('e-user', {securityContext: {runAsNonRoot: true, runAsUser: 1000}})]}}, {contentType: SMP})).status).toBe(200)
    await eventually('e-user to run', async () => (await ecState('p', 'e-user'))?.running)
  })

  it('unknown pods, a disabled feature, missing tokens and RBAC denials answer with the real Status objects', async () => {
    expect((await api('PATCH', ecPath('nope'), {spec: {}}, {contentType: SMP})).body).toEqual({kind: 'Status', apiVersion: 'v1', metadata: {},
      status: 'Failure', message: 'pods "nope" not found', reason: 'NotFound', details: {name: 'nope', kind: 'pods'}, code: 404})
    expect((await api('GET', '/api/v1/namespaces/default/pods', undefined, {token: null})).body).toEqual({kind: 'Status', apiVersion: 'v1',
      metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401})
    expect((await api('GET', '/api/v1/namespaces/default/pods', undefined, {token: 'wrong'})).status).toBe(401)
    expect((await api('PATCH', ecPath('p'), {spec: {}}, {contentType: SMP, token: 'viewer-token'})).body).toEqual({kind: 'Status', apiVersion: 'v1',
      metadata: {}, status: 'Failure',
      message: 'pods "p" is forbidden: User "viewer" cannot patch resource "pods/ephemeralcontainers" in API group "" in the namespace "default"',
      reason: 'Forbidden', details: {name: 'p', kind: 'pods'}, code: 403})
    const discovery = (await api('GET', '/api/v1')).body
    expect(discovery.resources.find((r: {name: string}) => r.name === 'pods/ephemeralcontainers')).toEqual(
      {name: 'pods/ephemeralcontainers', singularName: '', namespaced: true, kind: 'Pod', verbs: ['get', 'patch', 'update']})

    const old = await startKubeSim({ephemeralContainers: false})
    sims.push(old)
    const disabled = await api('PATCH', ecPath('p'), {spec: {}}, {contentType: SMP, target: old})
    expect(disabled.body).toEqual({kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure',
      message: 'the server could not find the requested resource', reason: 'NotFound', details: {}, code: 404})
    const resources = (await api('GET', '/api/v1', undefined, {target: old})).body.resources.map((r: {name: string}) => r.name)
    expect(resources).toContain('pods/exec')
    expect(resources).not.toContain('pods/ephemeralcontainers')
  })
})

describe('the launcher (npm run kube-sim)', () => {
  it('serves, writes the kubeconfig, then on SIGTERM removes its containers and exits 0', async () => {
    const config = join(dir, 'launched.kubeconfig')
    const child = spawn(process.execPath, [join(ROOT, 'test/support/kube-sim/main.ts'), '--kubeconfig', config], {stdio: ['ignore', 'ignore', 'pipe']})
    try {
      let stderr = ''
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
      const line = await eventually('the serving line', async () => stderr.match(/^kube-sim: serving on (https:\/\/127\.0\.0\.1:\d+), kubeconfig (.+)$/m))
      expect(line![2]).toBe(config)
      const run = await kubectl(['run', 'launched', `--image=${BUSYBOX}`, '--restart=Never', '--', 'sleep', 'inf'], {kubeconfig: config})
      expect(run.stdout).toBe('pod/launched created\n')
      const owner = `label=org.mindbg.kube-sim.owner=${hostname()}:${child.pid}`
      await eventually('the pause and app containers', async () => docker('ps', '-q', '--filter', owner).split('\n').filter(Boolean).length === 2)
      const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve([code, signal])))
      child.kill('SIGTERM')
      expect(await exited).toEqual([0, null])
      expect(stderr).toContain('kube-sim: SIGTERM, removing containers\n')
      expect(docker('ps', '-aq', '--filter', owner)).toBe('')
    } finally {
      child.kill('SIGKILL')
    }
  })

  it('started with npm run from a script and ended by a SIGTERM to npm (which does not pass it on): it stops and removes its containers', {timeout: 90_000}, async () => {
    const config = join(dir, 'npm-launched.kubeconfig')
    const npm = spawn('npm', ['run', '--silent', 'kube-sim', '--', '--kubeconfig', config], {cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe']})
    let stderr = ''
    npm.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    try {
      await eventually('the serving line', async () => /^kube-sim: serving on /m.test(stderr), 60_000)
      await kubectl(['run', 'npm-launched', `--image=${BUSYBOX}`, '--restart=Never', '--', 'sleep', 'inf'], {kubeconfig: config})
      const sim = execFileSync('pgrep', ['-f', `kube-sim/main.ts --kubeconfig ${config}`], {encoding: 'utf8'}).trim().split('\n')[0]!
      const owner = `label=org.mindbg.kube-sim.owner=${hostname()}:${sim}`
      await eventually('the pause and app containers', async () => docker('ps', '-q', '--filter', owner).split('\n').filter(Boolean).length === 2)
      npm.kill('SIGTERM')
      await eventually('the simulator to stop', async () => {
        try {
          process.kill(Number(sim), 0)
          return false
        } catch {
          return true
        }
      }, 30_000)
      expect(docker('ps', '-aq', '--filter', owner)).toBe('')
    } finally {
      npm.kill('SIGKILL')
    }
  })
})
