import {describe, expect, it} from 'vitest'

import {allContainerIds, createdSince, BIN, BUSYBOX, createdName, docker, dockerOk, mindbg, REMOVAL_MS, ROOT, sharedTarget, startTarget, testEnv, waitFor} from './helpers.js'

const web = sharedTarget()

/** A user error: one message line, one hint line, nothing else (no stack), and nothing created. */
async function expectUserError(args: string[], exitCode: number, message: RegExp, env: Record<string, string | undefined> = {}): Promise<void> {
  const before = allContainerIds()
  const r = await mindbg(args, {env})
  expect(r.code, r.stderr).toBe(exitCode)
  expect(r.stdout).toBe('')
  const lines = r.stderr.trimEnd().split('\n')
  expect(lines, r.stderr).toHaveLength(2)
  expect(lines[0]).toMatch(/^mindbg: /)
  expect(lines[0]).toMatch(message)
  expect(lines[1]).toMatch(/^Hint: \S/)
  expect(r.stderr).not.toMatch(/\n\s+at /)
  expect(createdSince(before)).toEqual([])
}

describe('target errors', () => {
  it('unknown target: 112', () => expectUserError(['attach', 'no-such-container-xyz', '--', 'true'], 112, /no container named or with ID "no-such-container-xyz"/))

  it('ambiguous ID prefix: 113', async () => {
    // 17 containers guarantee that two IDs share their first hex digit.
    const names = Array.from({length: 17}, () => createdName())
    for (const n of names) docker('create', '--name', n, '--network', 'none', BUSYBOX, 'true')
    const ids = names.map((n) => docker('inspect', '--format', '{{.Id}}', n))
    const firstDigits = ids.map((id) => id[0])
    const shared = firstDigits.find((d, i) => firstDigits.indexOf(d) !== i)!
    const all = allContainerIds().filter((id) => id.startsWith(shared))
    expect(all.length).toBeGreaterThan(1)
    await expectUserError(['attach', shared, '--', 'true'], 113, /matches \d+ containers/)
    for (const n of names) dockerOk('rm', '-f', n)
  })

  it('paused target: 114', async () => {
    const name = startTarget()
    docker('pause', name)
    try {
      await expectUserError(['attach', name, '--', 'true'], 114, /is paused/)
    } finally {
      docker('unpause', name)
    }
  })

  it('a mindbg sidecar as target: 114', async () => {
    const name = createdName()
    docker('run', '-d', '--name', name, '--network', 'none', '--label', 'org.mindbg.sidecar=true', '--label', 'org.mindbg.target-name=web', BUSYBOX, 'sleep', '60')
    await expectUserError(['attach', name, '--', 'true'], 114, /is itself a mindbg sidecar/)
  })
})

describe('engine errors', () => {
  it('Docker unreachable (DOCKER_HOST honoured): 115', () =>
    expectUserError(['attach', web(), '--', 'true'], 115, /cannot reach the Docker engine at unix:\/\/\/tmp\/no-such-docker.sock/, {DOCKER_HOST: 'unix:///tmp/no-such-docker.sock'}))

  it('Docker unreachable over TCP: 115', () => expectUserError(['ls'], 115, /tcp:\/\/127.0.0.1:9/, {DOCKER_HOST: 'tcp://127.0.0.1:9'}))

  it('permission denied on the socket: 116', async () => {
    // The same CLI as an unprivileged user (nobody) against the root-owned socket.
    const {spawnSync} = await import('node:child_process')
    const {chmodSync, mkdtempSync, readFileSync} = await import('node:fs')
    const {tmpdir} = await import('node:os')
    const {join} = await import('node:path')
    // That user's own audit log (the test process's is root's, 0600): a session refused this early is recorded too.
    const auditDir = mkdtempSync(join(tmpdir(), 'mindbg-nobody-'))
    chmodSync(auditDir, 0o777)
    const auditLog = join(auditDir, 'audit.jsonl')
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, BIN, 'attach', web(), '--', 'true'], {
      env: {...testEnv(), HOME: '/tmp', MINDBG_AUDIT_LOG: auditLog},
      encoding: 'utf8',
      cwd: ROOT,
    })
    expect(r.status, r.stderr).toBe(116)
    expect(r.stderr).toMatch(/^mindbg: permission denied while connecting to the Docker engine/)
    expect(r.stderr).toMatch(/^Hint: .*docker" group/m)
    expect(JSON.parse(readFileSync(auditLog, 'utf8'))).toMatchObject({user: 'nobody', command: 'attach', exitCode: 116, ending: 'failed', oneShot: ['true']})
  })
})

describe('image errors', () => {
  it('image missing with --pull never: 117', () =>
    expectUserError(['attach', '--image', 'mindbg-test/absent:1', '--pull', 'never', web(), '--', 'true'], 117, /mindbg-test\/absent:1 is not present and --pull never/))

  it('pull failure: 117', () =>
    // A registry on a closed loopback port: the engine's pull fails at once, without leaving the machine.
    expectUserError(['attach', '-q', '--image', '127.0.0.1:9/mindbg/absent:1', '--pull', 'always', web(), '--', 'true'], 117, /cannot pull 127.0.0.1:9\/mindbg\/absent:1/))

  it('command missing in the debug image: 127, like docker run', async () => {
    const before = allContainerIds()
    const r = await mindbg(['attach', web(), '--', 'no-such-tool'])
    expect(r.code).toBe(127)
    expect(r.stderr).toMatch(/^mindbg: no-such-tool: command not found in the debug image\nHint: use --image with a debug image that has it/)
    // The sidecar ran (mindbg-init found no such command): it is removed moments after mindbg exits.
    await waitFor('the sidecar removed', () => createdSince(before).length === 0, REMOVAL_MS, 20)
  })

  it('command not executable in the debug image: 126 with a hint', async () => {
    const before = allContainerIds()
    const r = await mindbg(['attach', web(), '--', '/etc/passwd'])
    expect(r.code).toBe(126)
    expect(r.stderr).toMatch(/^mindbg: \/etc\/passwd: permission denied in the debug image\nHint: .+$/m)
    await waitFor('the sidecar removed', () => createdSince(before).length === 0, REMOVAL_MS, 20)
  })
})

describe('usage errors: exit 2, nothing created', () => {
  it.each([
    {args: ['attach', '--profile', 'superuser', 'WEB'], message: /Expected --profile=superuser to be one of/},
    {args: ['attach', '-e', '=x', 'WEB'], message: /bad --env "=x"/},
    {args: ['attach', '--profile', 'restricted', '--privileged', 'WEB'], message: /--privileged conflicts with --profile restricted/},
    {args: ['attach', '--chroot', '--user', '1000', 'WEB'], message: /--chroot needs a root user/},
    {args: ['attach', '--pull', 'sometimes', 'WEB'], message: /Expected --pull=sometimes/},
    {args: ['attach', '--cap-add', 'CAP_BOGUS', 'WEB'], message: /unknown capability/},
    {args: ['attach', '--session', 'x', '--image', 'y'], message: /cannot be combined with --image/},
    {args: ['attach'], message: /missing target/},
    {args: ['attach', 'bad name!'], message: /bad container reference/},
    {args: ['attach', '--no-such-flag', 'WEB'], message: /Nonexistent flag: --no-such-flag/},
    {args: ['attach', '--chroot', '--profile', 'baseline', 'WEB', '--', 'ls'], message: /needs SYS_PTRACE/},
  ])('$args', ({args, message}) => expectUserError(args.map((a) => (a === 'WEB' ? web() : a)), 2, message))

  it('--debug shows the stack trace', async () => {
    const r = await mindbg(['attach', '--debug', 'no-such-container-xyz'])
    expect(r.code).toBe(112)
    expect(r.stderr).toMatch(/\n\s+at /)
  })

  it('--session with an unknown name: 120', () => expectUserError(['attach', '--session', 'mindbg-nope-zzzzz'], 120, /session mindbg-nope-zzzzz: no such sidecar/))
})
