/**
 * mindbg run --shared-debugger on the real engine: one debugger in the host's PID namespace for every target, each
 * target's steps a session of its mindbg-init --mux entering that target's namespaces. What a step sees must be what
 * a sidecar's step sees (the target's processes as PID 1, its localhost, its filesystem, its hostname), with exit
 * codes and streams kept apart, no CAP_SYS_ADMIN left to the step, no zombie left in the target, and nothing left on
 * the engine, also when mindbg is killed mid-run.
 */
import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {RUN_INCOMPLETE_EXIT} from '../../src/session/report.js'
import {collect, docker, mindbg, REMOVAL_MS, removeTargets, requireEngine, startMindbg, startTarget, waitFor} from './helpers.js'

const dir = mkdtempSync(join(tmpdir(), 'mindbg-shared-'))
const label = `mindbg-e2e-shared=${process.pid}`
const targets: string[] = []

const RUNBOOK = join(dir, 'checks.yaml')
writeFileSync(
  RUNBOOK,
  `name: shared
timeout: 20s
steps:
  - name: pid1
    run: cat /proc/1/cmdline | tr '\\0' ' '
  - name: root
    run: ls /proc/1/root/app
  - name: listening
    run: [netstat, -tln]
  - name: host
    run: hostname
  - name: caps
    run: grep CapEff /proc/self/status
  - name: streams
    run: echo out; echo err >&2; exit 3
  - name: orphan
    run: (sleep 30 &) ; echo left
`,
)

const sharedDebuggers = (): string[] => docker('ps', '-a', '-q', '--filter', 'label=org.mindbg.shared=1').split('\n').filter(Boolean)
/** The processes of the target's PID namespace, as `ps -o stat,args` in a sidecar shows them (its own left out). */
const processesIn = (target: string): string[] =>
  docker('run', '--rm', '--pid', `container:${target}`, '--network', 'none', 'mindbg-fixture/busybox:local', 'ps', '-o', 'stat,args')
    .split('\n')
    .slice(1)
    .filter((line) => line.trim() && !line.includes('ps -o stat,args'))
const zombiesIn = (target: string): string[] => processesIn(target).filter((line) => /^\s*Z/.test(line) || line.includes('sleep 30'))

beforeAll(() => {
  requireEngine()
  for (let i = 0; i < 4; i++) targets.push(startTarget(['-l', label, '--hostname', `shared-${i}`]))
})
afterAll(removeTargets)

describe('run --shared-debugger', () => {
  it('gives every target its own view, exit codes and streams, as a sidecar would', async () => {
    const bundle = join(dir, 'bundle')
    const r = await mindbg(['run', RUNBOOK, '-l', label, '--shared-debugger', '--bundle', bundle, '-q'])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(RUN_INCOMPLETE_EXIT) // one step fails on every target: complete, with failed steps
    const manifest = JSON.parse(readFileSync(join(bundle, 'manifest.json'), 'utf8'))
    expect(manifest.targets).toHaveLength(4)
    const debuggers = new Set(manifest.targets.map((t: {debugger?: {name: string}}) => t.debugger?.name))
    expect(debuggers.size).toBe(1)
    expect([...debuggers][0]).toMatch(/^mindbg-shared-/)
    for (const t of manifest.targets) {
      const out = (step: string, stream = 'stdout'): string => readFileSync(join(bundle, t.key, `${step}.${stream}`), 'utf8')
      expect(out('pid1')).toContain('/app/web')
      expect(out('root')).toContain('config.txt')
      expect(out('listening')).toContain('127.0.0.1:8080')
      expect(out('host').trim()).toBe(docker('inspect', '--format', '{{.Config.Hostname}}', t.name))
      // The engine's defaults and SYS_PTRACE (bit 19), without CAP_SYS_ADMIN (bit 21).
      const eff = BigInt(`0x${out('caps').split(/\s+/)[1]}`)
      expect(eff & (1n << 21n)).toBe(0n)
      expect(eff & (1n << 19n)).toBe(1n << 19n)
      expect(out('streams')).toBe('out\n')
      expect(out('streams', 'stderr')).toBe('err\n')
      const steps = Object.fromEntries(t.steps.map((s: {name: string; exitCode: number}) => [s.name, s.exitCode]))
      expect(steps).toMatchObject({pid1: 0, streams: 3, orphan: 0})
    }
    for (const target of targets) expect(zombiesIn(target)).toEqual([])
    expect(sharedDebuggers()).toEqual([])
  })

  it('leaves nothing when mindbg is killed mid-run', async () => {
    const slow = join(dir, 'slow.yaml')
    writeFileSync(slow, 'name: slow\nsteps:\n  - name: wait\n    run: sleep 20\n')
    const child = startMindbg(['run', slow, '-l', label, '--shared-debugger', '-q'])
    const done = collect(child)
    await waitFor('the shared debugger', () => sharedDebuggers().length === 1, 20_000, 50)
    await waitFor('the steps to run', () => targets.every((t) => processesIn(t).some((p) => p.includes('sleep 20'))), 20_000, 50)
    child.kill('SIGKILL')
    await done
    await waitFor('no shared debugger', () => sharedDebuggers().length === 0, REMOVAL_MS + 3000, 50)
    for (const target of targets) await waitFor(`no step left in ${target}`, () => !processesIn(target).some((p) => p.includes('sleep 20')), REMOVAL_MS, 50)
    for (const target of targets) expect(zombiesIn(target)).toEqual([])
  })

  it('refuses what one debugger for every target cannot do', async () => {
    for (const [flags, says] of [
      [['pod/web'], 'is Kubernetes'],
      [[targets[0]!, '--sibling'], '--sibling'],
      [[targets[0]!, '--profile', 'restricted'], '--profile restricted'],
      [[targets[0]!, '--cap-add', 'NET_ADMIN'], '--cap-add'],
    ] as const) {
      const r = await mindbg(['run', RUNBOOK, ...flags, '--shared-debugger'])
      expect(r.code).toBe(2)
      expect(r.stderr).toContain(says)
    }
  })
})
