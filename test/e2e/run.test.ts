/**
 * mindbg run and mindbg cp on the real engine: runbooks over many distroless targets selected by label, one target
 * killed mid-run, failing and overrunning steps, Ctrl-C, the bundle in both forms, odd debug images, copies of a
 * 200 MB file and of a tree, and two mindbg processes writing one audit log at once.
 */
import {createHash} from 'node:crypto'
import {execFileSync} from 'node:child_process'
import {existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {allContainerIds, AUDIT_LOG, collect, createdSince, docker, dockerOk, mindbg, REMOVAL_MS, removeTargets, requireEngine, startMindbg, startTarget, waitFor, BUSYBOX, MARKER} from './helpers.js'

const dir = mkdtempSync(join(tmpdir(), 'mindbg-run-'))
const label = `mindbg-e2e-run=${process.pid}`
const targets: string[] = []

const runbook = (name: string, text: string): string => {
  const file = join(dir, `${name}.yaml`)
  writeFileSync(file, text)
  return file
}

/** Every mindbg sidecar next to any of `names`, in any state. */
/** None left moments after mindbg exits (the engine's AutoRemove finishing what mindbg's exit left under way). */
async function expectNoSidecarsNextTo(names: string[]): Promise<void> {
  await waitFor(`no sidecar next to ${names.join(', ')}`, () => sidecarsNextTo(names).length === 0, REMOVAL_MS, 20)
}

function sidecarsNextTo(names: string[]): string[] {
  const ids = names.filter((n) => dockerOk('inspect', n)).map((n) => docker('inspect', '--format', '{{.Id}}', n))
  return ids.flatMap((id) => docker('ps', '-a', '-q', '--filter', `label=org.mindbg.target=${id}`).split('\n').filter(Boolean))
}

const manifestOf = (bundle: string): any => JSON.parse(readFileSync(join(bundle, 'manifest.json'), 'utf8'))
const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex')

beforeAll(() => {
  requireEngine()
  for (let i = 0; i < 6; i++) targets.push(startTarget(['-l', label, '-l', `replica=${i}`]))
})
afterAll(removeTargets)

const STEPS = `name: e2e
timeout: 20s
steps:
  - name: first
    run: cat /proc/1/root/app/config.txt
  - name: wait
    run: sleep 3; echo waited
  - name: fails
    run: echo "it broke" >&2; exit 3
  - name: listening
    run: [netstat, -tln]
  - name: config
    collect: /app
`

describe('mindbg run over six targets selected by label', () => {
  it('one killed mid-run, one failing step: the bundle says exactly that, nothing is left behind', async () => {
    const bundle = join(dir, 'six')
    const victim = targets[2]!
    const child = startMindbg(['run', runbook('six', STEPS), '-l', label, '--bundle', bundle, '--reason', 'INC-6'])
    let stderr = ''
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d
      if (stderr.includes(`${victim}: first: ok`) && !killed) {
        killed = true
        docker('kill', victim)
      }
    })
    let killed = false
    const r = await collect(child, 120_000)
    expect(killed).toBe(true)
    expect(r.code, r.stderr).toBe(121)
    const m = manifestOf(bundle)
    expect(m.complete).toBe(true)
    expect(m.reason).toBe('INC-6')
    expect(m.exitCode).toBe(121)
    expect(m.targets.map((t: any) => t.name).sort()).toEqual([...targets].sort())
    for (const t of m.targets) {
      const steps = Object.fromEntries(t.steps.map((s: any) => [s.name, s]))
      if (t.name === victim) {
        expect(t.status).toBe('failed')
        expect(t.reason).toMatch(/stopped|disappeared|went away/)
        expect(steps.first.status).toBe('ok')
        expect(steps.wait.status).toBe('failed')
        expect(steps.fails.status).toBe('not-run')
        expect(steps.config.status).toBe('not-run')
        continue
      }
      expect(t.status, JSON.stringify(t)).toBe('steps-failed')
      expect(t.image).toBe('mindbg-fixture/distroless-web:local')
      expect(t.imageId).toMatch(/^sha256:/)
      expect(steps.first).toMatchObject({status: 'ok', exitCode: 0})
      expect(readFileSync(join(bundle, steps.first.stdout.file), 'utf8')).toBe(`${MARKER}\n`)
      expect(steps.wait).toMatchObject({status: 'ok'})
      expect(steps.wait.durationMs).toBeGreaterThanOrEqual(2900)
      expect(steps.fails).toMatchObject({status: 'failed', exitCode: 3, reason: 'it broke'})
      expect(readFileSync(join(bundle, steps.fails.stderr.file), 'utf8')).toBe('it broke\n')
      const listening = readFileSync(join(bundle, steps.listening.stdout.file))
      expect(listening.toString()).toMatch(/127\.0\.0\.1:8080/)
      expect(steps.listening.stdout.sha256).toBe(sha256(listening))
      expect(steps.listening.stdout.bytes).toBe(listening.length)
      expect(steps.config.files.files).toBe(2)
      expect(readFileSync(join(bundle, t.key, 'files/app/config.txt'), 'utf8')).toBe(`${MARKER}\n`)
      expect((statSync(join(bundle, t.key, 'files/app/config.txt')).mode & 0o777).toString(8)).toBe('600')
      expect(statSync(join(bundle, t.key, 'files/app/web')).mode & 0o111).not.toBe(0)
    }
    const report = readFileSync(join(bundle, 'report.md'), 'utf8')
    expect(report).toMatch(/^# Runbook e2e: 6 targets\n/)
    expect(report).toContain(`| ${victim} | docker | FAILED |`)
    expect(report).toContain('FAILED (3)')
    await expectNoSidecarsNextTo(targets)
    for (const t of targets.filter((n) => n !== victim)) expect(docker('diff', t)).toBe('')
    // No staging directory left next to the bundle.
    expect(readdirSync(dir).filter((f) => f.includes('.partial-'))).toEqual([])
    docker('start', victim)
  }, 180_000)

  it('--json: one JSON object per event on stdout, the run-finished one last', async () => {
    const r = await mindbg(['run', runbook('json', 'steps:\n  - {name: a, run: echo a}\n  - {name: b, run: exit 2}\n'), '-l', `${label},replica=1`, '--json', '--bundle', join(dir, 'json')])
    expect(r.code).toBe(121)
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l))
    expect(events[0]).toMatchObject({event: 'run-started', runbook: 'json', steps: ['a', 'b']})
    expect(events.filter((e) => e.event === 'step-finished').map((e) => [e.name, e.status, e.exitCode, e.stdoutBytes])).toEqual([
      ['a', 'ok', 0, 2],
      ['b', 'failed', 2, 0],
    ])
    expect(events.at(-1)).toMatchObject({event: 'run-finished', status: 'complete', exitCode: 121, targets: {'steps-failed': 1}})
  }, 60_000)

  it('a step over its deadline is killed and marked timeout; the next one runs', async () => {
    const r = await mindbg(['run', runbook('slow', 'timeout: 30s\nsteps:\n  - {name: slow, run: "sleep 30", timeout: 1s}\n  - {name: next, run: echo next}\n'), targets[0]!, '--bundle', join(dir, 'slow')])
    expect(r.code).toBe(121)
    const steps = manifestOf(join(dir, 'slow')).targets[0].steps
    expect(steps[0]).toMatchObject({name: 'slow', status: 'timeout', timeoutMs: 1000})
    expect(steps[0].durationMs).toBeLessThan(5000)
    expect(steps[1]).toMatchObject({name: 'next', status: 'ok'})
    // What the killed step started is gone with it: no zombie, no sleeper in the target.
    expect(docker('top', targets[0]!, '-o', 'pid,stat,args')).not.toMatch(/sleep 30| Z/)
  }, 60_000)

  it('--timeout beats the runbook; the report goes to stdout without --bundle and nothing is left in TMPDIR', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'mindbg-run-tmp-'))
    const r = await mindbg(['run', runbook('quick', 'steps:\n  - {name: slow, run: "sleep 5", timeout: 20s}\n'), targets[1]!, '--timeout', '1s'], {env: {TMPDIR: tmp}})
    expect(r.code).toBe(121)
    expect(r.stdout).toMatch(/^# Runbook quick: 1 target\n/)
    expect(r.stdout).toContain('### slow: timed out after 1s')
    expect(readdirSync(tmp).filter((f) => f.startsWith('.mindbg'))).toEqual([])
  }, 60_000)

  it('--bundle x.tar.gz: one tarball, its files matching the manifest\'s sha256', async () => {
    const tarball = join(dir, 'evidence.tar.gz')
    const r = await mindbg(['run', 'triage', targets[3]!, targets[4]!, '--bundle', tarball])
    expect(r.code, r.stderr).toBe(0)
    const out = mkdtempSync(join(dir, 'x-'))
    execFileSync('tar', ['-xzf', tarball, '-C', out])
    const m = manifestOf(join(out, 'evidence'))
    expect(m.targets).toHaveLength(2)
    for (const t of m.targets) {
      expect(t.status).toBe('ok')
      for (const s of t.steps) expect(sha256(readFileSync(join(out, 'evidence', s.stdout.file))), `${t.key}/${s.name}`).toBe(s.stdout.sha256)
      const env = readFileSync(join(out, 'evidence', t.key, 'env-names.stdout'), 'utf8')
      expect(env).toMatch(/^PATH$/m)
      expect(env).not.toContain('=')
    }
    expect(readdirSync(dir).filter((f) => f.includes('.partial-'))).toEqual([])
  }, 60_000)

  it('Ctrl-C mid-run: every debugger ended, the bundle written and marked incomplete, exit 130', async () => {
    const bundle = join(dir, 'stopped')
    const child = startMindbg(['run', runbook('long', 'steps:\n  - {name: one, run: echo one}\n  - {name: long, run: sleep 60}\n  - {name: never, run: echo never}\n'), '-l', label, '--bundle', bundle])
    let stderr = ''
    await new Promise<void>((resolve) => {
      child.stderr!.on('data', (d: Buffer) => {
        stderr += d
        if ((stderr.match(/: one: ok/g) ?? []).length >= 6) resolve()
      })
    })
    await new Promise((r) => setTimeout(r, 500))
    child.kill('SIGINT')
    const r = await collect(child, 60_000)
    expect(r.code, stderr + r.stderr).toBe(130)
    const m = manifestOf(bundle)
    expect(m.complete).toBe(false)
    for (const t of m.targets) {
      expect(t.status).toBe('stopped')
      // The step that was running is "stopped" (its output so far kept), the one after it "not-run".
      expect(t.steps.map((s: any) => s.status)).toEqual(['ok', 'stopped', 'not-run'])
      expect(t.steps[1].durationMs).toBeGreaterThan(0)
    }
    expect(readFileSync(join(bundle, 'report.md'), 'utf8')).toContain('INCOMPLETE')
    await expectNoSidecarsNextTo(targets)
  }, 120_000)

  it('--dry-run lists targets and steps and creates nothing', async () => {
    // This process's containers only (the simulator's pods of a test running alongside come and go), and only what is
    // new (a sidecar of the test before may still be finishing its removal).
    const before = allContainerIds()
    const r = await mindbg(['run', 'triage', '-l', label, '--dry-run'])
    expect(r.code, r.stderr).toBe(0)
    for (const t of targets) expect(r.stdout).toContain(t)
    expect(r.stdout).toContain('open-files')
    expect(createdSince(before)).toEqual([])
  })

  it('a selector that matches nothing is exit 112 and says what was searched', async () => {
    const r = await mindbg(['run', 'triage', '-l', 'mindbg-e2e-nothing=here'])
    expect(r.code).toBe(112)
    expect(r.stderr).toContain('-l mindbg-e2e-nothing=here among running Docker containers')
  })

  it('a named target that is gone fails alone: the others run, the manifest and the report say which, exit 121', async () => {
    const gone = `mindbg-e2e-gone-${process.pid}`
    const bundle = join(dir, 'gone')
    const quick = runbook('quick', 'name: quick\nsteps:\n  - name: hello\n    run: echo hello\n')
    const dry = await mindbg(['run', quick, targets[0]!, gone, '--dry-run'])
    expect(dry.code, dry.stderr).toBe(0)
    expect(dry.stdout).toContain(`not found, would fail: ${gone}`)
    const r = await mindbg(['run', quick, targets[0]!, gone, '--bundle', bundle])
    expect(r.code, r.stderr).toBe(121)
    const m = manifestOf(bundle)
    const byName = Object.fromEntries(m.targets.map((t: any) => [t.name, t]))
    expect(byName[targets[0]!].status).toBe('ok')
    expect(byName[gone]).toMatchObject({status: 'failed', id: '', steps: [{name: 'hello', status: 'not-run'}]})
    expect(byName[gone].reason).toContain(gone)
    expect(readFileSync(join(bundle, 'report.md'), 'utf8')).toContain(`${gone}; docker; not found when the run began`)
    const audit = readFileSync(AUDIT_LOG, 'utf8').trim().split('\n').map((line) => JSON.parse(line))
    expect(audit.filter((a) => a.target === gone).at(-1)).toMatchObject({command: 'run', exitCode: 121, ending: 'failed'})
    // Alone, it is the lookup's own error, as for attach, and still in the audit log.
    expect((await mindbg(['run', quick, gone])).code).toBe(112)
    const last = JSON.parse(readFileSync(AUDIT_LOG, 'utf8').trim().split('\n').at(-1)!)
    expect(last).toMatchObject({command: 'run', target: gone, exitCode: 112, ending: 'failed', runbook: 'quick'})
    expect(last.error).toContain(gone)
  })

  it('usage errors before anything runs: no targets, a bad selector, an existing bundle', async () => {
    expect((await mindbg(['run', 'triage'])).code).toBe(2)
    const bad = await mindbg(['run', 'triage', '-l', 'a=b,,c'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('bad label selector')
    const exists = await mindbg(['run', 'triage', targets[0]!, '--bundle', dir])
    expect(exists.code).toBe(2)
    expect(exists.stderr).toContain('exists already')
  })

  it('--list shows the built-in runbooks', async () => {
    const r = await mindbg(['run', '--list'])
    expect(r.stdout).toMatch(/triage\s+processes/)
  })
})

describe('mindbg run with odd debug images', () => {
  it('dash or bash as sh, no /tmp, no tar: the steps run, collect says the image has no tar', async () => {
    for (const image of ['mindbg-fixture/dash:local', 'mindbg-fixture/bash:local']) {
      const bundle = join(dir, `odd-${image.replace(/\W/g, '')}`)
      const r = await mindbg(['run', runbook('odd', 'steps:\n  - {name: who, run: "cat /proc/1/root/app/config.txt; exit 5"}\n  - {name: slow, run: "sleep 20", timeout: 1s}\n  - {name: files, collect: /app}\n  - {name: after, run: [sh, -c, "echo after"]}\n'), targets[5]!, '--image', image, '--bundle', bundle])
      expect(r.code, r.stderr).toBe(121)
      const steps = manifestOf(bundle).targets[0].steps
      expect(steps.map((s: any) => [s.name, s.status, s.exitCode])).toEqual([
        ['who', 'failed', 5],
        ['slow', 'timeout', 124],
        ['files', 'failed', 127],
        ['after', 'ok', 0],
      ])
      expect(readFileSync(join(bundle, steps[0].stdout.file), 'utf8')).toBe(`${MARKER}\n`)
      expect(steps[2].reason).toContain('no tar')
    }
  }, 120_000)

  it('a debug image without a shell: the target fails with the reason, the run goes on', async () => {
    const r = await mindbg(['run', 'triage', targets[5]!, '--image', 'mindbg-fixture/distroless-web:local', '--bundle', join(dir, 'noshell')])
    expect(r.code).toBe(121)
    const t = manifestOf(join(dir, 'noshell')).targets[0]
    expect(t.status).toBe('failed')
    expect(t.reason).toMatch(/sh.*not found/)
    await expectNoSidecarsNextTo([targets[5]!])
  }, 60_000)

  it('a read-only target root: collect still reads it, nothing is written', async () => {
    const ro = startTarget(['--read-only'])
    const r = await mindbg(['run', runbook('ro', 'steps:\n  - {name: conf, collect: /app/config.txt}\n'), ro, '--bundle', join(dir, 'ro')])
    expect(r.code, r.stderr).toBe(0)
    expect(readFileSync(join(dir, 'ro', ro, 'files/app/config.txt'), 'utf8')).toBe(`${MARKER}\n`)
    expect(docker('diff', ro)).toBe('')
  }, 60_000)
})

describe('mindbg cp', () => {
  let big: string
  let bigSum: string
  beforeAll(() => {
    big = startTarget([], BUSYBOX, ['sh', '-c', 'head -c 200000000 /dev/urandom >/big.bin && mkdir -p /tree/a/b && echo one >/tree/a/one && chmod 640 /tree/a/one && echo two >/tree/a/b/two && ln -s a/one /tree/link && touch -d "2020-01-02 03:04:05" /tree/a/one && touch /ready && exec sleep 3600'])
    execFileSync('sh', ['-c', `until docker exec ${big} test -e /ready; do sleep 0.2; done`], {timeout: 60_000})
    bigSum = docker('exec', big, 'sha256sum', '/big.bin').split(' ')[0]!
  }, 90_000)

  it('a 200 MB file, streamed: same sha256, memory flat', async () => {
    const dest = join(dir, 'big.bin')
    const r = await mindbg(['cp', `${big}:/big.bin`, dest], {timeoutMs: 180_000, env: {NODE_OPTIONS: '--max-old-space-size=96'}})
    expect(r.code, r.stderr).toBe(0)
    expect(statSync(dest).size).toBe(200_000_000)
    expect(sha256(readFileSync(dest))).toBe(bigSum)
    await expectNoSidecarsNextTo([big])
  }, 200_000)

  it('a directory tree: modes, mtimes and symlinks kept; into an existing directory', async () => {
    const dest = join(dir, 'tree')
    expect((await mindbg(['cp', `${big}:/tree`, dest])).code).toBe(0)
    expect(readFileSync(join(dest, 'a/b/two'), 'utf8')).toBe('two\n')
    expect(statSync(join(dest, 'a/one')).mode & 0o777).toBe(0o640)
    expect(statSync(join(dest, 'a/one')).mtime.toISOString()).toBe(new Date('2020-01-02T03:04:05Z').toISOString())
    expect(lstatSync(join(dest, 'link')).isSymbolicLink()).toBe(true)
    expect(readlinkSync(join(dest, 'link'))).toBe('a/one')
    const into = mkdtempSync(join(dir, 'into-'))
    expect((await mindbg(['cp', `${big}:/tree/a/one`, into])).code).toBe(0)
    expect(readFileSync(join(into, 'one'), 'utf8')).toBe('one\n')
    expect(readdirSync(into)).toEqual(['one'])
  }, 60_000)

  it('- writes a tar stream on stdout; a distroless target needs no tar of its own', async () => {
    const r = await mindbg(['cp', `${targets[0]}:/app/config.txt`, '-'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain(MARKER)
    expect(r.stdout.slice(0, 10)).toBe('config.txt')
  })

  it('a missing path is exit 122 naming it; an existing destination is refused', async () => {
    const r = await mindbg(['cp', `${targets[0]}:/no/such/file`, join(dir, 'nothing')])
    expect(r.code).toBe(122)
    expect(r.stderr).toContain('/no/such/file: no such file or directory in')
    expect(existsSync(join(dir, 'nothing'))).toBe(false)
    const into = mkdtempSync(join(dir, 'exists-'))
    writeFileSync(join(into, 'config.txt'), 'mine')
    const again = await mindbg(['cp', `${targets[0]}:/app/config.txt`, into])
    expect(again.code).toBe(2)
    expect(readFileSync(join(into, 'config.txt'), 'utf8')).toBe('mine')
    expect(readdirSync(into)).toEqual(['config.txt'])
  })
})

describe('the audit log', () => {
  it('two mindbg processes writing at once: every line whole, one per target', async () => {
    const log = join(dir, 'shared-audit.jsonl')
    const env = {MINDBG_AUDIT_LOG: log}
    const [a, b] = await Promise.all([
      mindbg(['run', 'triage', '-l', label, '-q', '--bundle', join(dir, 'audit-a')], {env}),
      mindbg(['run', 'triage', '-l', label, '-q', '--bundle', join(dir, 'audit-b')], {env}),
    ])
    expect([a.code, b.code]).toEqual([0, 0])
    const lines = readFileSync(log, 'utf8').trim().split('\n')
    expect(lines).toHaveLength(12)
    const records = lines.map((l) => JSON.parse(l))
    expect(records.every((r) => r.command === 'run' && r.runbook === 'triage' && r.exitCode === 0)).toBe(true)
    expect(new Set(records.map((r) => r.debugger)).size).toBe(12)
  }, 120_000)
})
