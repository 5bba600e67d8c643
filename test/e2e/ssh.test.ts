/**
 * DOCKER_HOST=ssh://USER@HOST:PORT, as the docker CLI takes it: a real sshd on a loopback port (its own host key,
 * authorized key and agent, nothing of the machine's configuration touched) in front of this machine's engine.
 * The session works, its exit code comes back, and nothing but the command's output is printed: no Node deprecation
 * warning (issue 9, item 15: docker-modem formatted the ssh URL as "ssh:HOST:PORT", which Node warns about).
 */
import {type ChildProcess, execFileSync, spawn} from 'node:child_process'
import {existsSync, mkdirSync, mkdtempSync, writeFileSync} from 'node:fs'
import net from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {eventually, mindbg, removeTargets, requireEngine, startTarget} from './helpers.js'

const SSHD = '/usr/sbin/sshd'
const dir = mkdtempSync(join(tmpdir(), 'mindbg-ssh-'))
let sshd: ChildProcess | undefined
let agent: {sock: string; pid: string} | undefined
let port = 0
let target = ''

const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const {port: p} = server.address() as net.AddressInfo
      server.close(() => resolve(p))
    })
  })

beforeAll(async () => {
  requireEngine()
  if (!existsSync(SSHD)) throw new Error(`${SSHD} is missing: scripts/provision.sh installs openssh-server (npm test does)`)
  for (const name of ['client', 'host']) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, name)])
  execFileSync('cp', [join(dir, 'client.pub'), join(dir, 'authorized_keys')])
  mkdirSync('/run/sshd', {recursive: true}) // sshd's privilege separation directory
  port = await freePort()
  sshd = spawn(SSHD, ['-D', '-e', '-p', String(port), '-f', '/dev/null', '-h', join(dir, 'host'),
    '-o', 'ListenAddress=127.0.0.1', '-o', `AuthorizedKeysFile=${join(dir, 'authorized_keys')}`, '-o', 'StrictModes=no',
    '-o', 'PermitRootLogin=prohibit-password', '-o', 'PasswordAuthentication=no', '-o', `PidFile=${join(dir, 'sshd.pid')}`], {stdio: 'ignore'})
  const out = execFileSync('ssh-agent', ['-s', '-a', join(dir, 'agent.sock')], {encoding: 'utf8'})
  agent = {sock: join(dir, 'agent.sock'), pid: /SSH_AGENT_PID=(\d+)/.exec(out)![1]!}
  execFileSync('ssh-add', [join(dir, 'client')], {env: {...process.env, SSH_AUTH_SOCK: agent.sock}, stdio: 'ignore'})
  await eventually('sshd to listen', () => new Promise((resolve) => net.connect(port, '127.0.0.1').once('connect', function (this: net.Socket) {
    this.destroy()
    resolve(true)
  }).once('error', () => resolve(false))), 10_000)
  writeFileSync(join(dir, 'known_hosts'), '')
  target = startTarget()
}, 60_000)

afterAll(() => {
  sshd?.kill()
  if (agent) process.kill(Number(agent.pid))
  removeTargets()
})

describe('DOCKER_HOST=ssh://', () => {
  it('runs a session through sshd: output and exit code, and not one warning on stderr', {timeout: 60_000}, async () => {
    const r = await mindbg(['attach', target, '--', 'sh', '-c', 'echo over-ssh; exit 4'], {env: {DOCKER_HOST: `ssh://root@127.0.0.1:${port}`, SSH_AUTH_SOCK: agent!.sock}})
    expect(r.stdout).toBe('over-ssh\n')
    expect(r.stderr).toBe('')
    expect(r.code).toBe(4)
  })

  it.each([
    ['a user the key is not authorized for', 'nobody', 'agent', /^mindbg: ssh to ssh:\/\/nobody@127\.0\.0\.1:\d+ failed: All configured authentication methods failed\nHint: mindbg logs in with the keys of the ssh agent/],
    ['no ssh agent', 'root', 'none', /^mindbg: ssh to .* failed: .*\nHint: mindbg logs in with the keys of an ssh agent: start one/],
  ])('%s: exit 116 with a hint, no warning, no stack', {timeout: 60_000}, async (_, user, withAgent, message) => {
    const env = {DOCKER_HOST: `ssh://${user}@127.0.0.1:${port}`, SSH_AUTH_SOCK: withAgent === 'agent' ? agent!.sock : undefined}
    const r = await mindbg(['attach', target, '--', 'true'], {env})
    expect(r.code).toBe(116)
    expect(r.stderr).toMatch(message)
    expect(r.stderr).not.toMatch(/DeprecationWarning|\n\s+at /)
  })
})
