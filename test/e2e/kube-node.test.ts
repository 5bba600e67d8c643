/**
 * `mindbg attach node/NAME` on the simulator, whose one node is the Docker host (this VM): the debugger pod runs in
 * the host's PID, network and IPC namespaces with the host's filesystem at /host, so what it sees can be checked
 * against this very process. SAFETY: the debugger shares the VM's network namespace; no test here sends traffic
 * anywhere (no command of these sessions opens a socket).
 */
import {type ChildProcess, spawn} from 'node:child_process'
import {mkdtempSync, readFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {startKubeSim, type KubeSim} from '../support/kube-sim/server.ts'
import {kubectlWith} from '../support/kubectl.js'
import {PtySession} from '../support/pty.js'
import {collect, eventually, mindbg, mindbgCommand, type RunResult, requireEngine, startMindbg, testEnv} from './helpers.js'

const NODE = 'kube-sim'
const dir = mkdtempSync(join(tmpdir(), 'mindbg-kube-node-'))
let sim: KubeSim
let kubeconfig: string

const kubectl = (...args: string[]): Promise<string> => kubectlWith(kubeconfig, ...args)
/** mindbg's node debugger pods in a namespace, as the API server has them. */
const nodePods = async (namespace = 'default'): Promise<Array<Record<string, any>>> =>
  JSON.parse(await kubectl('get', 'pods', '-n', namespace, '-l', 'mindbg.org/role=node', '-o', 'json')).items

/** No node debugger left in the namespace (a deleted pod is gone once its containers are: a moment later). */
const noNodePods = (namespace = 'default'): Promise<boolean> =>
  eventually('the node debugger pod to be gone', async () => (await nodePods(namespace)).length === 0, 10_000, 50)

/** `mindbg attach` with stdin on /dev/null (cron, CI): no input, a one-shot command. */
function attachNoInput(args: string[]): Promise<RunResult> {
  const [command, argv] = mindbgCommand(['attach', '--kubeconfig', kubeconfig, ...args])
  return collect(spawn(command, argv, {env: testEnv(), stdio: ['ignore', 'pipe', 'pipe']}), 60_000)
}

beforeAll(async () => {
  requireEngine()
  sim = await startKubeSim({namespaces: [{name: 'locked', labels: {'pod-security.kubernetes.io/enforce': 'baseline'}}]})
  kubeconfig = join(dir, 'admin.kubeconfig')
  sim.writeKubeconfig(kubeconfig)
}, 60_000)
afterAll(async () => {
  await sim?.close()
})

describe('mindbg attach node/NAME', () => {
  it("sees the host: its processes, its filesystem at /host, --chroot; the exit code comes through; the pod is gone after", async () => {
    // The host's PIDs by a glob, not ls: ls looks at each entry, and a host process that ends meanwhile is an error.
    const script = `for d in /proc/[0-9]*; do echo "\${d#/proc/}"; done; echo root:$MINDBG_TARGET_ROOT; head -1 /host/proc/1/status; exit 7`
    const result = await attachNoInput([`node/${NODE}`, '--', 'sh', '-c', script])
    expect(result.stderr).toBe('')
    expect(result.code).toBe(7)
    const lines = result.stdout.split('\n')
    // The host's PID namespace: this test's own process is there.
    expect(lines).toContain(String(process.pid))
    expect(lines).toContain('root:/host')
    // The host's PID 1, read through its filesystem at /host.
    expect(lines).toContainEqual(expect.stringMatching(/^Name:\s+\S+/))
    await noNodePods()

    const chrooted = await attachNoInput(['-q', '--chroot', `node/${NODE}`, '--', 'cat', '/etc/hostname'])
    expect(chrooted).toMatchObject({code: 0, stderr: ''})
    expect(chrooted.stdout).toBe(readFileSync('/etc/hostname', 'utf8'))

    // cp takes a node too: the path is the node's (under /host in the debugger).
    const copied = await mindbg(['cp', '--kubeconfig', kubeconfig, `node/${NODE}:/etc/hostname`, join(dir, 'hostname')])
    expect(copied).toMatchObject({code: 0, stdout: ''})
    expect(readFileSync(join(dir, 'hostname'), 'utf8')).toBe(readFileSync('/etc/hostname', 'utf8'))
    await noNodePods()
  }, 60_000)

  it('piped input reaches the command; a baseline debugger stays in a pod of its own (no host processes, no /host)', async () => {
    const piped = await mindbg(['attach', '--kubeconfig', kubeconfig, `node/${NODE}`, '--', 'sh'], {input: 'echo from-stdin; exit 3\n'})
    expect(piped).toMatchObject({code: 3, stdout: 'from-stdin\n', stderr: ''})

    const baseline = await attachNoInput(['--profile', 'baseline', `node/${NODE}`, '--', 'sh', '-c', 'ls /proc; ls -d /host 2>&1; true'])
    expect(baseline.code).toBe(0)
    expect(baseline.stderr).toMatch(/--profile baseline: the debugger stays in a pod's own namespaces/)
    expect(baseline.stdout.split('\n')).not.toContain(String(process.pid))
    expect(baseline.stdout).toMatch(/\/host: No such file or directory/)
    await noNodePods()
  }, 60_000)

  it('while it runs: the spec is the profile\'s, `mindbg ls` shows it; after a SIGKILL of mindbg the pod is deleted', async () => {
    const child: ChildProcess = startMindbg(['attach', '--kubeconfig', kubeconfig, '--profile', 'netadmin', '--reason', 'INC-77', `node/${NODE}`, '--', 'sleep', '300'])
    const exited = collect(child, 60_000)
    const [pod] = await eventually('the node debugger to run', async () => {
      const pods = await nodePods()
      return pods.length === 1 && pods[0]!.status?.containerStatuses?.[0]?.state?.running ? pods : undefined
    }, 30_000)
    // kubectl's netadmin for nodes: the host namespaces, NET_ADMIN and NET_RAW, and no /host.
    expect(pod!.spec).toMatchObject({nodeName: NODE, hostPID: true, hostNetwork: true, hostIPC: true, restartPolicy: 'Never', tolerations: [{operator: 'Exists'}]})
    expect(pod!.spec.volumes ?? []).not.toContainEqual(expect.objectContaining({hostPath: {path: '/'}}))
    expect(pod!.spec.containers[0]).toMatchObject({name: 'debugger', securityContext: {capabilities: {add: ['NET_ADMIN', 'NET_RAW']}}})
    expect(pod!.metadata.labels).toMatchObject({'mindbg.org/role': 'node', 'mindbg.org/node': NODE})

    const ls = await mindbg(['ls', '--kubeconfig', kubeconfig, '--json'])
    expect(ls.code).toBe(0)
    const listed = (JSON.parse(ls.stdout) as Array<Record<string, any>>).find((d) => d.name === pod!.metadata.name)
    expect(listed).toMatchObject({runtime: 'kubernetes', role: 'node', target: `node/${NODE}`, reason: 'INC-77'})

    const killedAt = Date.now()
    child.kill('SIGKILL')
    await exited
    await eventually('the node debugger pod to be deleted', async () => (await nodePods()).length === 0, 15_000, 50)
    console.log(`node debugger pod deleted ${Date.now() - killedAt} ms after SIGKILL of mindbg`)
  }, 60_000)

  it('a terminal: a shell on the node, detached (the pod is kept), re-attached with --session; its exit ends it, code and pod', async () => {
    const first = PtySession.mindbg(['attach', '--kubeconfig', kubeconfig, `node/${NODE}`], testEnv())
    let pod = ''
    try {
      await first.expect(/is on node kube-sim .*deleted when the session ends.*its filesystem is at \/host/, 30_000)
      await first.expect(/# /)
      first.send('echo "in-$MINDBG_TARGET_ROOT"\r')
      await first.expect(/in-\/host/)
      first.send('\x10\x11')
      pod = (await first.expect(/Re-attach: mindbg attach node\/kube-sim -n default --session (\S+)/))[1]!
      expect((await first.waitExit(10_000)).exitCode).toBe(0)
    } finally {
      await first.close()
    }
    // Kept, and still running (the phase may trail the container by the kubelet's report delay: a quick detach can
    // come before the pod is reported Running).
    const kept = await eventually('the kept node debugger to be reported running', async () => {
      const [found] = await nodePods()
      return found?.status?.phase === 'Running' && found
    }, 10_000, 50)
    expect(kept).toMatchObject({metadata: {name: pod, annotations: {'mindbg.org/kept': 'true'}}})

    const again = PtySession.mindbg(['attach', '--kubeconfig', kubeconfig, `node/${NODE}`, '--session', pod], testEnv())
    try {
      await again.expect(new RegExp(`re-attaching to ${pod} on node kube-sim`), 15_000)
      again.send('\r')
      await again.expect(/# /)
      again.send('exit 6\r')
      expect((await again.waitExit(15_000)).exitCode).toBe(6)
    } finally {
      await again.close()
    }
    await noNodePods()
  }, 60_000)

  it('errors: an unknown node, a namespace whose Pod Security refuses host namespaces', async () => {
    const unknown = await attachNoInput(['node/no-such-node', '--', 'true'])
    expect(unknown.code).toBe(112)
    expect(unknown.stderr).toMatch(/^mindbg: node no-such-node not found\nHint: List nodes with: kubectl get nodes\n$/)

    const locked = await attachNoInput(['-n', 'locked', `node/${NODE}`, '--', 'true'])
    expect(locked.code).toBe(119)
    expect(locked.stderr).toMatch(/namespace locked does not admit a node debugger: .*violates PodSecurity "baseline/)
    expect(locked.stderr).toMatch(/Hint: .*-n NAMESPACE.*--profile baseline/)
    expect(await nodePods('locked')).toEqual([])
  }, 60_000)
})
