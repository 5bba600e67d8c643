import {lstatSync, mkdirSync, mkdtempSync, readlinkSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {debuggerRequest, kubeFlagsInto} from '../../src/cli/attach-plan.js'
import {parseEnvFile} from '../../src/cli/env-file.js'
import {targetContainer} from '../../src/cli/flag-table.js'
import {linkDockerPlugin} from '../../src/cli/install.js'
import {invocation} from '../../src/cli/plugins.js'
import {defaultRuntime, parseTarget} from '../../src/domain/target.js'

const tmp = (): string => mkdtempSync(join(tmpdir(), 'mindbg-cli-'))

describe('kubectl mindbg: kubectl global flags anywhere, bare names are pods', () => {
  it.each([
    {argv: [], out: ['--help']},
    {argv: ['-n', 'shop'], out: ['--help']},
    {argv: ['attach', 'web', '--', 'ps'], out: ['attach', 'web', '--', 'ps']},
    {argv: ['-n', 'shop', 'attach', 'web'], out: ['attach', '-n', 'shop', 'web']},
    {argv: ['--context=prod', '--kubeconfig', '/k', 'ls'], out: ['ls', '--context=prod', '--kubeconfig', '/k']},
    {argv: ['--namespace', 'shop', 'attach', 'web', '--', 'ps', '-n', 'x'], out: ['attach', '--namespace', 'shop', 'web', '--', 'ps', '-n', 'x']},
    {argv: ['attach', 'web', '-n', 'shop'], out: ['attach', 'web', '-n', 'shop']},
    {argv: ['--help'], out: ['--help']},
  ])('$argv', ({argv, out}) => {
    expect(invocation('kubectl', argv, {})).toEqual({argv: out, env: {MINDBG_RUNTIME: 'kubernetes'}})
  })

  it('MINDBG_RUNTIME=kubernetes makes a bare name a pod; other syntaxes keep their meaning', () => {
    const runtime = defaultRuntime({MINDBG_RUNTIME: 'kubernetes'})
    expect(parseTarget('web', runtime)).toEqual({runtime: 'kubernetes', pod: 'web'})
    expect(parseTarget('docker://web', runtime)).toEqual({runtime: 'docker', ref: 'web'})
    expect(parseTarget('k8s://shop/web/app', runtime)).toEqual({runtime: 'kubernetes', pod: 'web', namespace: 'shop', container: 'app'})
    expect(defaultRuntime({})).toBe('docker')
    expect(() => defaultRuntime({MINDBG_RUNTIME: 'podman'})).toThrow(/MINDBG_RUNTIME="podman" is not a runtime/)
  })
})

describe('docker mindbg: the docker CLI passes its global options before the plugin name', () => {
  it.each([
    {argv: ['mindbg', 'attach', 'web'], env: {}, out: ['attach', 'web'], changes: {}},
    {argv: ['--host', 'unix:///x.sock', 'mindbg', 'ls'], env: {}, out: ['ls'], changes: {DOCKER_HOST: 'unix:///x.sock'}},
    {argv: ['-H=tcp://h:2375', 'mindbg', 'ls'], env: {}, out: ['ls'], changes: {DOCKER_HOST: 'tcp://h:2375'}},
    {argv: ['-Hunix:///y.sock', '--tlsverify=false', 'mindbg', 'ls'], env: {}, out: ['ls'], changes: {DOCKER_HOST: 'unix:///y.sock'}},
    {argv: ['--context', 'prod', 'mindbg', 'ls'], env: {DOCKER_HOST: 'unix:///x.sock'}, out: ['ls'], changes: {DOCKER_CONTEXT: 'prod', DOCKER_HOST: undefined}},
    {argv: ['-c', 'default', 'mindbg', 'ls'], env: {}, out: ['ls'], changes: {DOCKER_CONTEXT: 'default'}},
    {argv: ['--config', '/dc', '-D', '-l', 'debug', 'mindbg', 'attach', '-c', 'app', 'pod/web'], env: {}, out: ['attach', '-c', 'app', 'pod/web'], changes: {DOCKER_CONFIG: '/dc', DEBUG: '1'}},
    {argv: ['--tlsverify', '--tlscacert', '/t/ca.pem', '--tlscert=/t/cert.pem', '--tlskey', '/t/key.pem', 'mindbg', 'ls'], env: {}, out: ['ls'], changes: {DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/t'}},
    {argv: ['attach', 'web'], env: {}, out: ['attach', 'web'], changes: {}},
  ])('$argv', ({argv, env, out, changes}) => {
    expect(invocation('docker', argv, env)).toEqual({argv: out, env: changes})
  })

  it.each([
    {argv: ['--host', 'unix:///x', '--context', 'c', 'mindbg'], error: /cannot specify both --host and --context/},
    {argv: ['--tlscacert', '/a/ca.pem', '--tlskey', '/b/key.pem', 'mindbg'], error: /from one directory/},
    {argv: ['--tlscacert', '/a/my-ca.pem', 'mindbg'], error: /a file called ca\.pem/},
    {argv: ['--host'], error: /--host needs a value/},
    {argv: ['--nope', 'mindbg'], error: /--nope is not understood/},
  ])('$argv: usage error', ({argv, error}) => {
    expect(() => invocation('docker', argv, {})).toThrow(error)
  })
})

describe('--env-file as docker reads it', () => {
  it('KEY=VALUE verbatim, comments and blank lines skipped, a bare KEY copied or left out', () => {
    const text = '\uFEFF# a comment\n\nA=1\n  B=two words \nC="quoted"\nD=\nE=x=y\nHOME_COPY\nUNSET_ONE\r\nF=crlf\r\n'
    expect(parseEnvFile(text, 'f.env', {HOME_COPY: '/home/me'})).toEqual(['A=1', 'B=two words ', 'C="quoted"', 'D=', 'E=x=y', 'HOME_COPY=/home/me', 'F=crlf'])
  })

  it.each([
    {text: 'A B=1', error: /f\.env, line 1: variable "A B" contains whitespace/},
    {text: 'A=1\n=2', error: /f\.env, line 2: no variable name/},
  ])('$text: usage error with the line', ({text, error}) => {
    expect(() => parseEnvFile(text, 'f.env', {})).toThrow(error)
  })

  it('files in order, then -e, which wins; a missing file is a usage error naming it', () => {
    const dir = tmp()
    writeFileSync(join(dir, 'a.env'), 'A=file\nB=file\n')
    writeFileSync(join(dir, 'b.env'), 'B=second\nC=second\n')
    const request = debuggerRequest({flags: {'env-file': [join(dir, 'a.env'), join(dir, 'b.env')], env: ['C=flag', 'D=flag']}, env: {}, command: []})
    expect(request.env).toEqual(['A=file', 'B=second', 'C=flag', 'D=flag'])
    expect(() => debuggerRequest({flags: {'env-file': [join(dir, 'none.env')]}, env: {}, command: []})).toThrow(new RegExp(`cannot read --env-file ${join(dir, 'none.env')} \\(ENOENT\\)`))
  })
})

describe('-c/--target-container and --target (kubectl debug) are one setting', () => {
  it.each([
    {flags: {'target-container': 'app'}, container: 'app'},
    {flags: {target: 'app'}, container: 'app'},
    {flags: {target: 'app', 'target-container': 'app'}, container: 'app'},
    {flags: {}, container: undefined},
  ])('$flags', ({flags, container}) => {
    expect(targetContainer(flags)).toBe(container)
    expect(kubeFlagsInto({runtime: 'kubernetes', pod: 'web'}, flags)).toEqual({runtime: 'kubernetes', pod: 'web', ...(container ? {container} : {})})
  })

  it('two different containers: usage error', () => {
    expect(() => targetContainer({target: 'a', 'target-container': 'b'})).toThrow(/--target-container b and --target a name different containers/)
    expect(() => kubeFlagsInto({runtime: 'kubernetes', pod: 'web', container: 'a'}, {target: 'b'})).toThrow(/the target names container a but -c\/--target says b/)
  })

  it('node/NAME: -n is where its debugger pod goes; -c names nothing there', () => {
    expect(kubeFlagsInto({runtime: 'kubernetes', node: 'w1'}, {namespace: 'ops'})).toEqual({runtime: 'kubernetes', node: 'w1', namespace: 'ops'})
    expect(kubeFlagsInto({runtime: 'kubernetes', node: 'w1'}, {})).toEqual({runtime: 'kubernetes', node: 'w1'})
    expect(() => kubeFlagsInto({runtime: 'kubernetes', node: 'w1'}, {'target-container': 'app'})).toThrow(/node\/w1 is a node/)
  })
})

describe('mindbg install docker-plugin: a link in $DOCKER_CONFIG/cli-plugins', () => {
  const setup = (): {env: NodeJS.ProcessEnv; plugin: string; link: string} => {
    const dir = tmp()
    const plugin = join(dir, 'docker-mindbg.js')
    writeFileSync(plugin, '#!/bin/sh\n')
    return {env: {DOCKER_CONFIG: join(dir, 'docker')}, plugin, link: join(dir, 'docker', 'cli-plugins', 'docker-mindbg')}
  }

  it('installs, then changes nothing; uninstalls, then changes nothing', () => {
    const {env, plugin, link} = setup()
    const run = (uninstall = false) => linkDockerPlugin({plugin, env, force: false, uninstall}).change
    expect(run()).toBe('installed')
    expect(readlinkSync(link)).toBe(plugin)
    expect(run()).toBe('already installed')
    expect(run(true)).toBe('removed')
    expect(() => lstatSync(link)).toThrow()
    expect(run(true)).toBe('not installed')
  })

  it('something else there: refused with a hint, replaced or removed with --force', () => {
    const {env, plugin, link} = setup()
    mkdirSync(join(link, '..'), {recursive: true})
    symlinkSync('/usr/bin/true', link)
    for (const uninstall of [false, true]) {
      expect(() => linkDockerPlugin({plugin, env, force: false, uninstall})).toThrow(/exists and is not mindbg's plugin \(a link to \/usr\/bin\/true\)/)
    }
    expect(readlinkSync(link)).toBe('/usr/bin/true')
    expect(linkDockerPlugin({plugin, env, force: true, uninstall: false}).change).toBe('replaced')
    expect(readlinkSync(link)).toBe(plugin)
    writeFileSync(join(link, '..', 'other'), '')
    expect(linkDockerPlugin({plugin, env, force: true, uninstall: true}).change).toBe('removed')
  })
})

describe('MINDBG_RUNTIME=kubernetes (kubectl mindbg) for the commands of many targets', () => {
  it('run: bare names and -l are pods; cp: a bare source is a pod', async () => {
    const {planRun, parseCopySource} = await import('../../src/cli/run-plan.js')
    const runbook = {name: 'rb', description: '', steps: [{name: 's', kind: 'run' as const, command: ['true'], timeoutMs: 1000}]}
    const plan = planRun({runbook, targets: ['web'], flags: {selector: ['app=web']}, env: {MINDBG_RUNTIME: 'kubernetes'}, config: {path: undefined, siblings: []}})
    expect(plan.refs).toEqual([{runtime: 'kubernetes', pod: 'web'}])
    expect(plan.selectors).toMatchObject([{runtime: 'kubernetes', labels: 'app=web'}])
    expect(parseCopySource('web:/etc', 'kubernetes').target).toEqual({runtime: 'kubernetes', pod: 'web'})
  })
})
