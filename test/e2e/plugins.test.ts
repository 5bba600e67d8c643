/**
 * mindbg as a plugin of the real docker CLI (installed with `mindbg install docker-plugin` under a temporary
 * DOCKER_CONFIG) and of the real kubectl (found on PATH, against the simulator); docker contexts made by the real
 * docker CLI, honoured by mindbg itself too.
 */
import {execFileSync, spawn} from 'node:child_process'
import {mkdtempSync, readlinkSync, symlinkSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {startKubeSim, type KubeSim} from '../support/kube-sim/server.ts'
import {KUBECTL, kubectlWith} from '../support/kubectl.js'
import {BIN, collect, docker, eventually, mindbg, requireEngine, ROOT, type RunResult, sharedTarget, testEnv} from './helpers.js'

const DOCKER_PLUGIN = join(ROOT, 'bin/docker-mindbg.js')
const nodeOnPath = `${dirname(process.execPath)}:${process.env.PATH}`

/** A program as a shell would run it, with node on PATH for the plugins' shebangs. */
function run(file: string, args: string[], env: Record<string, string | undefined> = {}): Promise<RunResult> {
  const child = spawn(file, args, {env: testEnv({PATH: nodeOnPath, ...env}), stdio: ['pipe', 'pipe', 'pipe']})
  child.stdin.end()
  return collect(child)
}

describe('docker mindbg', () => {
  const web = sharedTarget()
  const config = mkdtempSync(join(tmpdir(), 'mindbg-docker-config-'))
  const dockerCli = (...args: string[]): Promise<RunResult> => run('docker', args, {DOCKER_CONFIG: config, DOCKER_HOST: undefined, DOCKER_CONTEXT: undefined})
  const contextCli = (...args: string[]): string => execFileSync('docker', args, {env: {...process.env, DOCKER_CONFIG: config}, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']})

  beforeAll(async () => {
    const first = await mindbg(['install', 'docker-plugin'], {env: {DOCKER_CONFIG: config}})
    expect(first.code, first.stderr).toBe(0)
    expect(first.stdout).toBe(`installed: ${join(config, 'cli-plugins/docker-mindbg')} -> ${DOCKER_PLUGIN}\n`)
    contextCli('context', 'create', 'live', '--docker', 'host=unix:///var/run/docker.sock')
    contextCli('context', 'create', 'dead', '--docker', `host=unix://${join(config, 'dead.sock')}`)
  })

  it('install links the plugin, and again changes nothing', async () => {
    expect(readlinkSync(join(config, 'cli-plugins/docker-mindbg'))).toBe(DOCKER_PLUGIN)
    const again = await mindbg(['install', 'docker-plugin'], {env: {DOCKER_CONFIG: config}})
    expect(again.stdout).toMatch(/^already installed: /)
  })

  it("answers the docker CLI's metadata, and docker lists it", async () => {
    const metadata = JSON.parse((await run(DOCKER_PLUGIN, ['docker-cli-plugin-metadata'])).stdout)
    expect(metadata).toMatchObject({SchemaVersion: '0.1.0', Vendor: 'mindbg', Version: expect.stringMatching(/^\d+\.\d+\.\d+/), ShortDescription: expect.any(String)})
    expect((await dockerCli('--help')).stdout).toMatch(/^\s+mindbg\*?\s+Debug a distroless/m)
  })

  it('docker mindbg attach T -- ps', async () => {
    const r = await dockerCli('mindbg', 'attach', web(), '--', 'ps')
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/\/app\/web/)
  })

  it('docker --host and --context choose the engine, as for docker itself', async () => {
    const live = await dockerCli('--context', 'live', 'mindbg', 'attach', web(), '--', 'echo', 'ok')
    expect({code: live.code, stdout: live.stdout, stderr: live.stderr}).toEqual({code: 0, stdout: 'ok\n', stderr: ''})
    // ls needs the engine as much as attach does, and costs less.
    for (const global of [['--host', 'unix:///var/run/docker.sock'], ['-H', 'unix:///var/run/docker.sock'], ['--context', 'default']]) {
      const r = await dockerCli(...global, 'mindbg', 'ls')
      expect({global, code: r.code, stderr: r.stderr}).toEqual({global, code: 0, stderr: ''})
    }
    const dead = await dockerCli('--context', 'dead', 'mindbg', 'attach', web(), '--', 'true')
    expect(dead.code).toBe(115)
    expect(dead.stderr).toMatch(new RegExp(`^mindbg: cannot reach the Docker engine at unix://${join(config, 'dead.sock')} `))
    // --context beats DOCKER_HOST in the docker CLI.
    const overHost = await run('docker', ['--context', 'dead', 'mindbg', 'ls'], {DOCKER_CONFIG: config, DOCKER_HOST: 'unix:///var/run/docker.sock'})
    expect(overHost.code).toBe(115)
  })

  it('mindbg itself: DOCKER_CONTEXT, then currentContext; DOCKER_HOST beats both; an unknown context is a usage error', async () => {
    const env = (more: Record<string, string | undefined>) => ({env: {DOCKER_CONFIG: config, DOCKER_HOST: undefined, DOCKER_CONTEXT: undefined, ...more}})
    const attach = (more: Record<string, string | undefined>) => mindbg(['attach', web(), '--', 'echo', 'ok'], env(more))
    const ls = (more: Record<string, string | undefined>) => mindbg(['ls'], env(more))
    const deadEndpoint = new RegExp(`cannot reach the Docker engine at unix://${join(config, 'dead.sock')} `)
    expect(await attach({DOCKER_CONTEXT: 'live'})).toMatchObject({code: 0, stdout: 'ok\n'})
    expect(await attach({DOCKER_CONTEXT: 'dead'})).toMatchObject({code: 115, stderr: expect.stringMatching(deadEndpoint)})
    expect(await ls({DOCKER_CONTEXT: 'dead', DOCKER_HOST: 'unix:///var/run/docker.sock'})).toMatchObject({code: 0, stderr: ''})
    contextCli('context', 'use', 'dead')
    try {
      expect(await ls({})).toMatchObject({code: 115, stderr: expect.stringMatching(deadEndpoint)})
      expect(await ls({DOCKER_CONTEXT: 'live'})).toMatchObject({code: 0, stderr: ''})
    } finally {
      contextCli('context', 'use', 'default')
    }
    const unknown = await attach({DOCKER_CONTEXT: 'nope'})
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toMatch(/^mindbg: docker context "nope" is not in .*\nHint: .*docker context ls/)
  })

  it('docker stopping its plugin (SIGTERM to docker, no terminal) ends the session: 143, no sidecar left', async () => {
    // The docker CLI tells a plugin to stop through DOCKER_CLI_PLUGIN_SOCKET since 25; 20.10 waits for the plugin.
    const client = docker('version', '--format', '{{.Client.Version}}')
    expect(Number(client.split('.')[0]), `the docker CLI on PATH is ${client}: this needs 25 or later`).toBeGreaterThanOrEqual(25)
    const child = spawn('docker', ['mindbg', 'attach', web(), '--', 'sh', '-c', 'echo started; sleep 60'], {
      env: testEnv({PATH: nodeOnPath, DOCKER_CONFIG: config, DOCKER_HOST: undefined, DOCKER_CONTEXT: undefined}),
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    child.stdin.end()
    let seen = ''
    child.stdout.on('data', (d: Buffer) => (seen += d))
    const result = collect(child, 20_000)
    await eventually('the session to start', async () => seen.includes('started'), 15_000)
    child.kill('SIGTERM')
    expect((await result).code).toBe(143)
    expect(docker('ps', '-aq', '--filter', `name=mindbg-${web()}-`)).toBe('')
  })

  it('install --uninstall removes the link; docker no longer knows mindbg', async () => {
    const r = await mindbg(['install', 'docker-plugin', '--uninstall'], {env: {DOCKER_CONFIG: config}})
    expect(r).toMatchObject({code: 0, stdout: `removed: ${join(config, 'cli-plugins/docker-mindbg')}\n`})
    expect((await dockerCli('mindbg', 'ls')).code).not.toBe(0)
  })
})

describe('kubectl mindbg', () => {
  let sim: KubeSim
  const dir = mkdtempSync(join(tmpdir(), 'mindbg-kubectl-plugin-'))
  const kubeconfig = join(dir, 'kubeconfig')
  const kubectl = (args: string[], env: Record<string, string | undefined> = {}): Promise<RunResult> => run(KUBECTL, args, {PATH: `${join(dir, 'bin')}:${nodeOnPath}`, KUBECONFIG: kubeconfig, ...env})

  beforeAll(async () => {
    requireEngine()
    sim = await startKubeSim()
    sim.writeKubeconfig(kubeconfig)
    execFileSync('mkdir', [join(dir, 'bin')])
    symlinkSync(join(ROOT, 'bin/kubectl-mindbg.js'), join(dir, 'bin/kubectl-mindbg'))
    await kubectlWith(kubeconfig, 'apply', '-f', join(ROOT, 'test/fixtures/k8s/web.yaml'))
    await eventually('pod web to run', async () => (await kubectlWith(kubeconfig, 'get', 'pod', 'web', '-o', 'jsonpath={.status.phase}')) === 'Running', 30_000)
  })
  afterAll(async () => {
    await sim?.close()
  })

  it('kubectl finds it on PATH; a bare name is a pod of the current namespace', async () => {
    expect((await kubectl(['plugin', 'list'])).stdout).toMatch(/kubectl-mindbg/)
    const r = await kubectl(['mindbg', 'attach', 'web', '--', 'ps'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/\/app\/web/)
  })

  it("kubectl's -n, --context and --kubeconfig before or after the subcommand; --target as -c", async () => {
    const context = (await kubectlWith(kubeconfig, 'config', 'current-context'))
    for (const args of [
      ['mindbg', '-n', 'default', '--kubeconfig', kubeconfig, 'attach', 'web', '--', 'echo', 'ok'],
      ['mindbg', 'attach', '--namespace=default', '--context', context, 'web', '--', 'echo', 'ok'],
      // --target is kubectl debug's -c: the same setting, so the two may agree.
      ['mindbg', '--context', context, 'attach', 'web', '-n', 'default', '--target', 'app', '-c', 'app', '--', 'echo', 'ok'],
    ]) {
      const r = await kubectl(args, {KUBECONFIG: args.includes('--kubeconfig') ? undefined : kubeconfig})
      expect({args, code: r.code, stdout: r.stdout}, r.stderr).toEqual({args, code: 0, stdout: 'ok\n'})
    }
    const conflict = await kubectl(['mindbg', 'attach', 'web', '-c', 'app', '--target', 'other', '--', 'true'])
    expect(conflict.code).toBe(2)
    expect(conflict.stderr).toMatch(/--target-container app and --target other name different containers/)
    const elsewhere = await kubectl(['mindbg', '-n', 'nowhere', 'attach', 'web', '--', 'true'])
    expect(elsewhere.code).not.toBe(0)
    expect(elsewhere.stderr).toMatch(/nowhere/)
  })

  it('kubectl mindbg ls lists the debuggers in pods (the sessions above, ended)', async () => {
    const r = await kubectl(['mindbg', 'ls'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^NAMESPACE\s+POD\s+NAME/)
    expect(r.stdout).toMatch(/^default\s+web\s+mindbg-/m)
  })

  it('kubectl mindbg alone prints the help; docker:// still names a container', async () => {
    const help = await kubectl(['mindbg'])
    expect(help.code).toBe(0)
    expect(help.stdout).toMatch(/USAGE/)
    const container = await kubectl(['mindbg', 'attach', 'docker://mindbg-no-such-container', '--', 'true'])
    expect(container.stderr).toMatch(/mindbg-no-such-container/)
    expect(container.stderr).not.toMatch(/pod/)
  })
})

// The plugin entries are the bin of the package too, and mindbg's own bin is unchanged.
it('package.json bin has mindbg, kubectl-mindbg, docker-mindbg and kubectl\'s completion hook', async () => {
  const pkg = JSON.parse(execFileSync('cat', [join(ROOT, 'package.json')], {encoding: 'utf8'})) as {bin: Record<string, string>}
  expect(pkg.bin).toEqual({
    'mindbg': './bin/run.js',
    'kubectl-mindbg': './bin/kubectl-mindbg.js',
    'docker-mindbg': './bin/docker-mindbg.js',
    'kubectl_complete-mindbg': './bin/kubectl_complete-mindbg',
  })
  expect((await run(BIN, ['--version'])).stdout).toMatch(/^mindbg\//)
})
