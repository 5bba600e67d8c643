/**
 * mindbg attach pod/P --copy-to NAME, through the Kubernetes API simulator (real Docker underneath, the real kubectl
 * to set up and to look): a crash-looping distroless pod copied with --hold, its entrypoint read from a registry
 * (the pod spec has args only), started by hand from the debugger and seen to crash; the copy gone after the
 * session and after a SIGKILL of mindbg; --set-image, labels, annotations and probes as kubectl 1.34 handles them;
 * --keep.
 */
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {startKubeSim, type KubeSim} from '../support/kube-sim/server.ts'
import {kubectlWith} from '../support/kubectl.js'
import {PtySession} from '../support/pty.js'
import {startRegistry, type Registry} from '../support/registry.js'
import {BUSYBOX, collect, DISTROLESS, docker, dockerOk, eventually, MARKER, mindbg, requireEngine, startMindbg, testEnv} from './helpers.js'

const dir = mkdtempSync(join(tmpdir(), 'mindbg-kube-copy-'))
let sim: KubeSim
let registry: Registry
let kubeconfig: string
let webImage: string
const kubectl = (...args: string[]): Promise<string> => kubectlWith(kubeconfig, ...args)
const attach = (args: string[]) => mindbg(['attach', '--kubeconfig', kubeconfig, ...args], {timeoutMs: 90_000})
const pods = async (): Promise<string[]> => (await kubectl('get', 'pods', '-o', 'name')).split('\n').filter(Boolean)
const gone = (name: string, timeoutMs = 15_000): Promise<true> => eventually(`pod ${name} to be gone`, async () => !(await pods()).includes(`pod/${name}`), timeoutMs, 200)

beforeAll(async () => {
  requireEngine()
  // The crashing pod's image comes from a registry, so that its entrypoint (the spec gives args only) is read there.
  registry = await startRegistry({images: [{name: 'mindbg-test/web', tag: 'copy', from: DISTROLESS}]})
  webImage = `${registry.host}/mindbg-test/web:copy`
  sim = await startKubeSim()
  kubeconfig = join(dir, 'admin.kubeconfig')
  sim.writeKubeconfig(kubeconfig)
  writeFileSync(
    join(dir, 'pods.yaml'),
    `apiVersion: v1
kind: Pod
metadata: {name: crashy, labels: {app: crashy, tier: web}, annotations: {team: payments}}
spec:
  securityContext: {runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532}
  containers:
    - name: app
      image: ${webImage}
      args: [--die-after, "1"]
      livenessProbe: {httpGet: {path: /, port: 8080}}
      readinessProbe: {httpGet: {path: /, port: 8080}}
      startupProbe: {httpGet: {path: /, port: 8080}}
    - {name: side, image: ${DISTROLESS}, imagePullPolicy: IfNotPresent, args: ["8081"]}
`,
  )
  await kubectl('apply', '-f', join(dir, 'pods.yaml'))
  // A crash loop: restarted more than once (the simulator restarts it after 1 s, then 2 s, 4 s...).
  await eventually('crashy to crash-loop', async () => {
    const app = JSON.parse(await kubectl('get', 'pod', 'crashy', '-o', 'json')).status?.containerStatuses?.find((s: any) => s.name === 'app')
    return app?.restartCount > 1
  }, 30_000, 200)
}, 120_000)

afterAll(async () => {
  await sim?.close()
  await registry?.close()
  if (webImage && dockerOk('image', 'inspect', webImage)) docker('rmi', webImage)
})

describe('--copy-to --hold: a crash-looping distroless pod', () => {
  it('is refused without --copy-to, with a hint naming --copy-to --hold', async () => {
    const r = await attach(['pod/crashy', '--', 'true'])
    expect(r.code, r.stderr).toBe(114)
    expect(r.stderr).toMatch(/container app of pod crashy is not running \((terminated, exit code 3|CrashLoopBackOff|restarted [\d.]+ s ago after exit code 3)/)
    expect(r.stderr).toMatch(/Hint: An ephemeral container cannot join a container that is not running: .*--copy-to crashy-debug --hold/)
  })

  it('is copied held; the entrypoint (from the registry) is started by hand, crashes with its code, leaves no zombie; the copy is gone after', async () => {
    const script = [
      'ls "$MINDBG_TARGET_ROOT/app"',
      'mindbg-release; rc=$?',
      'echo "released rc=$rc"',
      // The crash is reaped: no zombie anywhere in the pod's PID namespace.
      'ps -o stat= | grep -c "^Z" || true',
      'exit $rc',
    ].join('; ')
    const t0 = Date.now()
    const r = await attach(['pod/crashy', '-c', 'app', '--copy-to', 'crashy-held', '--hold', '--', 'sh', '-c', script])
    const seconds = (Date.now() - t0) / 1000
    expect(r.code, r.stderr).toBe(3)
    expect(r.stdout).toMatch(/^web$/m)
    expect(r.stdout).toMatch(/web: listening on 127\.0\.0\.1:8080/)
    expect(r.stdout).toMatch(/^released rc=3$/m)
    expect(r.stdout).toMatch(/^0$/m)
    expect(r.stderr).toMatch(/app is held: run mindbg-release in the debugger/)
    expect(r.stderr).toMatch(/mindbg-release in the debugger starts: \/app\/web --die-after 1/)
    expect(r.stderr).toMatch(/mindbg-release: the entrypoint exited with code 3/)
    await gone('crashy-held')
    // The original is untouched.
    expect(await pods()).toContain('pod/crashy')
    console.log(`copy --hold session: ${seconds.toFixed(1)} s`)
  })

  it('SIGKILL of mindbg: the reaper deletes the copy', async () => {
    const child = startMindbg(['attach', '--kubeconfig', kubeconfig, 'pod/crashy', '--copy-to', 'crashy-killed', '--hold', '--', 'sleep', '300'])
    let stderr = ''
    child.stderr!.on('data', (d: Buffer) => (stderr += d))
    const done = collect(child, 90_000)
    await eventually('the copy to run', async () => {
      const p = JSON.parse(await kubectl('get', 'pod', 'crashy-killed', '-o', 'json').catch(() => '{}'))
      return p.status?.containerStatuses?.some((s: any) => s.name.startsWith('mindbg-') && s.state?.running)
    }, 30_000, 200)
    const t0 = Date.now()
    child.kill('SIGKILL')
    await done
    await gone('crashy-killed', 20_000)
    console.log(`copy gone ${((Date.now() - t0) / 1000).toFixed(1)} s after SIGKILL of mindbg`)
    expect(stderr).not.toMatch(/mindbg: .*error/i)
  })
})

describe('--copy-to on a terminal', () => {
  it('a detach keeps the copy and its shell; --reuse gets back in, and its end deletes the copy', async () => {
    const first = PtySession.mindbg(['attach', '--kubeconfig', kubeconfig, 'pod/crashy', '-c', 'side', '--copy-to', 'crashy-back'], testEnv())
    try {
      await first.expect(/side is PID \d+ here/, 30_000)
      await first.expect(/[#$] /, 10_000)
      first.send('\x10\x11')
      await first.expect(/detached from (mindbg-[a-z0-9]{5}); it keeps running in the copy default\/crashy-back/, 10_000)
      expect((await first.waitExit(10_000)).exitCode).toBe(0)
      expect(first.output).toMatch(/Re-attach: mindbg attach pod\/crashy-back -n default --session mindbg-[a-z0-9]{5} \(or --reuse\)/)
    } finally {
      await first.close()
    }
    expect(await pods()).toContain('pod/crashy-back')
    const again = PtySession.mindbg(['attach', '--kubeconfig', kubeconfig, 'pod/crashy-back', '--reuse'], testEnv())
    try {
      await again.expect(/re-attaching to mindbg-[a-z0-9]{5} in the copy default\/crashy-back/, 15_000)
      again.send('\r')
      await again.expect(/[#$] /)
      again.send('exit 5\r')
      expect((await again.waitExit(15_000)).exitCode).toBe(5)
    } finally {
      await again.close()
    }
    await gone('crashy-back')
  })
})

describe('--copy-to: the copy as kubectl 1.34 makes it', () => {
  it('--dry-run shows it: labels, annotations and probes dropped, --set-image applied, one PID namespace; nothing created', async () => {
    const r = await attach(['pod/crashy', '--copy-to', 'crashy-dry', '--set-image', 'side=' + BUSYBOX, '--dry-run', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const spec = JSON.parse(r.stdout).spec
    expect(spec.metadata.name).toBe('crashy-dry')
    expect(Object.keys(spec.metadata.labels).sort()).toEqual(['mindbg.org/role', 'mindbg.org/session'])
    expect(spec.metadata.annotations.team).toBeUndefined()
    expect(spec.metadata.annotations['kubectl.kubernetes.io/default-container']).toBe('app')
    expect(spec.metadata.annotations['mindbg.org/copy-of']).toBe('crashy')
    expect(spec.spec.shareProcessNamespace).toBe(true)
    expect(spec.spec.restartPolicy).toBe('Never')
    expect(spec.spec.activeDeadlineSeconds).toBe(12 * 3600)
    const [app, side, dbg] = spec.spec.containers
    expect(app).not.toHaveProperty('livenessProbe')
    expect(app).not.toHaveProperty('readinessProbe')
    expect(app).not.toHaveProperty('startupProbe')
    expect(app.image).toBe(webImage)
    expect(side.image).toBe(BUSYBOX)
    expect(dbg.name).toMatch(/^mindbg-[a-z0-9]{5}$/)
    expect(dbg).not.toHaveProperty('targetContainerName')
    // The pod runs as non-root: so does the debugger.
    expect(dbg.securityContext).toMatchObject({runAsUser: 65532, runAsNonRoot: true})
    expect(await pods()).not.toContain('pod/crashy-dry')
  })

  it('--keep --keep-labels --keep-annotations --keep-liveness --set-image "*=" --chroot: created as said, left after the session, and how to delete it is said', async () => {
    const r = await attach(['pod/crashy', '--copy-to', 'crashy-kept', '--keep', '--keep-labels', '--keep-annotations', '--keep-liveness', '--set-image', `*=${DISTROLESS}`, '--chroot', '-c', 'side', '--', 'sh', '-c', 'cat /app/config.txt; id -u'])
    expect(r.code, r.stderr).toBe(0)
    // Chrooted into the target (side: app crashes a second after it starts), as root, in a pod whose containers
    // run as 65532.
    expect(r.stdout).toBe(`${MARKER}\n0\n`)
    expect(r.stderr).toMatch(/--keep: the copy default\/crashy-kept is kept; delete it with: kubectl delete pod crashy-kept -n default/)
    const p = JSON.parse(await kubectl('get', 'pod', 'crashy-kept', '-o', 'json'))
    expect(p.metadata.labels).toMatchObject({app: 'crashy', tier: 'web', 'mindbg.org/role': 'copy'})
    expect(p.metadata.annotations).toMatchObject({team: 'payments', 'mindbg.org/kept': 'true'})
    expect(p.spec.containers[0].livenessProbe).toBeDefined()
    expect(p.spec.containers[0].readinessProbe).toBeUndefined()
    expect(p.spec.containers.slice(0, 2).map((c: any) => c.image)).toEqual([DISTROLESS, DISTROLESS])
    // A kept copy has no deadline and is not pruned (only with --all).
    expect(p.spec.activeDeadlineSeconds).toBeUndefined()
    const pruned = await mindbg(['prune', '--kubeconfig', kubeconfig, '--json'])
    expect(JSON.parse(pruned.stdout).removed.map((x: any) => x.name)).not.toContain('crashy-kept')
    const ls = await mindbg(['ls', '--kubeconfig', kubeconfig, '--json'])
    expect(JSON.parse(ls.stdout)).toContainEqual(expect.objectContaining({name: 'crashy-kept', role: 'copy', kept: true}))
    await kubectl('delete', 'pod', 'crashy-kept', '--wait=false')
  })
})
