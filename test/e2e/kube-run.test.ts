/**
 * mindbg run and cp over pods, through the Kubernetes API simulator (its pods run in the real Docker engine; the
 * real kubectl sets them up): pods selected by label in a namespace or in all of them, one pod's container killed
 * mid-run, Ctrl-C, a copy out of a distroless pod. Afterwards the targets' process tables are as before.
 */
import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {startKubeSim, type KubeSim} from '../support/kube-sim/server.ts'
import {kubectlWith} from '../support/kubectl.js'
import {describeProcesses, pidNamespaceProcesses} from '../support/processes.js'
import {collect, docker, eventually, MARKER, mindbg, requireEngine, startMindbg} from './helpers.js'

const dir = mkdtempSync(join(tmpdir(), 'mindbg-kube-run-'))
let sim: KubeSim
let kubeconfig: string
const kubectl = (...args: string[]): Promise<string> => kubectlWith(kubeconfig, ...args)
const podJson = async (name: string, namespace = 'default'): Promise<Record<string, any>> => JSON.parse(await kubectl('get', 'pod', name, '-n', namespace, '-o', 'json'))
const manifestOf = (bundle: string): any => JSON.parse(readFileSync(join(bundle, 'manifest.json'), 'utf8'))
const run = (args: string[], env: Record<string, string> = {}) => mindbg(['run', ...args, '--kubeconfig', kubeconfig], {env, timeoutMs: 120_000})

const PODS = [
  ['rb-0', 'default', 'rb'],
  ['rb-1', 'default', 'rb'],
  ['rb-2', 'default', 'rb'],
  ['other', 'default', 'other'],
  ['rb-far', 'far', 'rb'],
] as const

/** The host PID of a pod's app container, read from the engine (the simulator runs it there). */
async function hostPid(name: string, namespace = 'default'): Promise<number> {
  const id = await eventually(`pod ${namespace}/${name} to run`, async () => {
    const s = (await podJson(name, namespace)).status?.containerStatuses?.[0]
    return s?.state?.running && (s.containerID as string).replace('docker://', '')
  }, 30_000)
  return Number(docker('inspect', '--format', '{{.State.Pid}}', id))
}

const processTable = (pid: number): string[] => describeProcesses(pidNamespaceProcesses(pid))

async function debuggersEnded(name: string, namespace = 'default'): Promise<void> {
  await eventually(`the debuggers of ${name} to end`, async () => {
    const statuses: Array<Record<string, any>> = (await podJson(name, namespace)).status?.ephemeralContainerStatuses ?? []
    return statuses.every((s) => s.state?.terminated) && statuses
  }, 20_000)
}

beforeAll(async () => {
  requireEngine()
  sim = await startKubeSim()
  kubeconfig = join(dir, 'admin.kubeconfig')
  sim.writeKubeconfig(kubeconfig)
  const yaml = [
    'apiVersion: v1\nkind: Namespace\nmetadata: {name: far}',
    ...PODS.map(
      ([name, namespace, app]) => `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ${namespace}, labels: {app: ${app}, tier: web}}
spec:
  securityContext: {runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532}
  containers:
    - {name: app, image: mindbg-fixture/distroless-web:local, imagePullPolicy: IfNotPresent, securityContext: {readOnlyRootFilesystem: true, allowPrivilegeEscalation: false}}`,
    ),
  ].join('\n---\n')
  writeFileSync(join(dir, 'pods.yaml'), yaml)
  await kubectl('apply', '-f', join(dir, 'pods.yaml'))
  for (const [name, namespace] of PODS) await hostPid(name, namespace)
}, 120_000)
afterAll(async () => {
  await sim?.close()
})

const STEPS = `name: pods
timeout: 10s
steps:
  - {name: config, run: cat /proc/1/root/app/config.txt}
  - {name: wait, run: sleep 2; echo waited}
  - {name: fails, run: exit 3}
  - {name: leaves, run: "(sleep 300 &) ; sleep 301 & echo started"}
  - {name: files, collect: /app/config.txt}
`

describe('mindbg run over pods selected by label', () => {
  it('-l in the namespace: the matching pods only, each step recorded, one pod killed mid-run, nothing left running', async () => {
    const file = join(dir, 'pods.yaml.rb')
    writeFileSync(file, STEPS)
    const before = new Map<string, string[]>()
    for (const name of ['rb-0', 'rb-2']) before.set(name, processTable(await hostPid(name)))
    const victimContainer = (await podJson('rb-1')).status.containerStatuses[0].containerID.replace('docker://', '')
    const bundle = join(dir, 'bundle')
    const child = startMindbg(['run', file, '-l', 'app=rb', '--kubeconfig', kubeconfig, '--bundle', bundle])
    let stderr = ''
    let killed = false
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d
      if (!killed && stderr.includes('default_rb-1_app: config: ok')) {
        killed = true
        docker('kill', victimContainer)
      }
    })
    const r = await collect(child, 120_000)
    expect(killed).toBe(true)
    expect(r.code, r.stderr).toBe(121)
    const m = manifestOf(bundle)
    expect(m.targets.map((t: any) => t.key)).toEqual(['default_rb-0_app', 'default_rb-1_app', 'default_rb-2_app'])
    for (const t of m.targets) {
      expect(t).toMatchObject({runtime: 'kubernetes', image: 'mindbg-fixture/distroless-web:local'})
      expect(t.ref).toBe(`k8s://default/${t.key.split('_')[1]}/app`)
      expect(t.id).toBe((await podJson(t.key.split('_')[1])).metadata.uid)
      expect(t.node).toBeTruthy()
      const steps = Object.fromEntries(t.steps.map((s: any) => [s.name, s]))
      if (t.key === 'default_rb-1_app') {
        expect(t.status).toBe('failed')
        expect(steps.config.status).toBe('ok')
        expect(steps.wait.status).toBe('failed')
        expect(steps.files.status).toBe('not-run')
        continue
      }
      expect(t.status).toBe('steps-failed')
      expect(steps.config.status).toBe('ok')
      expect(readFileSync(join(bundle, steps.config.stdout.file), 'utf8')).toBe(`${MARKER}\n`)
      expect(steps.wait).toMatchObject({status: 'ok'})
      expect(steps.fails).toMatchObject({status: 'failed', exitCode: 3})
      expect(steps.leaves).toMatchObject({status: 'ok'})
      expect(readFileSync(join(bundle, t.key, 'files/app/config.txt'), 'utf8')).toBe(`${MARKER}\n`)
    }
    for (const name of ['rb-0', 'rb-2']) {
      await debuggersEnded(name)
      // The orphans of the "leaves" step are gone with it: the target's processes are as before, no zombie.
      expect(processTable(await hostPid(name))).toEqual(before.get(name))
    }
  }, 180_000)

  it('-A selects across namespaces; -n another; nothing matching is exit 112', async () => {
    // rb-1 was killed in the test before. Running again for under 10 s after a crash, mindbg takes it for crash-looping
    // and leaves it out of a selection (kubectl lists it as running): compared only once it has run for longer.
    await eventually('rb-1 to run again for over 10 s', async () => {
      const startedAt = (await podJson('rb-1')).status.containerStatuses?.[0]?.state?.running?.startedAt as string | undefined
      return startedAt !== undefined && Date.now() - Date.parse(startedAt) > 11_000
    }, 40_000, 250)
    const every = await run(['triage', '-l', 'app=rb,tier=web', '-A', '--dry-run', '--json'])
    expect(every.code, every.stderr).toBe(0)
    const keys = JSON.parse(every.stdout).targets.map((t: any) => t.key)
    // The simulator's label selection, as the real kubectl sees it.
    const listed = JSON.parse(await kubectl('get', 'pods', '-A', '-l', 'app=rb,tier=web', '-o', 'json')).items
      .filter((p: any) => p.status.containerStatuses?.[0]?.state?.running)
      .map((p: any) => `${p.metadata.namespace}_${p.metadata.name}_app`)
    expect([...keys].sort()).toEqual(listed.sort())
    expect(keys).toContain('far_rb-far_app')
    expect(keys).not.toContain('default_other_app')
    const far = await run(['triage', '-l', 'app=rb', '-n', 'far', '--bundle', join(dir, 'far')])
    expect(far.code, far.stderr).toBe(0)
    expect(manifestOf(join(dir, 'far')).targets.map((t: any) => [t.key, t.status])).toEqual([['far_rb-far_app', 'ok']])
    const none = await run(['triage', '-l', 'app=nothing', '--kubernetes'])
    expect(none.code).toBe(112)
    expect(none.stderr).toContain('-l app=nothing among running pods in namespace')
  }, 120_000)

  it('Ctrl-C mid-run: the debuggers stop, the bundle is marked incomplete', async () => {
    const file = join(dir, 'long.yaml')
    writeFileSync(file, 'steps:\n  - {name: one, run: echo one}\n  - {name: long, run: sleep 120}\n')
    const bundle = join(dir, 'stopped')
    const child = startMindbg(['run', file, '-l', 'app=rb', '--kubeconfig', kubeconfig, '--bundle', bundle])
    let stderr = ''
    await new Promise<void>((resolve) => {
      child.stderr!.on('data', (d: Buffer) => {
        stderr += d
        // rb-1 may still be restarting after the test before: as many as the run found.
        const found = Number(/on (\d+) targets?/.exec(stderr)?.[1] ?? 99)
        if ((stderr.match(/: one: ok/g) ?? []).length >= found) resolve()
      })
    })
    await new Promise((r) => setTimeout(r, 500))
    child.kill('SIGINT')
    const r = await collect(child, 60_000)
    expect(r.code, r.stderr).toBe(130)
    expect(manifestOf(bundle).complete).toBe(false)
    for (const name of ['rb-0', 'rb-2']) {
      await debuggersEnded(name)
      expect(processTable(await hostPid(name)).filter((p) => /sleep/.test(p))).toEqual([])
    }
  }, 120_000)
})

describe('mindbg cp from a pod', () => {
  it('copies a file out of a distroless pod with a read-only root', async () => {
    const dest = join(dir, 'config.txt')
    const r = await mindbg(['cp', 'pod/rb-0:/app/config.txt', dest, '--kubeconfig', kubeconfig])
    expect(r.code, r.stderr).toBe(0)
    expect(readFileSync(dest, 'utf8')).toBe(`${MARKER}\n`)
    const missing = await mindbg(['cp', 'pod/rb-0:/nope', join(dir, 'nope'), '--kubeconfig', kubeconfig])
    expect(missing.code).toBe(122)
  }, 60_000)
})
