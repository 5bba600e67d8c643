/**
 * A debug session in a pod leaves the target's process table as it found it (issue 9, item 16), as on Docker
 * (./zombies.test.ts): the debugger shares the target's PID namespace, and what it leaves behind would go to the
 * target's PID 1, which never reaps it. A debugger cannot be given a file, so its wrapper asks for mindbg-init on
 * the session's stream. The simulator runs each pod's containers in the real Docker engine: the target's namespace
 * is read from the host before and after, for every way a session ends.
 */
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {startKubeSim, type KubeSim} from '../support/kube-sim/server.ts'
import {kubectlWith} from '../support/kubectl.js'
import {describeProcesses, pidNamespaceProcesses} from '../support/processes.js'
import {delay, PtySession} from '../support/pty.js'
import {collect, docker, eventually, mindbg, requireEngine, startMindbg, testEnv} from './helpers.js'

const dir = mkdtempSync(join(tmpdir(), 'mindbg-kube-zombies-'))
const TIMEOUT = 90_000
const PROMPT = /[$#] /
let sim: KubeSim
let kubeconfig: string

const kubectl = (...args: string[]): Promise<string> => kubectlWith(kubeconfig, ...args)
const podJson = async (name: string): Promise<Record<string, any>> => JSON.parse(await kubectl('get', 'pod', name, '-o', 'json'))

beforeAll(async () => {
  requireEngine()
  sim = await startKubeSim()
  kubeconfig = join(dir, 'admin.kubeconfig')
  sim.writeKubeconfig(kubeconfig)
}, 60_000)
afterAll(async () => {
  await sim?.close()
})

let pods = 0
/** A distroless-like pod of its own (uid 65532, read-only root), running: its target's host PID. */
async function startPod(): Promise<{name: string; hostPid: number}> {
  const name = `z${++pods}`
  const file = join(dir, `${name}.yaml`)
  writeFileSync(
    file,
    `apiVersion: v1
kind: Pod
metadata: {name: ${name}}
spec:
  securityContext: {runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532}
  containers:
    - name: app
      image: mindbg-fixture/distroless-web:local
      imagePullPolicy: IfNotPresent
      securityContext: {readOnlyRootFilesystem: true, allowPrivilegeEscalation: false}
`,
  )
  await kubectl('apply', '-f', file)
  const id = await eventually(`pod ${name} to run`, async () => {
    const status = (await podJson(name)).status?.containerStatuses?.[0]
    return status?.state?.running && (status.containerID as string).replace('docker://', '')
  }, 30_000)
  return {name, hostPid: Number(docker('inspect', '--format', '{{.State.Pid}}', id))}
}

const table = (hostPid: number): string[] => describeProcesses(pidNamespaceProcesses(hostPid))

/** Runs `session` against a new pod and checks that, once its debuggers ended, the target's processes are as before. */
async function leavesNothing(session: (pod: string) => Promise<void>): Promise<void> {
  const {name, hostPid} = await startPod()
  const before = table(hostPid)
  expect(before.filter((p) => / Z /.test(p))).toEqual([])
  await session(name)
  await eventually('the debuggers to end', async () => {
    const statuses: Array<Record<string, any>> = (await podJson(name)).status?.ephemeralContainerStatuses ?? []
    return statuses.length > 0 && statuses.every((s) => s.state?.terminated)
  }, 20_000)
  await delay(200)
  expect(table(hostPid)).toEqual(before)
}

const attach = (pod: string, args: string[]): string[] => ['attach', '--kubeconfig', kubeconfig, `pod/${pod}`, '-q', ...args]
const LITTERING = (rest: string): string[] => ['sh', '-c', `sleep 300 & sh -c 'sleep 301 &'; ${rest}`]

describe('no zombie and no process is left in the target (Kubernetes)', () => {
  it('a one-shot command that exits, leaving a background job and an orphan', {timeout: TIMEOUT}, async () => {
    await leavesNothing(async (pod) => {
      const r = await mindbg(attach(pod, ['--', ...LITTERING('echo done; exit 3')]))
      expect(r).toMatchObject({code: 3, stdout: 'done\n', stderr: ''})
    })
  })

  it('piped input, the command reading it', {timeout: TIMEOUT}, async () => {
    await leavesNothing(async (pod) => {
      const r = await mindbg(attach(pod, ['-i', '--', ...LITTERING('wc -c')]), {input: 'twelve bytes'})
      expect(r.stdout.trim()).toBe('12')
      expect(r.code).toBe(0)
    })
  })

  it('stdout closed early (| head)', {timeout: TIMEOUT}, async () => {
    await leavesNothing(async (pod) => {
      const child = startMindbg(attach(pod, ['--', ...LITTERING('yes')]))
      const done = collect(child)
      await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()))
      child.stdout!.destroy()
      expect((await done).code).toBe(141)
    })
  })

  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGKILL', null],
  ] as const)('mindbg ended by %s while the command runs', {timeout: TIMEOUT}, async (signal, code) => {
    await leavesNothing(async (pod) => {
      const child = startMindbg(attach(pod, ['--', ...LITTERING('echo started; sleep 302')]))
      const done = collect(child)
      await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()))
      child.kill(signal)
      expect((await done).code).toBe(code)
    })
  })

  it('an interactive shell: a background job, an orphan, a foreground job ended by Ctrl-C, then exit', {timeout: TIMEOUT}, async () => {
    await leavesNothing(async (pod) => {
      const s = PtySession.mindbg(['attach', '--kubeconfig', kubeconfig, `pod/${pod}`], testEnv())
      try {
        await s.expect(PROMPT, 30_000)
        s.send("sleep 300 & sh -c 'sleep 301 &'\r")
        await s.expect(PROMPT)
        s.send('sleep 304\r')
        await delay(300)
        s.send('\x03')
        await s.expect(PROMPT)
        s.send('exit 6\r')
        expect((await s.waitExit(15_000)).exitCode).toBe(6)
        // Nothing of mindbg's exchange with the debugger reached the terminal.
        expect(s.output).not.toMatch(/mindbg-init|\\[0-7]{3}/)
      } finally {
        await s.close()
      }
    })
  })

  it('an interactive shell whose mindbg is ended by SIGTERM while a command runs', {timeout: TIMEOUT}, async () => {
    await leavesNothing(async (pod) => {
      const s = PtySession.mindbg(['attach', '--kubeconfig', kubeconfig, `pod/${pod}`], testEnv())
      try {
        await s.expect(PROMPT, 30_000)
        s.send('sleep 300 & sleep 301\r')
        await delay(500)
        process.kill(s.pid, 'SIGTERM')
        expect((await s.waitExit(15_000)).exitCode).toBe(143)
      } finally {
        await s.close()
      }
    })
  })

  it('a debugger with a read-only root filesystem cannot run the init: mindbg says so, and the command still runs', {timeout: TIMEOUT}, async () => {
    const {name} = await startPod()
    const custom = join(dir, 'read-only.json')
    writeFileSync(custom, JSON.stringify({securityContext: {readOnlyRootFilesystem: true}}))
    const r = await mindbg(['attach', '--kubeconfig', kubeconfig, `pod/${name}`, '--custom', custom, '--', 'sh', '-c', 'echo ran; exit 4'])
    expect(r).toMatchObject({code: 4, stdout: 'ran\n'})
    expect(r.stderr).toMatch(/mindbg-init cannot run in the debugger .*zombies/)
    const quiet = await mindbg(['attach', '--kubeconfig', kubeconfig, `pod/${name}`, '-q', '--custom', custom, '--', 'true'])
    expect(quiet).toMatchObject({code: 0, stderr: ''})
  })
})
