/**
 * mindbg against pods: the built CLI as a subprocess, the Kubernetes API simulator (backed by the real Docker
 * engine) as the cluster, the real kubectl to set things up and to look at what mindbg did.
 */
import {type ChildProcess, execFileSync, spawn} from 'node:child_process'
import {createHash} from 'node:crypto'
import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import net from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {WebSocket} from 'ws'

import {startKubeSim, type KubeSim} from '../support/kube-sim/server.ts'
import {KUBECTL, kubectlWith} from '../support/kubectl.js'
import {PtySession} from '../support/pty.js'
import {collect, eventually, mindbg, type RunResult, requireEngine, ROOT, startMindbg, testEnv} from './helpers.js'

const dir = mkdtempSync(join(tmpdir(), 'mindbg-kube-'))
let sim: KubeSim
let kubeconfig: string
let viewerConfig: string

const kubectl = (...args: string[]): Promise<string> => kubectlWith(kubeconfig, ...args)

async function apply(yaml: string): Promise<void> {
  const file = join(dir, `m-${Math.random().toString(36).slice(2)}.yaml`)
  writeFileSync(file, yaml)
  await kubectl('apply', '-f', file)
}

const kube = (args: string[], options: {input?: string | Buffer; env?: Record<string, string | undefined>; config?: string} = {}): Promise<RunResult> =>
  mindbg(['attach', '--kubeconfig', options.config ?? kubeconfig, ...args], {env: options.env ?? {}, ...(options.input !== undefined ? {input: options.input} : {})})

const pod = async (name: string, namespace = 'default'): Promise<Record<string, any>> => JSON.parse(await kubectl('get', 'pod', name, '-n', namespace, '-o', 'json'))
const ephemeral = async (name: string, namespace = 'default'): Promise<Array<Record<string, any>>> => (await pod(name, namespace)).spec.ephemeralContainers ?? []
const lastEphemeral = async (name: string, namespace = 'default'): Promise<Record<string, any>> => (await ephemeral(name, namespace)).at(-1)!
const ecStatus = async (podName: string, ec: string, namespace = 'default'): Promise<Record<string, any> | undefined> =>
  ((await pod(podName, namespace)).status.ephemeralContainerStatuses ?? []).find((s: {name: string}) => s.name === ec)

/** Resolves once the process has printed `text` on stdout. */
function outputOf(child: ChildProcess, text: string, timeoutMs = 30_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = ''
    const timer = setTimeout(() => reject(new Error(`no "${text}" from mindbg within ${timeoutMs} ms`)), timeoutMs)
    child.stdout!.on('data', (d: Buffer) => {
      seen += d
      if (seen.includes(text)) {
        clearTimeout(timer)
        resolve()
      }
    })
  })
}

/** Every request the main simulator served, as it logs them. */
const simLog: string[] = []

async function waitRunning(name: string, namespace = 'default'): Promise<void> {
  await eventually(`pod ${namespace}/${name} to run`, async () => (await pod(name, namespace)).status?.phase === 'Running', 30_000)
}

beforeAll(async () => {
  requireEngine()
  sim = await startKubeSim({
    log: (line) => simLog.push(line),
    rbac: {
      users: {
        'viewer-token': {name: 'viewer', allow: [{verbs: ['get', 'list', 'watch'], resources: ['pods', 'pods/log', 'namespaces']}]},
        'no-ns-token': {name: 'no-ns', allow: [{verbs: ['get', 'list', 'watch', 'patch', 'create'], resources: ['pods', 'pods/log', 'pods/ephemeralcontainers', 'pods/attach']}]},
      },
    },
  })
  kubeconfig = join(dir, 'admin.kubeconfig')
  viewerConfig = join(dir, 'viewer.kubeconfig')
  await sim.writeKubeconfig(kubeconfig)
  await sim.writeKubeconfig(viewerConfig, {user: 'viewer'})
  await sim.writeKubeconfig(join(dir, 'no-ns.kubeconfig'), {user: 'no-ns'})
  await kubectl('apply', '-f', join(ROOT, 'test/fixtures/k8s/web.yaml'))
  await kubectl('apply', '-f', join(ROOT, 'test/fixtures/k8s/restricted.yaml'))
  await apply(`apiVersion: v1
kind: Pod
metadata: {name: two}
spec:
  containers:
    - {name: first, image: mindbg-fixture/busybox:local, imagePullPolicy: IfNotPresent, command: [sleep, '3600']}
    - {name: second, image: mindbg-fixture/distroless-web:local, imagePullPolicy: IfNotPresent}
`)
  await apply(`apiVersion: v1
kind: Pod
metadata: {name: stuck}
spec:
  containers:
    - {name: app, image: mindbg-test/absent:1, imagePullPolicy: IfNotPresent}
`)
  await apply(`apiVersion: v1
kind: Pod
metadata: {name: shared}
spec:
  shareProcessNamespace: true
  containers:
    - {name: helper, image: mindbg-fixture/busybox:local, imagePullPolicy: IfNotPresent, command: [sleep, '3600']}
    - {name: app, image: mindbg-fixture/distroless-web:local, imagePullPolicy: IfNotPresent}
`)
  await Promise.all([waitRunning('web'), waitRunning('two'), waitRunning('shared'), waitRunning('web', 'locked')])
}, 120_000)

afterAll(async () => {
  await sim?.close()
  for (const tag of ['gcr.io/distroless/static-debian12:nonroot', 'gcr.io/distroless/static-debian12:debug-nonroot']) {
    try {
      execFileSync('docker', ['rmi', tag], {stdio: 'ignore'})
    } catch {
      // not tagged: the test that tags them did not run
    }
  }
})

describe('mindbg attach pod/NAME', () => {
  it("runs a command next to the target: its processes, its uid, exit code 0", async () => {
    const r = await kube(['pod/web', '--', 'sh', '-c', 'ps; id -u'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/\/app\/web/)
    expect(r.stdout).toMatch(/^65532$/m)
    expect(r.stderr).toMatch(/the target runs as non-root: the debugger runs as uid 65532, gid 65532/)
    const ec = await lastEphemeral('web')
    expect(ec.name).toMatch(/^mindbg-[bcdfghjklmnpqrstvwxz2456789]{5}$/)
    expect(ec).toMatchObject({targetContainerName: 'app', stdin: true, stdinOnce: true, securityContext: {runAsUser: 65532, runAsGroup: 65532, runAsNonRoot: true}})
    expect(ec.env.map((e: {name: string}) => e.name)).toEqual(expect.arrayContaining(['MINDBG_USER', 'MINDBG_STARTED', 'MINDBG_VERSION', 'MINDBG_TARGET']))
  })

  it('propagates the exit code', async () => {
    expect((await kube(['pod/web', '--', 'sh', '-c', 'exit 7'])).code).toBe(7)
  })

  it('keeps stdout and stderr apart; the exit-code trailer never shows, but kubectl logs has it', async () => {
    const r = await kube(['pod/web', '--', 'sh', '-c', 'echo out; printf err >&2; exit 5'])
    expect(r).toMatchObject({code: 5, stdout: 'out\n'})
    // Only mindbg's own notice precedes the command's stderr, which ends without a newline as the command left it.
    expect(r.stderr).toMatch(/\nerr$|^err$/)
    const ec = await lastEphemeral('web')
    const session = ec.env.find((e: {name: string}) => e.name === 'MINDBG_SESSION')?.value
    expect(session).toMatch(/^[0-9a-f]{12}$/)
    // The kubelet reports the ended debugger a moment later; then its log has the trailer.
    await eventually('the debugger log', async () => (await kubectl('logs', 'web', '-c', ec.name).catch(() => '')) !== '', 10_000)
    // The wrapper's request for mindbg-init comes first (taken out of the session's stderr too), the end of stdout
    // (the log interleaves the two streams) next to last, the trailer last.
    // The two streams are read by separate pipes, so how they interleave in the log is the runtime's to decide; the
    // order within each stream is not, and nothing else is in it.
    // Whichever of the two last lines the log has last lost its newline to kubectl()'s trim: given back.
    const log = `${await kubectl('logs', 'web', '-c', ec.name)}\n`
    const stderrParts = [`mindbg-init:${session}:${process.arch === 'arm64' ? 'arm64' : 'amd64'}+raw\n`, 'err', `mindbg-exit:${session}:5\n`]
    const stdoutParts = ['out\n', `mindbg-end:${session}\n`]
    for (const parts of [stderrParts, stdoutParts]) {
      const at = parts.map((part) => log.indexOf(part))
      expect(at.every((index, n) => index >= 0 && (n === 0 || index > at[n - 1]!)), log).toBe(true)
    }
    expect(log.length, log).toBe([...stderrParts, ...stdoutParts].join('').length)
    expect(log.startsWith(stderrParts[0]!), log).toBe(true)
    expect(r.stdout).not.toMatch(/mindbg-end/)
  })

  it('a command killed by a signal: 128 + the signal, as a shell reports it', async () => {
    const r = await kube(['pod/web', '--', 'sh', '-c', "echo $$ '$(MINDBG_TARGET)'; kill -9 $$"])
    // Typed as in a shell: the kubelet's $(VAR) and $$ expansion does not touch it.
    expect(r.stdout).toMatch(/^\d+ \$\(MINDBG_TARGET\)\n$/)
    expect(r.code).toBe(137)
  })

  it('a debugger killed before its trailer: the exit code comes from the pod status', async () => {
    // The command kills the wrapper (its parent's parent: mindbg-init runs it), so nothing reports the exit in the
    // stream. Without input: with piped input the init's parent is the relay's other half, not the wrapper.
    const r = await kube(['pod/web', '--no-stdin', '--', 'sh', '-c', 'read -r _ _ _ wrapper _ </proc/$PPID/stat; kill -9 $wrapper; sleep 5'])
    expect(r.code).toBe(137)
    expect(r.stderr).not.toMatch(/mindbg-exit/)
  })

  it("reads the target's filesystem and reaches its localhost", async () => {
    const r = await kube(['pod/web', '--', 'sh', '-c', 'cat /proc/1/root/app/config.txt; wget -qO- http://127.0.0.1:8080/'])
    expect(r.stdout).toBe('distroless-marker-7f3a\nhello from distroless-web\n')
  })

  it('shareProcessNamespace: PID 1 is the pause container; MINDBG_TARGET_PID and MINDBG_TARGET_ROOT name the target', async () => {
    const r = await kube(['pod/shared/app', '--', 'sh', '-c', 'echo "$MINDBG_TARGET_PID"; cat "$MINDBG_TARGET_ROOT/app/config.txt"; tr "\\0" " " <"/proc/$MINDBG_TARGET_PID/cmdline"'])
    expect(r.code).toBe(0)
    const [pid, marker, cmdline] = r.stdout.split('\n')
    expect(Number(pid)).toBeGreaterThan(1)
    expect(marker).toBe('distroless-marker-7f3a')
    expect(cmdline).toMatch(/^\/app\/web/)
  })

  it('shareProcessNamespace, interactive: the shell is told the target\'s PID and where its filesystem is', async () => {
    const s = PtySession.mindbg(['attach', '--kubeconfig', kubeconfig, 'pod/shared/app'], testEnv())
    try {
      await s.expect(/in the shared PID namespace/, 30_000)
      const [, pid] = await s.expect(/mindbg: app is PID (\d+) here \(shared PID namespace\); its filesystem is at \/proc\/(\d+)\/root/)
      expect(Number(pid)).toBeGreaterThan(1)
      await s.expect(/[$#] /)
      s.send(`cat /proc/${pid}/root/app/config.txt; exit 3\r`)
      await s.expect(/distroless-marker-7f3a/)
      expect((await s.waitExit(10_000)).exitCode).toBe(3)
    } finally {
      await s.close()
    }
  })

  it('--share-volumes: the target\'s emptyDir at the same path, read-only (or writable), when /proc/1/root is out of reach', async () => {
    await apply(`
apiVersion: v1
kind: Pod
metadata: {name: vol-web}
spec:
  volumes: [{name: state, emptyDir: {}}]
  containers:
  - name: app
    image: mindbg-fixture/busybox:local
    imagePullPolicy: Never
    command: [sh, -c, 'echo from-the-target > /state/data; exec sleep inf']
    securityContext: {runAsUser: 1234, runAsGroup: 1234}
    volumeMounts: [{name: state, mountPath: /state}]
`)
    await waitRunning('vol-web')
    // As uid 1000 without capabilities the debugger cannot read /proc/1/root of uid 1234: the volume is the way in.
    const shared = await kube(['pod/vol-web', '--share-volumes', '--profile', 'baseline', '-u', '1000', '--', 'sh', '-c', 'cat /state/data; ls /proc/1/root/ 2>/dev/null || echo unreadable; touch /state/x 2>/dev/null || echo read-only'])
    expect(shared.stdout, shared.stderr).toBe('from-the-target\nunreadable\nread-only\n')
    expect(shared.code).toBe(0)
    expect(shared.stderr).toContain('--share-volumes: one volume of app mounted read-only (/state)')
    expect((await lastEphemeral('vol-web')).volumeMounts).toEqual([{name: 'state', mountPath: '/state', readOnly: true}])
    const writable = await kube(['pod/vol-web', '-q', '--share-volumes', '--writable-volumes', '--', 'sh', '-c', 'echo from-the-debugger > /state/back'])
    expect(writable.code, writable.stderr).toBe(0)
    expect(await kubectl('exec', 'vol-web', '-c', 'app', '--', 'cat', '/state/back')).toBe('from-the-debugger')
  })

  it('pipes a script into a shell', async () => {
    const r = await kube(['pod/web'], {input: 'echo piped-$((6*7))\nexit 5\n'})
    expect(r.stdout).toContain('piped-42\n')
    expect(r.code).toBe(5)
  })

  it('pipes 3 MB through a command unchanged (what waited for the init goes as one stdin message)', async () => {
    const data = Buffer.alloc(3_000_000)
    for (let i = 0; i < data.length; i++) data[i] = (i * 7919) % 251
    const r = await kube(['pod/web', '-q', '--', 'md5sum'], {input: data})
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.stdout.split(' ')[0]).toBe(createHash('md5').update(data).digest('hex'))
  }, 60_000)

  it.each([
    {name: 'pod/NAME/CONTAINER', args: ['pod/two/second'], target: 'second'},
    {name: '-c', args: ['pod/two', '-c', 'second'], target: 'second'},
    {name: 'first container by default', args: ['pod/two'], target: 'first'},
    {name: 'k8s://NAMESPACE/POD', args: ['k8s://default/two/first'], target: 'first'},
  ])('target syntax: $name', async ({args, target}) => {
    const r = await kube([...args, '--', 'true'])
    expect(r.code, r.stderr).toBe(0)
    expect((await lastEphemeral('two')).targetContainerName).toBe(target)
  })

  it('--env, --reason and --profile netadmin reach the ephemeral container', async () => {
    const r = await kube(['pod/two', '--profile', 'netadmin', '--reason', 'INC-77', '-e', 'A=1', '--', 'sh', '-c', 'echo $A $MINDBG_REASON'])
    expect(r.stdout).toBe('1 INC-77\n')
    const ec = await lastEphemeral('two')
    expect(ec.securityContext).toEqual({capabilities: {add: ['NET_ADMIN', 'NET_RAW']}})
  })

  it('Pod Security "restricted": the debugger is made compliant and says so', async () => {
    const r = await kube(['k8s://locked/web', '--', 'id', '-u'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toBe('65532\n')
    expect(r.stderr).toMatch(/Pod Security "restricted" is enforced here/)
    expect((await lastEphemeral('web', 'locked')).securityContext).toMatchObject({
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      seccompProfile: {type: 'RuntimeDefault'},
      capabilities: {drop: ['ALL']},
    })
  })

  it('Pod Security without the right to read namespaces: the 403 is answered by a compliant retry', async () => {
    const r = await kube(['k8s://locked/web', '--', 'true'], {config: join(dir, 'no-ns.kubeconfig')})
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toMatch(/Pod Security "restricted"/)
  })
  it('Pod Security "baseline": only what baseline forbids goes; root stays and reads a root target\'s files', async () => {
    await apply(`apiVersion: v1
kind: Namespace
metadata:
  name: lenient
  labels: {pod-security.kubernetes.io/enforce: baseline}
---
apiVersion: v1
kind: Pod
metadata: {name: rooted, namespace: lenient}
spec:
  containers:
    - {name: app, image: mindbg-fixture/busybox:local, imagePullPolicy: IfNotPresent, command: [sleep, '3600']}
`)
    await waitRunning('rooted', 'lenient')
    // With the label readable, and with only the server's 403 to go by.
    for (const config of [kubeconfig, join(dir, 'no-ns.kubeconfig')]) {
      const r = await kube(['k8s://lenient/rooted', '--profile', 'netadmin', '--', 'sh', '-c', 'id -u; ls /proc/1/root/bin/busybox'], {config})
      expect(r.code, r.stderr).toBe(0)
      expect(r.stdout).toBe('0\n/proc/1/root/bin/busybox\n')
      expect(r.stderr).toMatch(/Pod Security "baseline" is enforced here: the debugger runs without NET_ADMIN, NET_RAW/)
      expect(r.stderr).not.toMatch(/restricted/)
      expect((await lastEphemeral('rooted', 'lenient')).securityContext ?? {}).toEqual({})
    }
  })
})

describe('errors, each one line with a hint', () => {
  const expectError = (r: RunResult, code: number, message: RegExp): void => {
    expect(r.code, r.stderr).toBe(code)
    const lines = r.stderr.trimEnd().split('\n')
    expect(lines.at(-2)).toMatch(message)
    expect(lines.at(-1)).toMatch(/^Hint: \S/)
    expect(r.stderr).not.toMatch(/\n\s+at /)
  }

  it('pod not found: 112', async () => expectError(await kube(['pod/nope', '--', 'true']), 112, /^mindbg: pod nope not found in namespace default$/))
  it('unknown target container: 112', async () => expectError(await kube(['pod/two/third', '--', 'true']), 112, /pod two has no container "third"/))
  it('pod not running: 114', async () => expectError(await kube(['pod/stuck', '--', 'true']), 114, /pod default\/stuck is not running \(phase Pending\)/))
  it('RBAC: 116 naming the verb and resource', async () =>
    expectError(await kube(['pod/web', '--', 'true'], {config: viewerConfig}), 116, /forbidden: .*cannot patch resource "pods\/ephemeralcontainers"/))
  it('a forbidden field (--custom ports): 119 with the field', async () => {
    const custom = join(dir, 'ports.yaml')
    writeFileSync(custom, 'ports:\n  - containerPort: 80\n')
    expectError(await kube(['pod/web', '--custom', custom, '--', 'true']), 119, /spec\.ephemeralContainers\[\d+\]\.ports: .*Forbidden: cannot be set for an Ephemeral Container/)
  })
  it('--custom refuses the image: 2', async () => {
    const custom = join(dir, 'image.json')
    writeFileSync(custom, '{"image": "x"}')
    expectError(await kube(['pod/web', '--custom', custom, '--', 'true']), 2, /--custom may not set image/)
  })
  it('unreachable API server: 115', async () => {
    const bad = join(dir, 'bad.kubeconfig')
    writeFileSync(bad, `apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'http://127.0.0.1:9'}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n`)
    expectError(await kube(['pod/web', '--', 'true'], {config: bad}), 115, /cannot reach the Kubernetes API server at http:\/\/127.0.0.1:9/)
  })
  it('unknown context: 2', async () => expectError(await kube(['pod/web', '--context', 'nope', '--', 'true']), 2, /context "nope" is not in the kubeconfig/))
  it('a debug image that cannot be pulled: waiting reasons shown, then 117 at --timeout', async () => {
    const r = await kube(['pod/web', '--image', 'mindbg-test/absent:2', '--timeout', '4s', '--', 'true'])
    expectError(r, 117, /the debugger mindbg-\w+ did not start within 4 s \((ErrImagePull|ImagePullBackOff)/)
    expect(r.stderr).toMatch(/is waiting: ErrImagePull/)
    // Attach attempts pause while the kubelet says the image cannot be had (without the pause: ~10 in 4 s).
    const name = /the debugger (mindbg-\w+)/.exec(r.stderr)![1]!
    const attempts = simLog.filter((l) => l.startsWith('UPGRADE') && l.includes('/attach?') && l.includes(`container=${name}&`))
    expect(attempts.length).toBeGreaterThan(0)
    expect(attempts.length).toBeLessThanOrEqual(4)
  })
})

describe('protocols and clusters', () => {
  it('falls back to v4.channel.k8s.io when the server does not speak v5 (input relayed, exit code kept)', async () => {
    sim.setStreamProtocols(['v4.channel.k8s.io'])
    try {
      const r = await kube(['pod/web', '--', 'sh', '-c', 'tr a-z A-Z; exit 3'], {input: 'over v4\n'})
      expect(r.stdout).toBe('OVER V4\n')
      expect(r.code).toBe(3)
    } finally {
      sim.setStreamProtocols(['v5.channel.k8s.io', 'v4.channel.k8s.io'])
    }
  })

  it('attaches as soon as the debugger runs, not when the kubelet gets round to reporting it', async () => {
    // A kubelet that reports container states 10 s late (a slow PLEG): kubectl debug waits for the report.
    const slow = await startKubeSim({runningReportDelayMs: 10_000})
    try {
      const config = join(dir, 'slow.kubeconfig')
      slow.writeKubeconfig(config)
      await kubectlWith(config, 'apply', '-f', join(ROOT, 'test/fixtures/k8s/web.yaml'))
      await eventually('web to run on the slow cluster', async () => JSON.parse(await kubectlWith(config, 'get', 'pod', 'web', '-o', 'json')).status?.phase === 'Running', 30_000)
      const started = Date.now()
      const r = await kube(['pod/web', '--', 'sh', '-c', 'echo early; exit 4'], {config})
      const elapsed = Date.now() - started
      expect(r).toMatchObject({code: 4, stdout: 'early\n'})
      // Well before the debugger is reported at all: its status still says it is being created.
      expect(elapsed).toBeLessThan(8000)
      const after = JSON.parse(await kubectlWith(config, 'get', 'pod', 'web', '-o', 'json'))
      const name = after.spec.ephemeralContainers.at(-1).name
      const status = after.status.ephemeralContainerStatuses?.find((x: {name: string}) => x.name === name)
      expect(status?.state).toEqual({waiting: {reason: 'ContainerCreating'}})
    } finally {
      await slow.close()
    }
  })

  it('a container that does not run yet: v4 is refused before the upgrade, v5 (the translator) after it', async () => {
    const path = `/api/v1/namespaces/default/pods/stuck/attach?container=app&stdin=true&stdout=true&stderr=true`
    const open = (protocol: string) =>
      new Promise<{refused?: number; frames: Buffer[]}>((resolve) => {
        const ws = new WebSocket(sim.url.replace(/^https/, 'wss') + path, [protocol], {ca: sim.caPem, headers: {Authorization: `Bearer ${sim.token()}`}})
        const frames: Buffer[] = []
        ws.on('unexpected-response', (_req, res) => resolve({refused: res.statusCode ?? 0, frames}))
        ws.on('message', (d: Buffer) => frames.push(d))
        ws.on('close', () => resolve({frames}))
        ws.on('error', () => {})
      })
    expect(await open('v4.channel.k8s.io')).toEqual({refused: 400, frames: []})
    const v5 = await open('v5.channel.k8s.io')
    expect(v5.refused).toBeUndefined()
    const status = JSON.parse(v5.frames.at(-1)!.subarray(1).toString())
    expect(v5.frames.at(-1)![0]).toBe(3)
    expect(status).toMatchObject({status: 'Failure', code: 500, message: expect.stringMatching(/container not found \("app"\)/)})
  })

  it('a cluster without ephemeral containers: 119 saying so', async () => {
    const off = await startKubeSim({ephemeralContainers: false})
    try {
      const config = join(dir, 'off.kubeconfig')
      off.writeKubeconfig(config)
      await kubectlWith(config, 'apply', '-f', join(ROOT, 'test/fixtures/k8s/web.yaml'))
      await eventually('web to run on the second cluster', async () => JSON.parse(await kubectlWith(config, 'get', 'pod', 'web', '-o', 'json')).status?.phase === 'Running', 30_000)
      const r = await kube(['pod/web', '--', 'true'], {config})
      expect(r.code).toBe(119)
      expect(r.stderr).toMatch(/^mindbg: ephemeral containers are disabled on this cluster/m)
    } finally {
      await off.close()
    }
  })
})

describe('nothing outlives the session', () => {
  it('a one-shot command stops when mindbg is killed', async () => {
    const child = startMindbg(['attach', '--kubeconfig', kubeconfig, '--no-stdin', 'pod/two', '--', 'sh', '-c', 'echo started; sleep 300'])
    const done = collect(child)
    // Killed only once the command runs, i.e. after mindbg attached and gave the go-ahead (before that, the
    // debugger's own 30 s gate is what ends it).
    await outputOf(child, 'started')
    const name = (await lastEphemeral('two')).name as string
    const killedAt = Date.now()
    child.kill('SIGKILL')
    await done
    await eventually('the debugger to end', async () => (await ecStatus('two', name))?.state?.terminated, 10_000)
    console.log(`one-shot debugger ended ${((Date.now() - killedAt) / 1000).toFixed(2)} s after mindbg was killed`)
  })

  it('a piped script stuck in a long command stops when mindbg is killed', async () => {
    const child = startMindbg(['attach', '--kubeconfig', kubeconfig, 'pod/two'], {input: 'echo started; sleep 300\n'})
    const done = collect(child)
    await outputOf(child, 'started')
    const name = (await lastEphemeral('two')).name as string
    child.kill('SIGKILL')
    await done
    await eventually('the debugger to end', async () => (await ecStatus('two', name))?.state?.terminated, 10_000)
  })

  it('an interactive shell: terminal size, exit code; SIGTERM ends the shell too', async () => {
    const s = PtySession.mindbg(['attach', '--kubeconfig', kubeconfig, 'pod/web'], testEnv())
    try {
      await s.expect(/\$ /, 30_000)
      s.send('ps\r')
      await s.expect(/\/app\/web/)
      s.send('stty size\r')
      await s.expect(/30 100/)
      const name = (await lastEphemeral('web')).name as string
      process.kill(s.pid, 'SIGTERM')
      expect((await s.waitExit(10_000)).exitCode).toBe(143)
      await eventually('the shell to end', async () => (await ecStatus('web', name))?.state?.terminated, 10_000)
    } finally {
      await s.close()
    }
  })

  it.each(['SIGTERM', 'SIGINT', 'SIGHUP'] as const)('a terminal shell busy in a long command: %s of mindbg ends the command and the shell', async (signal) => {
    const s = PtySession.mindbg(['attach', '--kubeconfig', kubeconfig, 'pod/web'], testEnv())
    try {
      await s.expect(/\$ /, 30_000)
      const name = (await lastEphemeral('web')).name as string
      s.send('sleep 300\r')
      await new Promise((r) => setTimeout(r, 500))
      process.kill(s.pid, signal)
      expect((await s.waitExit(10_000)).exitCode).toBe({SIGTERM: 143, SIGINT: 130, SIGHUP: 129}[signal])
      await eventually('the shell to end', async () => (await ecStatus('web', name))?.state?.terminated, 10_000)
    } finally {
      await s.close()
    }
  })

  it('a shell left running by kill -9 is found again with --reuse; exit ends it with its code', async () => {
    const first = PtySession.mindbg(['attach', '--kubeconfig', kubeconfig, 'pod/web'], testEnv())
    let name = ''
    try {
      await first.expect(/\$ /, 30_000)
      name = (await lastEphemeral('web')).name as string
      // The prompt can come before the kubelet reports the start (the simulator: 300 ms after it), and --reuse goes
      // by the reported state, as it must on a cluster.
      for (const deadline = Date.now() + 10_000; !(await ecStatus('web', name))?.state?.running; ) {
        if (Date.now() > deadline) throw new Error(`${name} was not reported running`)
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      first.term.kill('SIGKILL')
      await first.waitExit()
    } finally {
      await first.close()
    }
    const count = (await ephemeral('web')).length
    const again = PtySession.mindbg(['attach', '--kubeconfig', kubeconfig, 'pod/web', '--reuse'], testEnv())
    try {
      await again.expect(new RegExp(`re-attaching to ${name}`), 15_000)
      again.send('\r')
      await again.expect(/\$ /)
      again.send('exit 6\r')
      expect((await again.waitExit(15_000)).exitCode).toBe(6)
      expect((await ephemeral('web')).length).toBe(count)
    } finally {
      await again.close()
    }
  })

  it('exit code of an interactive shell', async () => {
    const s = PtySession.mindbg(['attach', '--kubeconfig', kubeconfig, 'pod/web'], testEnv())
    try {
      await s.expect(/\$ /, 30_000)
      s.send('exit 4\r')
      expect((await s.waitExit(15_000)).exitCode).toBe(4)
    } finally {
      await s.close()
    }
  })
})

describe('mindbg ls for pods', () => {
  it('lists debuggers with their identity, text and --json, namespace and -A', async () => {
    const json = await mindbg(['ls', '--kubeconfig', kubeconfig, '--json'])
    const list = JSON.parse(json.stdout) as Array<Record<string, unknown>>
    expect(list.length).toBeGreaterThan(3)
    expect(list.find((d) => d.reason === 'INC-77')).toMatchObject({namespace: 'default', pod: 'two', target: 'first', version: '0.1.0', state: 'exited (0)'})
    expect(list.every((d) => d.namespace === 'default')).toBe(true)
    const all = JSON.parse((await mindbg(['ls', '--kubeconfig', kubeconfig, '-A', '--json'])).stdout) as Array<Record<string, unknown>>
    expect(all.some((d) => d.namespace === 'locked')).toBe(true)
    const text = await mindbg(['ls', '--kubeconfig', kubeconfig, '-n', 'locked'])
    expect(text.stdout).toMatch(/^NAMESPACE\s+POD\s+NAME\s+TARGET\s+STATE\s+AGE\s+USER\s+REASON$/m)
    expect(text.stdout).toMatch(/^locked\s+web\s+mindbg-\w{5}\s+app\s+exited \(0\)\s+\d+[smhd]\s+\S+@\S+/m)
  })
})

describe('debug images of every kind (dash and bash as sh, no /tmp, a read-only root, no shell)', () => {
  const DASH = 'mindbg-fixture/dash:local'
  const BASH = 'mindbg-fixture/bash:local'

  it.each([DASH, BASH, 'mindbg-fixture/busybox:local'])('%s: the command runs, its output and exit code come back, piped input too', async (image) => {
    const oneShot = await kube(['pod/web', '--image', image, '--', 'sh', '-c', 'echo hello; echo oops >&2; exit 4'])
    expect(oneShot.code, oneShot.stderr).toBe(4)
    expect(oneShot.stdout).toBe('hello\n')
    expect(oneShot.stderr).toContain('oops')
    const piped = await kube(['pod/web', '--image', image, '--', 'sh'], {input: 'echo $((6*7))\nexit 3\n'})
    expect(piped.code, piped.stderr).toBe(3)
    expect(piped.stdout).toBe('42\n')
  })

  it('a read-only root filesystem without /tmp: piped input still reaches the command', async () => {
    const custom = join(dir, 'read-only.yaml')
    writeFileSync(custom, 'securityContext: {readOnlyRootFilesystem: true}\n')
    const r = await kube(['pod/web', '--image', DASH, '--custom', custom, '--', 'sh', '-c', 'cat; echo done'], {input: 'line one\nline two\n'})
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toBe('line one\nline two\ndone\n')
    expect((await lastEphemeral('web')).securityContext).toMatchObject({readOnlyRootFilesystem: true})
  })

  it('stdin that is /dev/null is no input: the command runs (cron, CI, ssh host mindbg ...)', async () => {
    const child = spawn(process.execPath, [join(ROOT, 'bin/run.js'), 'attach', '--kubeconfig', kubeconfig, 'pod/web', '--image', DASH, '--', 'sh', '-c', 'echo ran; exit 5'], {
      env: testEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const r = await collect(child)
    expect(r.code, r.stderr).toBe(5)
    expect(r.stdout).toBe('ran\n')
  })

  it('an image without a shell: what happened, and what image would work (127)', async () => {
    const r = await kube(['pod/web', '--image', 'mindbg-fixture/distroless-web:local', '--', 'true'])
    expect(r.code).toBe(127)
    expect(r.stderr).toMatch(/^mindbg: the debug image mindbg-fixture\/distroless-web:local has no shell/m)
    expect(r.stderr).toMatch(/^Hint: Use an image with a POSIX shell/m)
  })
})

describe('kubeconfigs as kubectl reads them, and API servers that do not answer', () => {
  it('KUBECONFIG=A:missing:B with the same cluster name in both: mindbg uses the context, cluster and namespace kubectl uses', async () => {
    await apply(`apiVersion: v1
kind: Namespace
metadata: {name: alpha}
---
apiVersion: v1
kind: Pod
metadata: {name: only-in-alpha, namespace: alpha}
spec:
  containers:
    - {name: app, image: mindbg-fixture/distroless-web:local, imagePullPolicy: IfNotPresent}
`)
    await waitRunning('only-in-alpha', 'alpha')
    const admin = (await import('yaml')).parse(readFileSync(kubeconfig, 'utf8'))
    const a = join(dir, 'merge-a.yaml')
    const b = join(dir, 'merge-b.yaml')
        // A: the real cluster, its context first; B: the same cluster name pointing nowhere, another current context.
    writeFileSync(a, JSON.stringify({...admin, contexts: [{name: 'in-alpha', context: {...admin.contexts[0].context, namespace: 'alpha'}}], 'current-context': 'in-alpha'}))
    writeFileSync(b, JSON.stringify({...admin, clusters: [{name: admin.clusters[0].name, cluster: {server: 'https://127.0.0.1:1'}}], contexts: [{name: 'in-beta', context: {...admin.contexts[0].context, namespace: 'beta'}}], 'current-context': 'in-beta'}))
    const env = {KUBECONFIG: `${a}:${join(dir, 'no-such-file')}:${b}`}
    const view = JSON.parse(execFileSync(KUBECTL, ['config', 'view', '--minify', '-o', 'json'], {env: {...process.env, ...env}, encoding: 'utf8'}))
    expect(view['current-context']).toBe('in-alpha')
    expect(view.contexts[0].context.namespace).toBe('alpha')
    const r = await mindbg(['attach', '--dry-run', '--json', 'pod/only-in-alpha'], {env})
    expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout).target).toMatchObject({namespace: view.contexts[0].context.namespace, pod: 'only-in-alpha'})
  })

  it('a user with a tokenFile is accepted (kubectl accepts it)', async () => {
    const admin = (await import('yaml')).parse(readFileSync(kubeconfig, 'utf8'))
    const tokenFile = join(dir, 'token')
    const config = join(dir, 'token-file.yaml')
        writeFileSync(tokenFile, `${admin.users[0].user.token}\n`)
    writeFileSync(config, JSON.stringify({...admin, users: [{name: admin.users[0].name, user: {tokenFile: 'token'}}]}))
    await kubectlWith(config, 'get', 'pods')
    const r = await mindbg(['ls', '--kubeconfig', config, '--json'])
    expect(r.code, r.stderr).toBe(0)
    expect(Array.isArray(JSON.parse(r.stdout))).toBe(true)
  })

  it('an exec credential plugin is run once per invocation, however many requests there are', async () => {
    const admin = (await import('yaml')).parse(readFileSync(kubeconfig, 'utf8'))
    const counter = join(dir, 'exec-count')
    const plugin = join(dir, 'credential-plugin.sh')
    writeFileSync(counter, '')
    writeFileSync(plugin, `#!/bin/sh\necho run >> '${counter}'\nprintf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s"}}' '${admin.users[0].user.token}'\n`, {mode: 0o755})
    const config = join(dir, 'exec.yaml')
    writeFileSync(config, JSON.stringify({...admin, users: [{name: admin.users[0].name, user: {exec: {apiVersion: 'client.authentication.k8s.io/v1', command: plugin, interactiveMode: 'Never'}}}]}))
    const r = await mindbg(['attach', '--kubeconfig', config, 'pod/web', '--', 'true'])
    expect(r.code, r.stderr).toBe(0)
    expect(readFileSync(counter, 'utf8')).toBe('run\n')
  })

  it('an API server that accepts connections and never answers: attach and ls give up at --request-timeout (115); Ctrl-C ends attach at once', async () => {
    let connections = 0
    const silent = net.createServer(() => void connections++)
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    try {
      const admin = (await import('yaml')).parse(readFileSync(kubeconfig, 'utf8'))
      const config = join(dir, 'silent.yaml')
            writeFileSync(config, JSON.stringify({...admin, clusters: [{name: admin.clusters[0].name, cluster: {...admin.clusters[0].cluster, server: `https://127.0.0.1:${(silent.address() as net.AddressInfo).port}`}}]}))
      for (const args of [['attach', '--kubeconfig', config, '--request-timeout', '2s', 'pod/web', '--', 'true'], ['ls', '--kubeconfig', config, '--request-timeout', '2s']]) {
        const started = Date.now()
        const r = await mindbg(args)
        const seconds = (Date.now() - started) / 1000
        expect(r.code, r.stderr).toBe(115)
        expect(r.stderr).toMatch(/^mindbg: the Kubernetes API server at https:\/\/127\.0\.0\.1:\d+ did not answer within 2 s/m)
        expect(r.stderr).toMatch(/^Hint: .*--request-timeout/m)
        expect(seconds).toBeLessThan(10)
      }
      // Without a bound only the person waiting ends it: at once, quietly, with SIGINT's code (before, it took SIGKILL).
      const before = connections
      const child = startMindbg(['attach', '--kubeconfig', config, '--request-timeout', '0', 'pod/web', '--', 'true'])
      const done = collect(child, 20_000)
      await eventually('a connection to the silent API server', async () => connections > before, 15_000)
      await new Promise((resolve) => setTimeout(resolve, 500))
      const signalled = Date.now()
      child.kill('SIGINT')
      expect(await done).toMatchObject({code: 130, stderr: ''})
      expect(Date.now() - signalled).toBeLessThan(3000)
    } finally {
      silent.close()
    }
  })

  it('a network that freezes mid-session is noticed by ping within 20 s (115), not hung on', {timeout: 60_000}, async () => {
    const admin = (await import('yaml')).parse(readFileSync(kubeconfig, 'utf8'))
    const upstream = new URL(admin.clusters[0].cluster.server)
    const pairs: net.Socket[] = []
    // A TCP relay in front of the simulator that can stop passing bytes without closing anything.
    const relay = net.createServer((client) => {
      const server = net.connect(Number(upstream.port), upstream.hostname)
      client.pipe(server).pipe(client)
      client.on('error', () => server.destroy())
      server.on('error', () => client.destroy())
      pairs.push(client, server)
    })
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve))
    try {
      const config = join(dir, 'relayed.yaml')
      const port = (relay.address() as net.AddressInfo).port
      writeFileSync(config, JSON.stringify({...admin, clusters: [{name: admin.clusters[0].name, cluster: {...admin.clusters[0].cluster, server: `https://127.0.0.1:${port}`, 'tls-server-name': upstream.hostname}}]}))
      const child = startMindbg(['attach', '--kubeconfig', config, '--no-stdin', 'pod/web', '--', 'sh', '-c', 'echo started; sleep 120'])
      const done = collect(child, 50_000)
      await outputOf(child, 'started')
      const frozenAt = Date.now()
      for (const s of pairs) {
        s.unpipe()
        s.pause()
      }
      const r = await done
      const seconds = (Date.now() - frozenAt) / 1000
      console.log(`frozen network noticed ${seconds.toFixed(1)} s after it froze`)
      expect(r.code, r.stderr).toBe(115)
      expect(r.stderr).toMatch(/^mindbg: the connection to the API server was lost during the session/m)
      expect(seconds).toBeLessThan(25)
    } finally {
      for (const s of pairs) s.destroy()
      relay.close()
    }
  })
})

describe('--dry-run for pods', () => {
  it('shows the ephemeral container that would be added, adaptations included, and adds nothing', async () => {
    const before = (await ephemeral('web')).length
    const text = await kube(['pod/web', '--dry-run', '--profile', 'netadmin', '--', 'ip', 'addr'])
    expect(text.code, text.stderr).toBe(0)
    expect(text.stdout).toMatch(/^target: +pod default\/web, container app, image mindbg-fixture\/distroless-web:local$/m)
    expect(text.stdout).toMatch(/^user: +65532:65532$/m)
    expect(text.stdout).toMatch(/^note: +the target runs as non-root/m)
    const json = JSON.parse((await kube(['pod/web', '--dry-run', '--json'])).stdout)
    expect(json).toMatchObject({image: 'mindbg-fixture/busybox:local', imageReason: 'the MINDBG_IMAGE environment variable', pull: 'IfNotPresent', runtime: 'kubernetes', spec: {targetContainerName: 'app', stdin: true}})
    expect((await ephemeral('web')).length).toBe(before)
  })
})

describe('--sibling through Kubernetes', () => {
  it('uses the debug twin of the target container image, as the target user', async () => {
    execFileSync('docker', ['tag', 'mindbg-fixture/distroless-web:local', 'gcr.io/distroless/static-debian12:nonroot'])
    execFileSync('docker', ['tag', 'mindbg-fixture/busybox:local', 'gcr.io/distroless/static-debian12:debug-nonroot'])
    await apply(`apiVersion: v1
kind: Pod
metadata: {name: twin}
spec:
  securityContext: {runAsUser: 65532, runAsGroup: 65532, runAsNonRoot: true}
  containers:
    - {name: app, image: 'gcr.io/distroless/static-debian12:nonroot', imagePullPolicy: IfNotPresent}
`)
    await waitRunning('twin')
    const r = await kube(['pod/twin', '--sibling', '--', 'sh', '-c', 'id -u; ps'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^65532\n/)
    expect(r.stdout).toContain('/app/web')
    expect((await lastEphemeral('twin')).image).toBe('gcr.io/distroless/static-debian12:debug-nonroot')
    const dry = JSON.parse((await kube(['pod/twin', '--sibling', '--dry-run', '--json'])).stdout)
    expect(dry).toMatchObject({image: 'gcr.io/distroless/static-debian12:debug-nonroot', imageReason: expect.stringContaining('nonroot -> debug-nonroot'), user: '65532:65532'})
  })
})

describe('watching pods', () => {
  it('resumes after watch timeouts and relists after 410 Gone', async () => {
    const {KubeApi} = await import('../../dist/src/backends/kubernetes/api.js')
    const {watchPod} = await import('../../dist/src/backends/kubernetes/watch.js')
    const api = await KubeApi.connect({kubeconfig})
    const logFrom = simLog.length
    const result = watchPod(api, 'default', 'two', (p: {metadata?: {labels?: Record<string, string>}}) =>
      p.metadata?.labels?.done === 'yes' ? {done: true, value: 'labelled'} : {done: false},
    {timeoutMs: 20_000, onTimeout: () => new Error('timed out'), watchSeconds: 1})
    const requests = (watches: boolean): string[] => simLog.slice(logFrom)
      .filter((l) => l.startsWith('GET /api/v1/namespaces/default/pods?') && l.includes('metadata.name%3Dtwo') && l.includes('watch=true') === watches)
    // Outlive two server-side watch timeouts (each one resumed)...
    await eventually('two watches to time out', async () => requests(true).length >= 2, 10_000)
    // ...then expire the open watch with 410 Gone and forget the history: the watcher must list again.
    const listsBefore = requests(false).length
    sim.compactHistory({expireWatches: true})
    await eventually('a relist after 410', async () => requests(false).length > listsBefore, 10_000)
    await kubectl('label', 'pod', 'two', 'done=yes')
    expect(await result).toBe('labelled')
    expect(requests(true).length).toBeGreaterThanOrEqual(3)
    expect(requests(false).length).toBeGreaterThanOrEqual(2)
    api.close()
  })
})
