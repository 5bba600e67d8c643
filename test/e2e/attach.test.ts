import {type ChildProcess, spawn} from 'node:child_process'
import {createHash} from 'node:crypto'
import {closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {type RunResult, allContainerIds, createdSince, BUSYBOX, changesIn, collect, docker, dockerOk, ENGINE, expectSidecarsGone, MARKER, mindbg, mindbgCommand, removeTargets, requireEngine, sidecarsOf, startMindbg, startTarget, testEnv, waitFor, waitForSidecar} from './helpers.js'

let web: string
let readOnly: string
let shareable: string

beforeAll(() => {
  requireEngine()
  web = startTarget()
  readOnly = startTarget(['--read-only'])
  shareable = startTarget(['--ipc', 'shareable'])
})
afterAll(removeTargets)

const sha = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex')

describe('one-shot commands', () => {
  it("sees the target's processes: ps shows its PID 1", async () => {
    const r = await mindbg(['attach', web, '--', 'ps'])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^\s*1 nonroot\s+\/app\/web 8080$/m)
  })

  it('passes the command after -- verbatim, even words that repeat the target or each other', async () => {
    const r = await mindbg(['attach', '-e', 'X=1', web, '--', 'echo', web, 'a', 'b', 'a', 'X=1', '-e'])
    expect(r.stdout).toBe(`${web} a b a X=1 -e\n`)
  })

  it('propagates the exit code', async () => {
    expect((await mindbg(['attach', web, '--', 'sh', '-c', 'exit 42'])).code).toBe(42)
    expect((await mindbg(['attach', `docker://${web}`, '--', 'false'])).code).toBe(1)
  })

  it("reaches the target's 127.0.0.1 services", async () => {
    const r = await mindbg(['attach', web, '--', 'wget', '-qO-', 'http://127.0.0.1:8080/'])
    expect(r.stdout).toBe('hello from distroless-web\n')
  })

  it('reads the non-root target filesystem at /proc/1/root (general profile adds SYS_PTRACE)', async () => {
    const r = await mindbg(['attach', web, '--', 'cat', '/proc/1/root/app/config.txt'])
    expect(r.stdout.trim()).toBe(MARKER)
  })

  it('without SYS_PTRACE (baseline) the non-root target filesystem stays closed', async () => {
    const r = await mindbg(['attach', '--profile', 'baseline', web, '--', 'cat', '/proc/1/root/app/config.txt'])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/Permission denied/i)
  })

  it('keeps stdout and stderr apart', async () => {
    const r = await mindbg(['attach', web, '--', 'sh', '-c', 'echo to-out; echo to-err >&2; echo more-out'])
    expect(r.stdout).toBe('to-out\nmore-out\n')
    expect(r.stderr).toBe('to-err\n')
  })

  it('streams large output without loss (20 MB)', async () => {
    const r = await mindbg(['attach', web, '--', 'sh', '-c', 'i=0; while [ $i -lt 4 ]; do head -c 5000000 /dev/zero | tr "\\0" "x"; i=$((i+1)); done; echo end'])
    expect(r.code).toBe(0)
    expect(r.stdout.length).toBe(20_000_004)
    expect(r.stdout.endsWith('xend\n')).toBe(true)
  }, 120_000)

  it('accepts an ID and a unique ID prefix', async () => {
    const id = docker('inspect', '--format', '{{.Id}}', web)
    expect((await mindbg(['attach', id, '--', 'true'])).code).toBe(0)
    expect((await mindbg(['attach', id.slice(0, 12), '--', 'true'])).code).toBe(0)
  })
})

describe('stdin', () => {
  it('pipes a script into the shell', async () => {
    const r = await mindbg(['attach', web], {input: 'echo piped-$((6*7))\nexit 5\n'})
    expect(r.stdout).toBe('piped-42\n')
    expect(r.code).toBe(5)
  })

  it('pipes 5 MB through a command and back unchanged, then EOF ends it', async () => {
    const data = Buffer.alloc(5_000_000)
    for (let i = 0; i < data.length; i++) data[i] = (i * 7919) % 251
    const r = await mindbg(['attach', web, '--', 'md5sum'], {input: data})
    expect(r.code).toBe(0)
    expect(r.stdout.split(' ')[0]).toBe(createHash('md5').update(data).digest('hex'))
  }, 60_000)

  it('reads a file on stdin from where its offset is, in full (read in larger chunks than a pipe)', async () => {
    const data = Buffer.alloc(3_000_000)
    for (let i = 0; i < data.length; i++) data[i] = (i * 7919) % 251
    const file = join(tmpdir(), `mindbg-stdin-${process.pid}.bin`)
    writeFileSync(file, data)
    const fd = openSync(file, 'r')
    try {
      readSync(fd, Buffer.alloc(1000), 0, 1000, null) // as `(head -c 1000 >/dev/null; mindbg ...) < file` leaves it
      const [command, argv] = mindbgCommand(['attach', web, '--', 'md5sum'])
      const r = await collect(spawn(command, argv, {env: testEnv(), stdio: [fd, 'pipe', 'pipe']}))
      expect(r.stderr).toBe('')
      expect(r.code).toBe(0)
      expect(r.stdout.split(' ')[0]).toBe(createHash('md5').update(data.subarray(1000)).digest('hex'))
    } finally {
      closeSync(fd)
      rmSync(file, {force: true})
    }
  }, 60_000)

  describe('from each kind of stdin: a file, a shell pipe (FIFO), a socket (a parent process)', () => {
    const data = Buffer.alloc(24_000_000) // past every buffer on the way: mindbg's (1 MB), the sockets', the engine's
    for (let i = 0; i < data.length; i++) data[i] = (i * 7919) % 251
    const file = join(tmpdir(), `mindbg-stdin-kinds-${process.pid}.bin`)
    beforeAll(() => writeFileSync(file, data))
    afterAll(() => rmSync(file, {force: true}))
    const within = 30_000 // a hang fails the test (collect kills mindbg then)
    const run = (kind: 'file' | 'fifo' | 'socket', command: string[]): Promise<RunResult> => {
      const [bin, argv] = mindbgCommand(['attach', web, '--', ...command])
      if (kind === 'socket') return mindbg(['attach', web, '--', ...command], {input: data, timeoutMs: within})
      if (kind === 'fifo') return collect(spawn('sh', ['-c', 'cat "$0" | exec "$@"', file, bin, ...argv], {env: testEnv(), stdio: ['ignore', 'pipe', 'pipe']}), within)
      const fd = openSync(file, 'r')
      return collect(spawn(bin, argv, {env: testEnv(), stdio: [fd, 'pipe', 'pipe']}), within).finally(() => closeSync(fd))
    }

    for (const kind of ['file', 'fifo', 'socket'] as const) {
      it(`${kind}: all of it reaches the command unchanged`, async () => {
        const r = await run(kind, ['md5sum'])
        expect(r.stderr).toBe('')
        expect(r.code).toBe(0)
        expect(r.stdout.split(' ')[0]).toBe(createHash('md5').update(data).digest('hex'))
      }, 60_000)

      // It hung for ever: the engine stops reading a stream's input when its container exits, and keeps the stream
      // open with the rest unread.
      it(`${kind}: a command that exits before reading all of it ends the session at once`, async () => {
        const r = await run(kind, ['head', '-c', '10'])
        expect(r.code).toBe(0)
        if (ENGINE === 'podman') {
          // Podman's own error for the input it could not pass on, in the stream's stderr; and now and then it loses
          // the command's output there, for the docker CLI too (README, Podman), sometimes in the middle of a frame,
          // which mindbg then says. What is checked: no hang, the code, and no other line.
          const podmanLine = /^Error: (read|write) unixpacket \S+\/attach: (read|write): (connection reset by peer|broken pipe)$/
          const cutShortLine = /^mindbg: the engine cut the output short \(\d+ bytes of an unfinished frame\)$/
          for (const line of r.stderr.split('\n').filter(Boolean)) expect(line).toSatisfy((l: string) => podmanLine.test(l) || cutShortLine.test(l))
        } else {
          expect(r.stdout).toBe(data.subarray(0, 10).toString())
          expect(r.stderr).toBe('')
        }
        await expectSidecarsGone(web)
      }, 60_000)
    }
  })

  describe('a file or a pipe copied inside the kernel (mindbg-init --copy-in, a child of mindbg)', () => {
    const data = Buffer.alloc(24_000_000)
    for (let i = 0; i < data.length; i++) data[i] = (i * 7919) % 241
    const file = join(tmpdir(), `mindbg-stdin-kernel-${process.pid}.bin`)
    beforeAll(() => writeFileSync(file, data))
    afterAll(() => rmSync(file, {force: true}))

    /** The copies running now: each one's pid, its parent's, and what it copies. */
    const copies = (): {pid: number; parent: number; named: number; how: string}[] =>
      readdirSync('/proc')
        .filter((d) => /^\d+$/.test(d))
        .flatMap((d) => {
          try {
            const argv = readFileSync(`/proc/${d}/cmdline`, 'latin1').split('\0')
            const at = argv.indexOf('--copy-in')
            if (at < 0 || !argv[0]!.includes('mindbg-init')) return []
            const parent = Number(readFileSync(`/proc/${d}/stat`, 'latin1').replace(/^.*\) \S /s, '').split(' ')[0])
            return [{pid: Number(d), parent, named: Number(argv[at + 2]), how: argv[at + 1]!}]
          } catch {
            return [] // gone meanwhile
          }
        })
    const start = (kind: 'file' | 'fifo', command: string[]): ChildProcess => {
      const [bin, argv] = mindbgCommand(['attach', web, '--', ...command])
      if (kind === 'fifo') return spawn('sh', ['-c', 'cat "$0" | "$@"', file, bin, ...argv], {env: testEnv(), stdio: ['ignore', 'pipe', 'pipe']})
      const fd = openSync(file, 'r')
      const child = spawn(bin, argv, {env: testEnv(), stdio: [fd, 'pipe', 'pipe']})
      closeSync(fd)
      return child
    }
    const copyOf = (how: string): Promise<{pid: number; parent: number}> => waitFor(`a --copy-in ${how}`, () => copies().find((c) => c.how === how && c.parent === c.named), 15_000, 20)

    for (const [kind, how] of [['file', 'file'], ['fifo', 'pipe']] as const) {
      it(`${kind}: the command gets all of it from the copy, which is gone once it is done`, async () => {
        // The command reads nothing for a while: the copy waits on the engine's full socket meanwhile.
        const child = start(kind, ['sh', '-c', 'sleep 1; md5sum'])
        const result = collect(child, 30_000)
        const copy = await copyOf(how)
        expect(readFileSync(`/proc/${copy.parent}/cmdline`, 'latin1')).toContain('attach')
        const r = await result
        expect(r.stderr).toBe('')
        expect(r.code).toBe(0)
        expect(r.stdout.split(' ')[0]).toBe(createHash('md5').update(data).digest('hex'))
        expect(existsSync(`/proc/${copy.pid}`)).toBe(false)
      }, 60_000)
    }

    it('file: a SIGKILLed mindbg takes its copy with it, and leaves no sidecar', async () => {
      const child = start('file', ['sh', '-c', 'sleep 30'])
      const result = collect(child, 30_000)
      const copy = await copyOf('file')
      await waitForSidecar(web)
      process.kill(copy.parent, 'SIGKILL')
      await result
      await waitFor('the copy gone', () => !existsSync(`/proc/${copy.pid}`) || readFileSync(`/proc/${copy.pid}/stat`, 'latin1').includes(') Z '), 5_000, 20)
      // The watchdog's promise after a SIGKILL (lifecycle.test): the sidecar removed within 10 s.
      await waitFor(`no sidecar of ${web} left`, () => sidecarsOf(web).length === 0, 10_000)
    }, 60_000)

    it('file: a command that exits before reading all of it ends the session at once, and the copy with it', async () => {
      const child = start('file', ['head', '-c', '10'])
      const r = await collect(child, 30_000)
      expect(r.code).toBe(0)
      expect(copies().filter((c) => c.named === child.pid)).toEqual([])
      await expectSidecarsGone(web)
    }, 60_000)
  })

  it('-i/--no-stdin override the automatic choice', async () => {
    // With stdin not attached, cat sees EOF at once and prints nothing.
    const r = await mindbg(['attach', '--no-stdin', web, '--', 'cat'], {input: 'not forwarded\n'})
    expect(r.stdout).toBe('')
    expect(r.code).toBe(0)
  })
})

describe('--chroot', () => {
  it("runs with the target's filesystem as / and busybox still on PATH", async () => {
    const r = await mindbg(['attach', '--chroot', web, '--', 'sh', '-c', 'cat /app/config.txt; ls /app; which ls'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(new RegExp(`^${MARKER}\nconfig.txt\nweb\n/proc/\\d+/root/bin/ls\n$`))
  })

  it('opens a shell on piped input and propagates its exit code', async () => {
    const r = await mindbg(['attach', '--chroot', web], {input: 'test -x /app/web && echo found-web\nexit 9\n'})
    expect(r.stdout).toBe('found-web\n')
    expect(r.code).toBe(9)
  })

  it('works on a read-only root filesystem and writes nothing', async () => {
    const r = await mindbg(['attach', '--chroot', readOnly, '--', 'sh', '-c', 'cat /app/config.txt; touch /app/x 2>/dev/null || echo read-only'])
    expect(r.stdout).toBe(`${MARKER}\nread-only\n`)
    expect(changesIn(readOnly)).toBe('')
  })
})

describe('namespaces', () => {
  const nsOf = async (target: string, ns: string): Promise<[string, string]> => {
    const r = await mindbg(['attach', target, '--', 'sh', '-c', `readlink /proc/1/ns/${ns}; readlink /proc/self/ns/${ns}`])
    const [theirs, ours] = r.stdout.trim().split('\n')
    return [theirs!, ours!]
  }

  it.each(['pid', 'net'])('joins the %s namespace', async (ns) => {
    const [theirs, ours] = await nsOf(web, ns)
    expect(ours).toBe(theirs)
  })

  it('joins IPC when the target made it shareable', async () => {
    const [theirs, ours] = await nsOf(shareable, 'ipc')
    expect(ours).toBe(theirs)
  })

  // Docker refuses to share a private IPC namespace; Podman shares it, and mindbg joins it there (spec.ts).
  it(`${ENGINE === 'podman' ? 'joins' : 'keeps its own'} IPC when the target IPC is private`, async () => {
    const [theirs, ours] = await nsOf(web, 'ipc')
    if (ENGINE === 'podman') expect(ours).toBe(theirs)
    else expect(ours).not.toBe(theirs)
  })
})

describe('profiles and security flags', () => {
  const capEff = async (args: string[]): Promise<bigint> => {
    const r = await mindbg(['attach', ...args, web, '--', 'sh', '-c', 'grep CapEff /proc/self/status'])
    expect(r.code).toBe(0)
    return BigInt(`0x${r.stdout.trim().split(/\s+/)[1]}`)
  }
  const bit = (n: number): bigint => 1n << BigInt(n)
  const SYS_PTRACE = 19
  const NET_ADMIN = 12
  const NET_RAW = 13
  const SYS_ADMIN = 21

  it.each([
    {profile: 'general', has: [SYS_PTRACE], lacks: [NET_ADMIN, SYS_ADMIN]},
    // The engine's defaults: Docker's include NET_RAW, Podman's (since 4.0) do not.
    ENGINE === 'podman' ? {profile: 'baseline', has: [], lacks: [SYS_PTRACE, NET_ADMIN, NET_RAW]} : {profile: 'baseline', has: [NET_RAW], lacks: [SYS_PTRACE, NET_ADMIN]},
    {profile: 'netadmin', has: [NET_ADMIN, NET_RAW], lacks: [SYS_PTRACE, SYS_ADMIN]},
  ])('$profile', async ({profile, has, lacks}) => {
    const caps = await capEff(['--profile', profile])
    for (const c of has) expect(caps & bit(c), `capability ${c}`).toBe(bit(c))
    for (const c of lacks) expect(caps & bit(c), `capability ${c}`).toBe(0n)
  })

  it('restricted: no capabilities, no new privileges, the non-root target user', async () => {
    const r = await mindbg(['attach', '--profile', 'restricted', web, '--', 'sh', '-c', 'id -u; grep -E "CapEff|NoNewPrivs" /proc/self/status; cat /proc/1/root/app/config.txt'])
    expect(r.stdout).toMatch(/^65532\nCapEff:\s+0000000000000000\nNoNewPrivs:\s+1\n/)
    // Same uid as the target: its filesystem is readable without any capability.
    expect(r.stdout).toContain(MARKER)
  })

  // Some VMs (these CI machines among them) lack CAP_SYS_RESOURCE in their bounding set, and then the engine cannot
  // start any privileged container. There mindbg must fail cleanly instead; elsewhere the sidecar has every capability.
  const privilegedWorksHere = dockerOk('run', '--rm', '--privileged', '--network', 'none', BUSYBOX, 'true')
  it.each([['--profile', 'sysadmin'], ['--profile', 'baseline', '--privileged']])('privileged: %s %s %s', async (...args) => {
    if (privilegedWorksHere) {
      expect((await capEff(args)) & bit(SYS_ADMIN)).toBe(bit(SYS_ADMIN))
      return
    }
    const before = allContainerIds()
    const r = await mindbg(['attach', ...args, web, '--', 'true'])
    expect(r.code).toBe(119)
    expect(r.stderr).toMatch(/^mindbg: the sidecar did not start: .*operation not permitted/)
    expect(r.stderr).toMatch(/^Hint: /m)
    expect(createdSince(before)).toEqual([])
  })

  it('--cap-add, --user', async () => {
    expect((await capEff(['--profile', 'baseline', '--cap-add', 'net_admin'])) & bit(NET_ADMIN)).toBe(bit(NET_ADMIN))
    // Podman adds a passwd and a group entry for a user the image lacks, so that id names it by its number.
    expect((await mindbg(['attach', '--user', '1234:5678', web, '--', 'id'])).stdout).toMatch(ENGINE === 'podman' ? /^uid=1234\(1234\) gid=5678\(5678\)/ : /^uid=1234 gid=5678/)
  })
})

describe('environment, working directory, name, labels', () => {
  it('--env and --workdir', async () => {
    const r = await mindbg(['attach', '-e', 'A=1', '--env', 'B=two words', '-e', 'FROM_HERE', '-w', '/tmp', web, '--', 'sh', '-c', 'echo "$A|$B|$FROM_HERE|$MINDBG_TARGET_ROOT"; pwd'], {
      env: {FROM_HERE: 'copied'},
    })
    expect(r.stdout).toBe('1|two words|copied|/proc/1/root\n/tmp\n')
  })

  it('--name and the identity labels, visible while the session runs', async () => {
    const name = `dbg-${process.pid}`
    const child = startMindbg(['attach', '--name', name, '--reason', 'INC-4711 latency', web, '--', 'sleep', '2'])
    const done = collect(child, 30_000)
    expect(await waitForSidecar(web)).toBe(name)
    const labels = JSON.parse(docker('inspect', '--format', '{{json .Config.Labels}}', name)) as Record<string, string>
    expect(labels).toMatchObject({'org.mindbg.sidecar': 'true', 'org.mindbg.target-name': web, 'org.mindbg.reason': 'INC-4711 latency', 'org.mindbg.profile': 'general'})
    expect(labels['org.mindbg.user']).toMatch(/^\S+@\S+$/)
    expect((await done).code).toBe(0)
    // And gone afterwards.
    await expectSidecarsGone(web)
  })
})

describe('zero residue', () => {
  it('leaves no sidecar and no change in the target after any of the sessions above', async () => {
    for (const target of [web, readOnly, shareable]) {
      await expectSidecarsGone(target)
      expect(changesIn(target)).toBe('')
    }
  })

  it('the fixture is a true distroless image: no shell inside the target', () => {
    expect(() => docker('exec', web, 'sh', '-c', 'true')).toThrow()
    // ...and it runs as the distroless nonroot user, as the non-root paths of these tests assume.
    expect(docker('inspect', '--format', '{{.Config.User}}', web)).toMatch(/^65532(:65532)?$/)
  })
})
