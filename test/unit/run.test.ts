/**
 * The pure parts of `mindbg run` and `cp`: flags and runbook into a plan (who beats whom, what is refused), label
 * selectors, bundle names of targets, the exit code, the report a person reads first, the source syntax of cp, and
 * the tar writer the bundle uses (read back by the project's own reader and by GNU tar).
 */
import {execFileSync} from 'node:child_process'
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {parseCopySource, planRun} from '../../src/cli/run-plan.js'
import {MindbgError} from '../../src/domain/errors.js'
import {readTar, TAR_END, tarHeader, tarPadding} from '../../src/domain/tar.js'
import {parseLabelSelector, type Target} from '../../src/domain/target.js'
import {buildManifest, renderReport, runExitCode} from '../../src/session/report.js'
import {type StepStatus, targetKeys, type RunOutcome, type TargetRecord} from '../../src/session/run.js'
import {parseRunbook} from '../../src/session/runbook.js'

const config = {path: undefined, siblings: []}
const book = (text = 'image: alpine:3\nprofile: baseline\ntimeout: 20s\nsteps:\n  - {name: a, run: echo a}\n  - {name: b, run: echo b, timeout: 5s}\n') => parseRunbook(text, 'test.yaml')

const usage = (fn: () => unknown): string => {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(MindbgError)
    expect((error as MindbgError).exitCode).toBe(2)
    return (error as MindbgError).message
  }
  throw new Error('no error')
}

describe('planRun', () => {
  it('flags beat the runbook, which beats the environment', async () => {
    const runbook = await book()
    const plain = planRun({runbook, targets: ['web'], flags: {}, env: {MINDBG_IMAGE: 'busybox:1'}, config})
    expect([plain.request.image, plain.request.profile, plain.runbook.steps.map((s) => s.timeoutMs)]).toEqual(['alpine:3', 'baseline', [20_000, 5_000]])
    const flagged = planRun({runbook, targets: ['web'], flags: {image: 'busybox:2', profile: 'general', timeout: '3s', reason: 'INC-9'}, env: {}, config})
    expect([flagged.request.image, flagged.request.profile, flagged.runbook.steps.map((s) => s.timeoutMs), flagged.request.reason]).toEqual(['busybox:2', 'general', [3000, 3000], 'INC-9'])
    expect(planRun({runbook: await book('steps:\n  - {name: a, run: echo}\n'), targets: ['web'], flags: {}, env: {MINDBG_IMAGE: 'busybox:1'}, config}).request.image).toBe('busybox:1')
  })

  it('selectors are Docker labels unless a Kubernetes flag says pods', async () => {
    const runbook = await book()
    expect(planRun({runbook, targets: [], flags: {selector: ['app=web']}, env: {}, config}).selectors).toEqual([{runtime: 'docker', labels: 'app=web'}])
    const kube = planRun({runbook, targets: ['pod/x'], flags: {selector: ['app=web,tier'], namespace: 'shop', 'target-container': 'app'}, env: {}, config})
    expect(kube.selectors).toEqual([{runtime: 'kubernetes', labels: 'app=web,tier', namespace: 'shop', allNamespaces: false, container: 'app'}])
    expect(kube.refs).toEqual([{runtime: 'kubernetes', pod: 'x', namespace: 'shop', container: 'app'}])
    expect(planRun({runbook, targets: [], flags: {selector: ['a=b'], 'all-namespaces': true}, env: {}, config}).selectors[0]).toMatchObject({runtime: 'kubernetes', allNamespaces: true})
    expect(planRun({runbook, targets: [], flags: {selector: ['a=b'], kubernetes: true}, env: {}, config}).selectors[0]!.runtime).toBe('kubernetes')
  })

  it.each([
    [{}, [], 'no targets'],
    [{selector: ['a=b'], 'all-namespaces': true, namespace: 'x'}, [], '--all-namespaces and --namespace'],
    [{'all-namespaces': true}, ['pod/a'], '--all-namespaces goes with -l'],
    [{namespace: 'x'}, ['web'], 'is a container name'],
    [{concurrency: '0'}, ['web'], 'bad --concurrency'],
    [{concurrency: 'many'}, ['web'], 'bad --concurrency'],
    [{selector: ['app==web']}, [], 'bad label selector'],
    [{timeout: 'soon'}, ['web'], 'soon'],
  ] as const)('refuses %j with targets %j', async (flags, targets, message) => {
    const runbook = await book()
    expect(usage(() => planRun({runbook, targets: [...targets], flags: {...flags} as never, env: {}, config}))).toContain(message)
  })
})

describe('label selectors', () => {
  it.each([['app=web'], ['app=web,tier=front'], ['app'], ['app.kubernetes.io/name=web'], ['com.docker.compose.project=shop'], ['a=b , c']])('accepts %s', (s) => {
    expect(parseLabelSelector(s).length).toBeGreaterThan(0)
  })
  it.each([[''], ['a=b,'], ['=b'], ['a=b=c'], ['a b=c'], ['a!=b']])('refuses "%s"', (s) => {
    expect(usage(() => parseLabelSelector(s))).toContain('bad label selector')
  })
})

describe('targetKeys', () => {
  const t = (ref: string): Target => ({runtime: 'docker', name: ref, id: ref, ref, image: '', state: 'running', stateDetail: '', stateMessage: '', stateHint: ''})
  it('file names from references, unique within the run', () => {
    expect(targetKeys([t('web'), t('k8s://shop/api-0/app'), t('web'), t('..hidden'), t('a/b:c')])).toEqual(['web', 'shop_api-0_app', 'web-2', 'hidden', 'a_b_c'])
  })
})

const record = (key: string, status: TargetRecord['status'], steps: TargetRecord['steps'] = []): TargetRecord => ({
  key,
  name: key,
  ref: key,
  runtime: 'docker',
  id: `${key}-id`,
  image: 'web:1',
  status,
  startedAt: '2026-12-01T00:00:00.000Z',
  endedAt: '2026-12-01T00:00:01.000Z',
  steps,
})
const outcome = (targets: TargetRecord[], incomplete = false): RunOutcome => ({targets, incomplete, startedAt: '2026-12-01T00:00:00.000Z', endedAt: '2026-12-01T00:00:02.000Z'})

describe('the exit code of a run', () => {
  it.each([
    [['ok', 'ok'], false, undefined, 0],
    [['ok', 'steps-failed'], false, undefined, 121],
    [['ok', 'failed'], false, undefined, 121],
    [['ok', 'stopped'], true, 130, 130],
    [['ok', 'stopped'], true, 143, 143],
  ] as const)('%j incomplete=%s stop=%s: %s', (statuses, incomplete, stop, code) => {
    expect(runExitCode(outcome(statuses.map((s, i) => record(`t${i}`, s)), incomplete), stop)).toBe(code)
  })
})

describe('report.md', () => {
  const stream = (file: string, bytes: number) => ({file, bytes, sha256: 'f'.repeat(64)})
  const step = (name: string, status: StepStatus, exitCode: number | null, out = 0): TargetRecord['steps'][number] => ({
    name,
    kind: 'run',
    command: ['sh', '-c', `run ${name}`],
    status,
    exitCode,
    durationMs: 1500,
    timeoutMs: 20_000,
    ...(status === 'not-run' ? {reason: 'the target stopped'} : {output: {stdout: stream(`web/${name}.stdout`, out), stderr: stream(`web/${name}.stderr`, 0), stderrTail: ''}}),
  })

  it('a table first, then each step; long output cut with a pointer to its file; fences longer than the output\'s backticks', async () => {
    const runbook = await book()
    const targets = [record('web', 'steps-failed', [step('a', 'ok', 0, 50_000), step('b', 'failed', 3, 10), step('c', 'timeout', 124), step('d', 'not-run', null), step('e', 'stopped', null)]), record('api', 'failed', [])]
    targets[1]!.reason = 'the debugger was refused'
    const manifest = buildManifest(runbook, outcome(targets), {version: '1.2.3', reason: 'INC-7', exitCode: 121})
    const files: Record<string, string> = {'web/a.stdout': `${'line\n'.repeat(10_000)}`, 'web/b.stdout': 'has ``` in it'}
    const read = (file: string, limit: number) => ({text: (files[file] ?? '').slice(0, limit), size: (files[file] ?? '').length})
    const report = renderReport(manifest, read, {filesKept: true})
    expect(report).toMatch(/^# Runbook test: 2 targets\n/)
    expect(report).toContain('- Result: 0 ok, 1 with failed steps, 1 failed, 0 stopped; exit code 121')
    expect(report).toContain('- Reason: INC-7')
    expect(report).toContain('| web | docker | STEPS-FAILED | ok | FAILED (3) | TIMEOUT | - |')
    expect(report).toContain('**Failed:** the debugger was refused')
    expect(report).toContain('### c: timed out after 20s, 1.5s')
    expect(report).toContain('### d: not run')
    expect(report).toMatch(/### e: stopped, \d/)
    expect(report).toContain('(stdout: 50000 bytes, cut here; the whole of it is `web/a.stdout`)')
    expect(report.match(/^line$/gm)).toHaveLength(200)
    expect(report).toContain('````text\nhas ``` in it\n````')
    const printed = renderReport(manifest, read, {filesKept: false})
    expect(printed).toContain('rerun with --bundle PATH to keep all of it')
    expect(manifest).toMatchObject({complete: true, exitCode: 121, reason: 'INC-7', mindbg: {version: '1.2.3'}, runbook: {name: 'test', sha256: runbook.sha256}})
    expect(manifest.targets[0]!.steps[0]).toMatchObject({stdout: {file: 'web/a.stdout', bytes: 50_000}})
    expect(JSON.stringify(manifest)).not.toContain('stderrTail')
  })
})

describe('cp sources', () => {
  it.each([
    ['web:/etc/app', {runtime: 'docker', ref: 'web'}, '/etc/app'],
    ['web:/etc/app/', {runtime: 'docker', ref: 'web'}, '/etc/app'],
    ['web:/', {runtime: 'docker', ref: 'web'}, '/'],
    ['docker://web:/x', {runtime: 'docker', ref: 'web'}, '/x'],
    ['pod/api-0:/tmp/heap', {runtime: 'kubernetes', pod: 'api-0'}, '/tmp/heap'],
    ['pod/api-0/app:/tmp', {runtime: 'kubernetes', pod: 'api-0', container: 'app'}, '/tmp'],
    ['k8s://shop/api-0:/a:b', {runtime: 'kubernetes', namespace: 'shop', pod: 'api-0'}, '/a:b'],
  ] as const)('%s', (source, target, path) => {
    expect(parseCopySource(source)).toEqual({target, path})
  })
  it.each([['web'], ['web:relative'], [':/x'], ['web:/a/../b']])('refuses %s', (source) => {
    expect(usage(() => parseCopySource(source))).toMatch(/bad|\.\./)
  })
})

describe('the tar writer', () => {
  it('files, directories, links and long names: read back by readTar and by GNU tar', () => {
    const long = `deep/${'d'.repeat(120)}/file-with-a-long-name.txt`
    const data = Buffer.from('hello\n')
    const archive = Buffer.concat([
      tarHeader({path: 'top', type: 'directory', mode: 0o755, mtime: 1_600_000_000}),
      tarHeader({path: 'top/a.txt', type: 'file', mode: 0o640, size: data.length, mtime: 1_600_000_000}),
      data,
      tarPadding(data.length),
      tarHeader({path: `top/${long}`, type: 'file', mode: 0o600, size: data.length}),
      data,
      tarPadding(data.length),
      tarHeader({path: 'top/link', type: 'symlink', mode: 0o777, linkTarget: 'a.txt'}),
      TAR_END,
    ])
    const entries = readTar(archive)
    expect(entries.map((e) => [e.path, e.type, e.mode & 0o777])).toEqual([
      ['top', 'directory', 0o755],
      ['top/a.txt', 'file', 0o640],
      [`top/${long}`, 'file', 0o600],
      ['top/link', 'symlink', 0o777],
    ])
    expect(entries[1]!.data.toString()).toBe('hello\n')
    const dir = mkdtempSync(join(tmpdir(), 'mindbg-tar-'))
    writeFileSync(join(dir, 'x.tar'), archive)
    const listing = execFileSync('tar', ['-tvf', join(dir, 'x.tar')], {encoding: 'utf8'})
    expect(listing).toContain(`top/${long}`)
    expect(listing).toMatch(/-rw-r----- .* 2020-09-13 .*top\/a.txt/)
    expect(listing).toContain('top/link -> a.txt')
  })
})
