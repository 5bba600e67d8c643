/**
 * mindbg-init (src/backends/init.c) as built into dist/init/, run directly on this machine (and the arm64
 * build under qemu-aarch64-static, which scripts/provision.sh installs): exit codes, signals, the PATH search, and
 * the promise it exists for: when it exits, nothing it started is left, not even a zombie.
 */
import {execFileSync, spawn, spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {tarOf} from '../../src/backends/docker/init.js'
import {initArch} from '../../src/backends/init.js'

const dist = (arch: string): string => new URL(`../../dist/init/mindbg-init-${arch}`, import.meta.url).pathname
const HOST = os.arch() === 'x64' ? 'amd64' : 'arm64'
const INIT = dist(HOST)

function run(args: string[], env: NodeJS.ProcessEnv = process.env): {status: number | null; stdout: string; stderr: string} {
  const r = spawnSync(INIT, args, {encoding: 'utf8', env, timeout: 10_000})
  return {status: r.status, stdout: r.stdout, stderr: r.stderr}
}

const alive = (pid: number): boolean => existsSync(`/proc/${pid}`)

describe('mindbg-init', () => {
  it('is built for this machine, static, a few KB', () => {
    expect(existsSync(INIT)).toBe(true)
    expect(readFileSync(INIT).length).toBeLessThan(16_384)
    expect(execFileSync('file', [INIT], {encoding: 'utf8'})).toMatch(/statically linked/)
  })

  it.each([
    [['sh', '-c', 'exit 0'], 0],
    [['sh', '-c', 'exit 42'], 42],
    [['sh', '-c', 'kill -9 $$'], 137],
    [['sh', '-c', 'kill -TERM $$'], 143],
    [['/bin/sh', '-c', 'exit 5'], 5],
  ])('%j exits %i', (args, code) => {
    expect(run(args).status).toBe(code)
  })

  it('--hold runs nothing and waits: SIGTERM, SIGINT or SIGHUP end it with 0 (a stand-in\'s one process)', async () => {
    for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
      const child = spawn(INIT, ['--hold'], {stdio: 'ignore'})
      await new Promise((r) => setTimeout(r, 100))
      expect(child.exitCode).toBe(null)
      child.kill(signal)
      const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)))
      expect(code).toBe(0)
    }
  })

  it('passes arguments, the environment and stdio through unchanged', () => {
    const r = spawnSync(INIT, ['sh', '-c', 'printf "%s|" "$@"; echo "$X"; cat', 'zero', 'a b', '', '*'], {input: 'in', encoding: 'utf8', env: {...process.env, X: 'x y'}})
    expect(r.stdout).toBe('a b||*|x y\nin')
  })

  it('searches PATH as execvp does; names a missing or non-executable command (127, 126)', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mindbg-init-'))
    writeFileSync(path.join(dir, 'tool'), '#!/bin/sh\necho from-tool\n', {mode: 0o755})
    writeFileSync(path.join(dir, 'plain'), 'not executable', {mode: 0o644})
    const env = {...process.env, PATH: `/nonexistent:${dir}:/usr/bin:/bin`}
    expect(run(['tool'], env).stdout).toBe('from-tool\n')
    expect(run(['no-such-tool'], env)).toMatchObject({status: 127, stderr: expect.stringMatching(/^mindbg: no-such-tool: command not found in the debug image\nHint: .+\n$/)})
    expect(run(['plain'], env)).toMatchObject({status: 126, stderr: expect.stringMatching(/^mindbg: plain: permission denied in the debug image\nHint: .+\n$/)})
    expect(run([path.join(dir, 'missing')], env).status).toBe(127)
  })

  it('when the command exits, kills and reaps what it left: background jobs, orphans, stopped jobs', () => {
    const r = run(['sh', '-c', 'sleep 300 & echo $!; sh -c "sleep 301 & echo \\$!"; sleep 302 & kill -STOP $!; echo $!'])
    expect(r.status).toBe(0)
    const pids = r.stdout.trim().split('\n').map(Number)
    expect(pids).toHaveLength(3)
    expect(pids.filter(alive)).toEqual([])
  })

  it('on SIGTERM ends the whole session, even a command that ignores it (143); other signals go to the command', async () => {
    const child = spawn(INIT, ['sh', '-c', 'trap "echo usr1" USR1; trap "" TERM; sleep 300 & echo $!; while :; do sleep 0.05; done'])
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d))
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()))
    const sleeper = Number(out.trim())
    child.kill('SIGUSR1')
    await new Promise((r) => setTimeout(r, 300))
    expect(out).toMatch(/usr1/)
    child.kill('SIGTERM')
    expect(await exited).toBe(143)
    expect(alive(sleeper)).toBe(false)
  })

  // qemu-user does not pass PR_SET_CHILD_SUBREAPER on, so under it only the exec and the exit code are checked.
  it.runIf(existsSync('/usr/bin/qemu-aarch64-static') || os.arch() === 'arm64')('the arm64 build runs a command and passes its exit code on', () => {
    const runner = os.arch() === 'arm64' ? [] : ['qemu-aarch64-static']
    const [file, ...args] = [...runner, dist('arm64'), 'sh', '-c', 'echo "$@"; exit 9', 'sh', 'a b']
    const r = spawnSync(file!, args, {encoding: 'utf8', timeout: 10_000})
    expect(r).toMatchObject({status: 9, stdout: 'a b\n'})
  })
})

describe('mindbg-init --copy-in (a session\'s input, copied on mindbg\'s machine)', () => {
  it('runs only for the parent it names, and only as file or pipe (255 otherwise)', () => {
    expect(run(['--copy-in', 'file', '1']).status).toBe(255)
    expect(spawnSync('sh', ['-c', `${INIT} --copy-in socket $$ </dev/null`]).status).toBe(255)
    expect(spawnSync('sh', ['-c', `${INIT} --copy-in pipe $$ </dev/null >/dev/null`]).status).toBe(0)
  })

  it('exits 0, not by SIGPIPE, when the other end stops taking the input (the command ended)', () => {
    // head reads 10 bytes and exits: the copy's next splice meets a pipe without a reader.
    const status = spawnSync('bash', ['-c', `yes | ${INIT} --copy-in pipe $$ | head -c 10 >/dev/null; echo "\${PIPESTATUS[1]}"`], {encoding: 'utf8'})
    expect(status.stdout.trim()).toBe('0')
  })

  it('dies with its parent (SIGKILL): a killed mindbg leaves no copy holding the engine\'s socket', async () => {
    // Its input: this test's end of a socketpair, which never ends until the test closes it.
    const parent = spawn('sh', ['-c', `${INIT} --copy-in pipe $$ <&3 >/dev/null & echo $!; wait`], {stdio: ['ignore', 'pipe', 'ignore', 'pipe']})
    const pid = Number(await new Promise<string>((resolve) => parent.stdout.once('data', (d: Buffer) => resolve(d.toString()))))
    await new Promise((r) => setTimeout(r, 100))
    expect(alive(pid)).toBe(true)
    parent.kill('SIGKILL')
    for (let i = 0; i < 100 && alive(pid) && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z'); i++) await new Promise((r) => setTimeout(r, 10))
    expect(!alive(pid) || readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z')).toBe(true)
    parent.stdio[3]?.destroy()
  })
})

describe('the init archive', () => {
  it('is a tar that tar reads: one executable file owned by root', () => {
    const data = Buffer.from('#!/bin/sh\n')
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'mindbg-tar-')), 'a.tar')
    writeFileSync(file, tarOf('.mindbg-init', data, 0o755))
    expect(execFileSync('tar', ['-tvf', file, '--numeric-owner'], {encoding: 'utf8'})).toMatch(/^-rwxr-xr-x 0\/0\s+10 .* \.mindbg-init$/m)
  })

  it.each([
    ['linux/amd64', 'amd64'],
    ['linux/arm64/v8', 'arm64'],
    ['linux/aarch64', 'arm64'],
    ['linux/s390x', undefined],
    ['', undefined],
    [undefined, undefined],
  ])('platform %j runs the %s build', (platform, arch) => {
    expect(initArch(platform)).toBe(arch)
  })
})
