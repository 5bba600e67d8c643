/**
 * Repeated commands into a live debugger: `attach T --detach` starts one that serves commands, `attach --session S
 * -- CMD` and `attach T --reuse -- CMD` run them (through its step server, an exec for input or a terminal), `--end`
 * and `--ttl` end it. Against the real engine; concurrency, stops and kills of callers, zombies and residue checked
 * from outside with the engine's own CLI.
 */
import {execFileSync, spawn, spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {PtySession} from '../support/pty.js'
import {BIN, collect, createdName, DASH, ROOT, DISTROLESS, docker, dockerOk, ENGINE, mindbg, mindbgCommand, type RunResult, runningSidecarsOf, sharedTarget, sidecarsOf, startMindbg, startTarget, testEnv, waitFor} from './helpers.js'

/**
 * A command's parent as `tr "\0" " " < /proc/$PPID/cmdline` shows it: the step server's mindbg-init (/proc/N/exe) on
 * Docker; on Podman, which closes a container's stdin once the attach that started it ends, an exec's mindbg-init.
 */
const SERVED = ENGINE === 'docker' ? /^\/proc\/\d+\/exe sh -c / : /^\/\.mindbg-init sh -c /

/** mindbg with stdin on /dev/null, as cron or a CI step runs it. */
function mindbgNull(args: string[], timeoutMs = 30_000): Promise<RunResult> {
  const [command, argv] = mindbgCommand(args)
  return collect(spawn(command, argv, {env: testEnv(), stdio: ['ignore', 'pipe', 'pipe']}), timeoutMs)
}

function startNull(args: string[]): ReturnType<typeof spawn> {
  const [command, argv] = mindbgCommand(args)
  return spawn(command, argv, {env: testEnv(), stdio: ['ignore', 'pipe', 'pipe']})
}

/** The processes the target's PID namespace holds, as `ps -o stat,args` in the debugger sees them. */
const processes = (debuggerName: string): string => docker('exec', debuggerName, 'ps', '-o', 'pid,ppid,stat,args')

async function detach(target: string, extra: string[] = []): Promise<string> {
  const r = await mindbgNull(['attach', target, '--detach', ...extra])
  expect(r.code, r.stderr).toBe(0)
  expect(r.stdout).toMatch(/^mindbg-[\w.-]+\n$/)
  const name = r.stdout.trim()
  expect(r.stderr).toContain(`mindbg attach --session ${name} -- COMMAND`)
  expect(r.stderr).toContain(`mindbg attach --session ${name} --end`)
  return name
}

describe('attach --detach, then commands in it', () => {
  const target = sharedTarget()

  it('serves commands: exit codes, separate streams, stdin /dev/null and piped, no zombie, ls, --end, errors', {timeout: 90_000}, async () => {
    const name = await detach(target())
    expect(docker('inspect', '--format', '{{index .Config.Labels "org.mindbg.serve"}} {{.Config.StdinOnce}} {{.State.Running}}', name)).toBe('1 false true')
    const ls = JSON.parse((await mindbg(['ls', '--json'])).stdout) as Array<{name: string; state: string; target: string}>
    expect(ls.find((d) => d.name === name)).toMatchObject({state: 'running', target: target(), serves: true, expires: expect.stringMatching(/^\d{4}-/)})
    // A stand-in lives only as long as its session: a target that is not running is refused.
    const stopped = createdName()
    docker('create', '--name', stopped, DISTROLESS)
    expect((await mindbgNull(['attach', stopped, '--detach'])).code).toBe(114)

    const r = await mindbgNull(['attach', '--session', name, '--', 'sh', '-c', 'echo out; echo err >&2; printf partial; exit 3'])
    expect(r).toMatchObject({code: 3, stdout: 'out\npartial', stderr: 'err\n'})
    // The fast path: the step ran under the server (its parent), not in an exec.
    const tree = await mindbgNull(['attach', '--session', name, '--', 'sh', '-c', 'tr "\\0" " " < /proc/$PPID/cmdline'])
    expect(tree.code, tree.stderr).toBe(0)
    expect(tree.stdout).toMatch(SERVED)

    // Its start-up: no oclif, no heavy library, none of the Node modules it does not use (BENCHMARKS.md).
    if (!process.env.MINDBG_TEST_BIN) {
      const trace = join(mkdtempSync(join(tmpdir(), 'mindbg-trace-')), 'modules.txt')
      const traced = spawnSync(process.execPath, ['--import', join(ROOT, 'test/support/trace-modules.mjs'), BIN, 'attach', '--session', name, '--', 'true'], {env: testEnv({MINDBG_TRACE_FILE: trace}), stdio: ['ignore', 'pipe', 'pipe']})
      expect(traced.status).toBe(0)
      const loaded = readFileSync(trace, 'utf8').split('\n')
      expect(loaded.filter((m) => /oclif|dockerode|k8s-client|node_modules|^node:(crypto|child_process|readline|vm|v8)$/.test(m))).toEqual([])
    }

    const missing = await mindbgNull(['attach', '--session', name, '--', 'no-such-tool'])
    expect(missing.code).toBe(127)
    expect(missing.stderr).toMatch(/no-such-tool: command not found in the debug image/)
    const notExecutable = await mindbgNull(['attach', '--session', name, '--', '/etc/passwd'])
    expect(notExecutable.code).toBe(126)

    // Piped input goes through an exec (the server's stdin is everyone's): the bytes as they are.
    const piped = await mindbg(['attach', '--session', name, '--', 'sh', '-c', 'wc -c; exit 5'], {input: 'x'.repeat(100_000)})
    expect(piped).toMatchObject({code: 5, stdout: '100000\n'})
    // A pipe that brings nothing (`< /dev/null` through a pipe) is an empty input.
    expect(await mindbg(['attach', '--session', name, '--', 'cat'])).toMatchObject({code: 0, stdout: ''})

    // An orphan a command leaves behind is killed and reaped: nothing in the target becomes a zombie.
    expect((await mindbgNull(['attach', '--session', name, '--', 'sh', '-c', 'sleep 300 & sleep 300 & exit 0'])).code).toBe(0)
    const ps = processes(name)
    expect(ps).not.toMatch(/sleep 300/)
    expect(ps.split('\n').slice(1).filter((line) => / Z /.test(line))).toEqual([])

    expect(await mindbgNull(['attach', '--session', name, '--end'])).toMatchObject({code: 0, stderr: expect.stringContaining(`${name} ended`)})
    await waitFor(`${name} removed`, () => !dockerOk('inspect', name), 5000, 50)
    const ended = await mindbgNull(['attach', '--session', name, '--', 'true'])
    expect(ended.code).toBe(120)
    expect(ended.stderr).toMatch(new RegExp(`session ${name}: no such sidecar`))
    expect(ended.stderr).toMatch(/Hint: List live sidecars with: mindbg ls/)
    expect((await mindbgNull(['attach', '--session', 'mindbg-nosuch-abcde', '--', 'true'])).code).toBe(120)
    expect((await mindbgNull(['attach', target(), '--detach', '--', 'ps'])).code).toBe(2)
    expect((await mindbgNull(['attach', '--session', name, '--ttl', '1m'])).code).toBe(2)
  })

  it('serves under dash and bash as sh: exit codes, streams, 127, a step past its 4 kB line, piped input, --end', {timeout: 90_000}, async () => {
    for (const image of [DASH, 'mindbg-fixture/bash:local']) {
      const name = await detach(target(), ['--image', image])
      expect(await mindbgNull(['attach', '--session', name, '--', 'sh', '-c', 'echo out; echo err >&2; printf partial; exit 3'])).toMatchObject({code: 3, stdout: 'out\npartial', stderr: 'err\n'})
      // These images have no tr: the NULs are replaced here.
      const tree = await mindbgNull(['attach', '--session', name, '--', 'sh', '-c', 'cat /proc/$PPID/cmdline'])
      expect(tree.stdout.replaceAll('\0', ' '), image).toMatch(SERVED)
      expect((await mindbgNull(['attach', '--session', name, '--', 'no-such-tool'])).code).toBe(127)
      const long = 'y'.repeat(5000)
      expect(await mindbgNull(['attach', '--session', name, '--', 'sh', '-c', 'printf "%s\\n" "$1"', 'sh', long])).toMatchObject({code: 0, stdout: `${long}\n`})
      const input = 'x'.repeat(70_000)
      expect(await mindbg(['attach', '--session', name, '--', 'cat'], {input})).toMatchObject({code: 0, stdout: input})
      expect((await mindbgNull(['attach', '--session', name, '--end'])).code).toBe(0)
      await waitFor(`${name} removed`, () => !dockerOk('inspect', name), 5000, 50)
    }
  })

  it('concurrent callers get their own output; Ctrl-C stops the step, a SIGKILLed caller leaves the debugger serving', {timeout: 90_000}, async () => {
    const name = await detach(target())
    try {
      const callers = [1, 2, 3, 4].map((n) =>
        mindbgNull(['attach', '--session', name, '--', 'sh', '-c', `for i in 1 2 3; do echo ${n}-$i; echo e${n}-$i >&2; sleep 0.05; done; exit ${n}`]),
      )
      const results = await Promise.all(callers)
      results.forEach((r, i) => {
        const n = i + 1
        expect(r).toMatchObject({code: n, stdout: `${n}-1\n${n}-2\n${n}-3\n`, stderr: `e${n}-1\ne${n}-2\ne${n}-3\n`})
      })

      // Ctrl-C: the step ends (130, as one-shot attach), the debugger does not.
      const interrupted = startNull(['attach', '--session', name, '--', 'sleep', '301'])
      const done = collect(interrupted)
      await waitFor('the step runs', () => processes(name).includes('sleep 301'), 10_000, 50)
      interrupted.kill('SIGINT')
      expect((await done).code).toBe(130)
      await waitFor('the step is gone', () => !processes(name).includes('sleep 301'), 5000, 50)

      // A caller killed outright: its step runs on to its end with nobody reading; the debugger serves the next.
      const killed = startMindbg(['attach', '--session', name, '--', 'sh', '-c', 'sleep 1; echo lost'])
      const killedDone = collect(killed)
      await waitFor('the step runs', () => processes(name).includes('sleep 1'), 10_000, 50)
      killed.kill('SIGKILL')
      expect((await killedDone).signal).toBe('SIGKILL')
      expect(await mindbgNull(['attach', '--session', name, '--', 'echo', 'still serving'])).toMatchObject({code: 0, stdout: 'still serving\n'})
      expect(runningSidecarsOf(target()).filter((s) => docker('inspect', '--format', '{{.Name}}', s) === `/${name}`)).toHaveLength(1)
    } finally {
      await mindbgNull(['attach', '--session', name, '--end'])
    }
  })

  it('--ttl ends it inside, leaving nothing; --reuse -- CMD uses it while it lives, a fresh one after', {timeout: 60_000}, async () => {
    const own = startTarget()
    const name = await detach(own, ['--ttl', '6s'])
    // Its step server runs the command (under mindbg-init as /proc/N/exe); a fresh sidecar's is /.mindbg-init.
    const parent = ['sh', '-c', 'tr "\\0" " " < /proc/$PPID/cmdline']
    const reused = await mindbgNull(['attach', own, '--reuse', '--', ...parent])
    expect(reused.code, reused.stderr).toBe(0)
    expect(reused.stdout).toMatch(SERVED)
    expect(runningSidecarsOf(own)).toHaveLength(1)
    expect(docker('inspect', '--format', '{{.Name}}', runningSidecarsOf(own)[0]!)).toBe(`/${name}`)
    await waitFor(`${name} gone after its ttl`, () => sidecarsOf(own).length === 0, 15_000, 100)
    const fresh = await mindbgNull(['attach', own, '--reuse', '--', ...parent])
    expect(fresh).toMatchObject({code: 0, stdout: expect.stringMatching(/^\/\.mindbg-init sh -c /)})
    expect(fresh.stderr).toMatch(/no running mindbg debugger to reuse next to this target; running the command in a new one/)
    await waitFor('no sidecar left', () => sidecarsOf(own).length === 0, 3000, 50)
  })

  it('a SIGKILL of attach --detach before it printed the name leaves nothing (its watchdog)', {timeout: 60_000}, async () => {
    const own = startTarget()
    const id = docker('inspect', '--format', '{{.Id}}', own)
    // Killed the moment the engine reports the sidecar created; should the name be out already, again (3 tries).
    for (let attempt = 1; ; attempt++) {
      const since = Math.floor(Date.now() / 1000) - 1
      const events = spawn('docker', ['events', '--since', String(since), '--filter', 'event=create', '--filter', `label=org.mindbg.target=${id}`, '--format', '{{.ID}}'])
      const created = new Promise<void>((resolve) => events.stdout.once('data', () => resolve()))
      const detaching = startNull(['attach', own, '--detach'])
      const done = collect(detaching)
      await created
      detaching.kill('SIGKILL')
      events.kill()
      const r = await done
      if (r.stdout === '') {
        expect(r.signal).toBe('SIGKILL')
        await waitFor('the watchdog removed the sidecar', () => sidecarsOf(own).length === 0, 10_000, 100)
        return
      }
      // Too late: it serves, and is ended by hand.
      await mindbgNull(['attach', '--session', r.stdout.trim(), '--end'])
      expect(attempt, 'the kill never came before the name was printed').toBeLessThan(3)
    }
  })

  it('a detached shell takes commands by exec; a serving debugger gives a shell by exec on a terminal', {timeout: 60_000}, async () => {
    const own = startTarget()
    const shell = PtySession.mindbg(['attach', own])
    let name = ''
    try {
      await shell.expect(/\/ # /, 15_000)
      // The detach keys once mindbg has the terminal raw (cooked, ctrl-q is the terminal's XON).
      await waitFor('the terminal in raw mode', () => execFileSync('stty', ['-F', shell.ptsName, '-a'], {encoding: 'utf8'}).split(/[\s;]+/).includes('-icanon'), 5000, 10)
      shell.send('\x10\x11')
      ;[, name = ''] = await shell.expect(/mindbg attach --session ([\w.-]+)/)
      expect(await shell.waitExit()).toEqual({exitCode: 0, signal: undefined})
    } finally {
      await shell.close()
    }
    expect(await mindbgNull(['attach', '--session', name, '--', 'sh', '-c', 'echo by exec; exit 4'])).toMatchObject({code: 4, stdout: 'by exec\n'})
    expect(await mindbgNull(['attach', own, '--reuse', '--', 'echo', 'reused'])).toMatchObject({code: 0, stdout: 'reused\n'})
    // Commands by exec leave the shell as they found it: running, for its owner to get back into.
    await new Promise((r) => setTimeout(r, 1000))
    expect(docker('inspect', '-f', '{{.State.Running}}', name).trim()).toBe('true')
    expect(await mindbgNull(['attach', '--session', name, '--end'])).toMatchObject({code: 0})

    const serving = await detach(own)
    const s = PtySession.mindbg(['attach', '--session', serving])
    try {
      await s.expect(/\/ # /, 15_000)
      s.send('tty; exit 6\r')
      await s.expect(/\/dev\/pts\/\d+/)
      expect(await s.waitExit()).toEqual({exitCode: 6, signal: undefined})
    } finally {
      await s.close()
    }
    // The fast path onto a terminal (no input, no terminal for the command): terminal commands in its output are
    // dropped, as in any session, its text kept.
    const screen = PtySession.mindbg(['attach', '--session', serving, '--no-stdin', '--no-tty', '--', 'printf', '\\033]52;c;eA==\\007shown\\n'])
    try {
      await screen.expect(/shown/, 15_000)
      expect(await screen.waitExit()).toEqual({exitCode: 0, signal: undefined})
      expect(screen.output).not.toMatch(/\x1b\]52/)
    } finally {
      await screen.close()
    }
    expect(processes(serving)).not.toMatch(/ Z /)
    await mindbgNull(['attach', '--session', serving, '--end'])
    await waitFor('no sidecar left', () => sidecarsOf(own).length === 0, 5000, 50)
  })
})
