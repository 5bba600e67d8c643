/**
 * Targets that are not running (issue #11, Docker): an exited, a never started and a crash-looping distroless
 * container, and an image, each debugged through a stand-in; nothing is left and the original is not changed.
 */
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {collect, createdName, DISTROLESS, docker, dockerOk, mindbg, REMOVAL_MS, removeTargets, requireEngine, startMindbg, waitFor} from './helpers.js'

/** What mindbg made for a target's session (sidecar, stand-in, snapshot image): its names all start so. */
function leftovers(target: string): string[] {
  const containers = docker('ps', '-a', '--filter', `name=mindbg-${target}-`, '--format', '{{.Names}}')
  const images = docker('images', '--filter', `reference=mindbg-snapshot:mindbg-${target}-*`, '--format', '{{.Repository}}:{{.Tag}}')
  return [...containers.split('\n'), ...images.split('\n')].filter(Boolean)
}

/** None left moments after mindbg exits (a sidecar's own removal may still be finishing: README, "What a script can rely on"). */
async function expectNoLeftovers(target: string): Promise<void> {
  await waitFor(`nothing left of ${target}'s session`, () => leftovers(target).length === 0, REMOVAL_MS, 20)
}

/** `docker diff`, in a stable order (the engine lists changes in no fixed order). */
const diffOf = (container: string): string => docker('diff', container).split('\n').sort().join('\n')

const CRASH_REPORT = 'web wrote this before it died'
let exited = ''
let volume = ''
let diffBefore = ''

beforeAll(async () => {
  requireEngine()
  exited = createdName()
  volume = `${exited}-data`
  docker('volume', 'create', volume)
  // The volume holds what the application kept there; its writable layer, the crash report it wrote before dying.
  docker('run', '--rm', '-v', `${volume}:/data`, '--entrypoint', '/bin/sh', 'mindbg-fixture/busybox:local', '-c', 'echo kept > /data/state')
  docker('run', '-d', '--name', exited, '--network', 'none', '-v', `${volume}:/data`, DISTROLESS, '8080', '--write', '/tmp/crash.txt', '--die-after', '1')
  await waitFor(`${exited} to exit`, () => docker('inspect', '-f', '{{.State.Status}}', exited) === 'exited', 15_000)
  diffBefore = diffOf(exited)
})

afterAll(() => {
  removeTargets()
  dockerOk('volume', 'rm', '-f', volume)
})

describe('an exited container', () => {
  it('is debugged on a snapshot: its crash report, its volume read-only, its exit code and logs told, nothing left', async () => {
    const r = await mindbg(['attach', exited, '--', 'sh', '-c', 'cat "$MINDBG_TARGET_ROOT/tmp/crash.txt" "$MINDBG_TARGET_ROOT/data/state"; touch "$MINDBG_TARGET_ROOT/data/x" 2>/dev/null || echo read-only; exit 5'])
    expect(r.stdout, r.stderr).toBe(`${CRASH_REPORT}\nkept\nread-only\n`)
    expect(r.code).toBe(5)
    expect(r.stderr).toContain(`${exited} exited with code 3 at `)
    expect(r.stderr).toContain('web: listening on 127.0.0.1:8080')
    expect(r.stderr).toMatch(/snapshot of its filesystem .*the container itself is untouched/)
    await expectNoLeftovers(exited)
    expect(diffOf(exited)).toBe(diffBefore)
    expect(docker('inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', exited)).toBe('exited 3')
  })

  it('--writable-volumes: the volume can be written, the snapshot still goes away', async () => {
    const r = await mindbg(['attach', '-q', '--writable-volumes', exited, '--', 'sh', '-c', 'echo changed > "$MINDBG_TARGET_ROOT/data/state"'])
    expect(r.code).toBe(0)
    expect(r.stderr).toBe('')
    expect(docker('run', '--rm', '-v', `${volume}:/data`, '--entrypoint', '/bin/cat', 'mindbg-fixture/busybox:local', '/data/state')).toBe('changed')
    docker('run', '--rm', '-v', `${volume}:/data`, '--entrypoint', '/bin/sh', 'mindbg-fixture/busybox:local', '-c', 'echo kept > /data/state')
    await expectNoLeftovers(exited)
  })

  it('--chroot gives the snapshot as /, with the target\'s user and environment in the stand-in', async () => {
    const r = await mindbg(['attach', '-q', '--chroot', exited, '--', 'sh', '-c', 'cat /tmp/crash.txt; ls /app; ps -o user,args | grep -c "^nonroot .*mindbg-init --hold"'])
    expect(r.stdout, r.stderr).toBe(`${CRASH_REPORT}\nconfig.txt\nweb\n1\n`)
    expect(r.code).toBe(0)
    await expectNoLeftovers(exited)
  })

  it('cp and run take it too: the crash report copied out, a runbook\'s steps run on the snapshot', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mindbg-e2e-cp-'))
    try {
      const cp = await mindbg(['cp', '-q', `${exited}:/tmp/crash.txt`, join(dir, 'crash.txt')])
      expect(cp.code).toBe(0)
      expect(readFileSync(join(dir, 'crash.txt'), 'utf8')).toBe(`${CRASH_REPORT}\n`)
      writeFileSync(join(dir, 'rb.yaml'), 'name: crash\nsteps:\n  - name: report\n    run: cat "$MINDBG_TARGET_ROOT/tmp/crash.txt"\n  - name: state\n    collect: /data/state\n')
      const run = await mindbg(['run', '-q', join(dir, 'rb.yaml'), exited, '--bundle', join(dir, 'bundle')])
      expect(run.code).toBe(0)
      expect(readFileSync(join(dir, 'bundle', exited, 'report.stdout'), 'utf8')).toBe(`${CRASH_REPORT}\n`)
      expect(readFileSync(join(dir, 'bundle', exited, 'files', 'data', 'state'), 'utf8')).toBe('kept\n')
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
    await expectNoLeftovers(exited)
    expect(diffOf(exited)).toBe(diffBefore)
  })

  it('SIGKILL of mindbg mid-session: the watchdogs remove the sidecar, the stand-in and the snapshot', async () => {
    const child = startMindbg(['attach', exited, '--', 'sleep', '60'])
    const done = collect(child)
    await waitFor('the sidecar to run next to the stand-in', () => leftovers(exited).filter((n) => !n.endsWith('-fs') && !n.startsWith('mindbg-snapshot')).length === 1, 20_000)
    child.kill('SIGKILL')
    await done
    await waitFor('everything made for the session to be removed', () => leftovers(exited).length === 0, 15_000)
    expect(diffOf(exited)).toBe(diffBefore)
  })
})

describe('other targets that do not run', () => {
  it('a created container that never started', async () => {
    const created = createdName()
    docker('create', '--name', created, '--network', 'none', DISTROLESS)
    const r = await mindbg(['attach', created, '--', 'ls', '/proc/1/root/app'])
    expect(r.stdout, r.stderr).toBe('config.txt\nweb\n')
    expect(r.code).toBe(0)
    expect(r.stderr).toContain(`${created} was created and never started`)
    await expectNoLeftovers(created)
    expect(docker('inspect', '-f', '{{.State.Status}}', created)).toBe('created')
  })

  it('a crash-looping container: debugged from its last stopped state while its restart loop goes on', async () => {
    const looping = createdName()
    // A bad argument: it exits at once, every time, and Docker's back-off grows (0.1 s, 0.2 s, ... doubling).
    docker('run', '-d', '--name', looping, '--network', 'none', '--restart', 'always', DISTROLESS, 'not-a-port')
    await waitFor(`${looping} to be in its back-off`, () => docker('inspect', '-f', '{{.State.Restarting}} {{.RestartCount}}', looping).match(/^true ([4-9]|\d\d)/), 30_000)
    const before = Number(docker('inspect', '-f', '{{.RestartCount}}', looping))
    const r = await mindbg(['attach', looping, '--', 'ls', '/proc/1/root/app'])
    expect(r.stdout, r.stderr).toBe('config.txt\nweb\n')
    expect(r.code).toBe(0)
    expect(r.stderr).toContain(`${looping} is restarting: this session is on a snapshot`)
    expect(r.stderr).toContain('usage: web [PORT]')
    await expectNoLeftovers(looping)
    await waitFor('the restart loop to go on', () => Number(docker('inspect', '-f', '{{.RestartCount}}', looping)) > before, 20_000)
  })

  it('--stop-restarts holds the loop (restart policy "no", left so, and said how to resume), then debugs it stopped', async () => {
    const looping = createdName()
    docker('run', '-d', '--name', looping, '--network', 'none', '--restart', 'always', DISTROLESS, 'not-a-port')
    await waitFor(`${looping} to restart`, () => docker('inspect', '-f', '{{.RestartCount}}', looping).match(/^[2-9]|\d\d/), 30_000)
    const r = await mindbg(['attach', '--stop-restarts', looping, '--', 'ls', '/proc/1/root/app'])
    expect(r.stdout, r.stderr).toBe('config.txt\nweb\n')
    expect(r.code).toBe(0)
    expect(r.stderr).toContain(`${looping}'s restarts are held (restart policy was always, now no); resume them with: docker update --restart always ${looping} && docker start ${looping}`)
    expect(r.stderr).toContain(`${looping} was restarting (now held): this session is on a snapshot`)
    expect(docker('inspect', '-f', '{{.HostConfig.RestartPolicy.Name}} {{.State.Status}}', looping)).toBe('no exited')
    await expectNoLeftovers(looping)
  })

  it('image://REF: the image\'s filesystem, its user, no container of the user\'s, and the image kept', async () => {
    const r = await mindbg(['attach', `image://${DISTROLESS}`, '--', 'sh', '-c', 'cat "$MINDBG_TARGET_ROOT/app/config.txt"; ps -o user,args | grep -c "^nonroot .*--hold"; exit 4'])
    expect(r.stdout, r.stderr).toBe('distroless-marker-7f3a\n1\n')
    expect(r.code).toBe(4)
    expect(r.stderr).toContain(`${DISTROLESS} is an image`)
    expect(docker('ps', '-a', '--filter', 'label=org.mindbg.stand-in=true', '-q')).toBe('')
    expect(dockerOk('image', 'inspect', DISTROLESS)).toBe(true)
  })

  it('image:// of a bad reference is a usage error; of a missing image with --pull never, a clear refusal', async () => {
    const bad = await mindbg(['attach', 'image://Bad Ref', '--', 'true'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('bad image target')
    const missing = await mindbg(['attach', '--pull', 'never', 'image://mindbg-fixture/absent:none', '--', 'true'])
    expect(missing.code).not.toBe(0)
    expect(missing.stderr).toContain('mindbg-fixture/absent:none')
    expect(docker('ps', '-a', '--filter', 'label=org.mindbg.stand-in=true', '-q')).toBe('')
  })
})

describe('left over after a host reboot (no watchdog could run)', () => {
  it('prune --all removes stand-ins and snapshot images; prune alone leaves those younger than a minute', async () => {
    const snapshot = `mindbg-snapshot:mindbg-${exited}-zzzzz-fs`
    docker('commit', '--change', 'LABEL org.mindbg.snapshot=true', exited, snapshot)
    const standIn = createdName()
    docker('create', '--name', standIn, '--network', 'none', '--label', 'org.mindbg.stand-in=true', '--label', `org.mindbg.target-name=${exited}`, snapshot)
    const young = await mindbg(['prune', '--json'])
    const names = (r: {stdout: string}): string[] => (JSON.parse(r.stdout) as {removed: Array<{name: string}>}).removed.map((x) => x.name)
    expect(names(young)).not.toContain(standIn)
    expect(names(young)).not.toContain(snapshot)
    // --all also removes whatever else is mindbg's on this engine at the moment: only ours are looked at.
    const pruned = (JSON.parse((await mindbg(['prune', '--all', '--json'])).stdout) as {removed: unknown[]}).removed
    expect(pruned).toContainEqual({name: standIn, target: exited, why: 'stand-in no debugger uses'})
    expect(pruned).toContainEqual({name: snapshot, target: '', why: 'snapshot no stand-in uses'})
    expect(dockerOk('inspect', standIn)).toBe(false)
    expect(dockerOk('image', 'inspect', snapshot)).toBe(false)
  })
})
