/**
 * Shell completion as a user gets it: the real bash, zsh and fish load `mindbg completion SHELL` and ask the built
 * CLI (`mindbg __complete`) at the cursor; the candidates come from the real Docker engine and from the Kubernetes
 * simulator; the real kubectl runs kubectl_complete-mindbg for `kubectl mindbg <TAB>`.
 */
import {execFile, execFileSync} from 'node:child_process'
import {existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync} from 'node:fs'
import net from 'node:net'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {SOURCE_BUDGET_MS} from '../../src/cli/completion/sources.js'
import {kubeconfigText} from '../support/kube-sim/kubeconfig.ts'
import {startKubeSim, type KubeSim} from '../support/kube-sim/server.ts'
import {KUBECTL, kubectlWith} from '../support/kubectl.js'
import {PtySession} from '../support/pty.js'
import {BIN, eventually, removeTargets, requireEngine, ROOT, startTarget} from './helpers.js'

const dir = mkdtempSync(join(tmpdir(), 'mindbg-completion-'))
const binDir = join(dir, 'bin')
const kubeconfig = join(dir, 'admin.kubeconfig')
const stagingConfig = join(dir, 'staging.kubeconfig')
const hungConfig = join(dir, 'hung.kubeconfig')
let sim: KubeSim
let target = ''
let hung: net.Server
let hungPort = 0
let hungConnections = 0

interface Run {
  stdout: string
  stderr: string
  code: number | null
  ms: number
}

/**
 * Any program with the PATH a user who installed mindbg has (mindbg, kubectl_complete-mindbg) and the simulator's
 * kubeconfig. The sources get more time than a TAB's budget: a busy CI machine must not turn a check of the
 * candidates into a check of its load (the budget itself is checked below, with engines that never answer).
 */
function userEnv(env: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const fullEnv: NodeJS.ProcessEnv = {...process.env, PATH: `${binDir}:${dirname(process.execPath)}:${process.env.PATH}`, KUBECONFIG: kubeconfig, MINDBG_COMPLETE_TIMEOUT_MS: '10000', ...env}
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete fullEnv[k]
  return fullEnv
}

function run(command: string, args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  const fullEnv = userEnv(env)
  const started = Date.now()
  return new Promise((resolve) => {
    execFile(command, args, {env: fullEnv, encoding: 'utf8', timeout: 30_000}, (error, stdout, stderr) => {
      resolve({stdout, stderr, code: error ? ((error as {code?: number}).code ?? null) : 0, ms: Date.now() - started})
    })
  })
}

/** The words bash gives a completion function for `line`: split at blanks, and at ":" and "=" (COMP_WORDBREAKS). */
function bashWords(line: string): string[] {
  const words = line.split(/\s+/).flatMap((w) => w.split(/([:=]+)/).filter((part) => part !== ''))
  return /\s$/.test(line) || line === '' ? [...words, ''] : words
}

/** What bash offers with the cursor at the end of `line`: COMPREPLY after the script's completion function ran. */
async function bash(line: string, env: Record<string, string | undefined> = {}): Promise<{reply: string[]; stderr: string}> {
  const script = 'source <(mindbg completion bash); COMP_LINE=$1; COMP_POINT=${#1}; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); __mindbg_complete; printf "%s\\n" "${COMPREPLY[@]}"'
  const r = await run('bash', ['--norc', '-c', script, 'bash', line, ...bashWords(line)], env)
  expect(r.code, r.stderr).toBe(0)
  return {reply: r.stdout.split('\n').filter(Boolean), stderr: r.stderr}
}

/** `mindbg __complete WORDS`: the candidates (value, TAB, description) and the directive line. */
async function completeWords(words: string[], env: Record<string, string | undefined> = {}): Promise<Run & {values: string[]; directive: string}> {
  const r = await run('mindbg', ['__complete', ...words], env)
  const lines = r.stdout.split('\n').filter(Boolean)
  return {...r, values: lines.slice(0, -1).map((l) => l.split('\t')[0]!), directive: lines.at(-1) ?? ''}
}

const manifest = (): {commands: Record<string, {hidden?: boolean; flags: Record<string, {char?: string; hidden?: boolean}>}>} =>
  JSON.parse(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8'))

beforeAll(async () => {
  requireEngine()
  mkdirSync(binDir)
  symlinkSync(BIN, join(binDir, 'mindbg'))
  symlinkSync(join(ROOT, 'bin/kubectl_complete-mindbg'), join(binDir, 'kubectl_complete-mindbg'))
  // kubectl offers a plugin's completion only for a plugin it finds on PATH (it never runs it to complete).
  const plugin = join(ROOT, 'bin/kubectl-mindbg')
  symlinkSync(existsSync(plugin) ? plugin : BIN, join(binDir, 'kubectl-mindbg'))
  target = startTarget()
  sim = await startKubeSim({namespaces: ['staging']})
  sim.writeKubeconfig(kubeconfig)
  sim.writeKubeconfig(stagingConfig, {namespace: 'staging'})
  await kubectlWith(kubeconfig, 'apply', '-f', join(ROOT, 'test/fixtures/k8s/web.yaml'))
  const api = join(dir, 'api.yaml')
  writeFileSync(api, readFileSync(join(ROOT, 'test/fixtures/k8s/web.yaml'), 'utf8').replace('name: web', 'name: api-0'))
  await kubectlWith(kubeconfig, 'apply', '-n', 'staging', '-f', api)
  // An API server that accepts connections and never says a word.
  hung = net.createServer(() => hungConnections++)
  await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve))
  hungPort = (hung.address() as net.AddressInfo).port
  writeFileSync(hungConfig, kubeconfigText({server: `https://127.0.0.1:${hungPort}`, caPem: sim.caPem, user: 'admin', token: sim.token(), namespace: 'default'}))
  await eventually('the pods to run', async () => (await kubectlWith(kubeconfig, 'get', 'pods', '-A', '-o', 'jsonpath={.items[*].status.phase}')) === 'Running Running', 30_000)
})

afterAll(async () => {
  removeTargets()
  hung?.close()
  await sim?.close()
})

/** Completes the lines at once (none depends on another: it keeps the file fast), then checks every reply. */
async function expectReplies(cases: Array<[string, string[]]>, env: Record<string, string | undefined> = {}): Promise<void> {
  const got = await Promise.all(cases.map(([line]) => bash(line, env)))
  expect(got.map((g, i) => [cases[i]![0], g.reply])).toEqual(cases)
}

describe('bash', () => {
  it('completes command names from the commands mindbg has, and leaves hidden ones out', async () => {
    const commands = Object.entries(manifest().commands).filter(([, c]) => !c.hidden).map(([id]) => id).sort()
    await expectReplies([['mindbg ', commands], ['mindbg at', ['attach']], ['mindbg __', []]])
  })

  it("completes every flag of the command, long and short, as the command's definition has them", async () => {
    const [{reply}] = await Promise.all([bash('mindbg cp -'), expectReplies([['mindbg attach --pro', ['--profile']], ['mindbg attach --no-t', ['--no-tty']]])])
    const flags = Object.entries(manifest().commands.cp!.flags).filter(([, f]) => !f.hidden)
    for (const [name, f] of flags) {
      expect(reply).toContain(`--${name}`)
      if (f.char) expect(reply).toContain(`-${f.char}`)
    }
    expect(reply).toContain('--help')
  })

  it('completes the values a flag takes, after a blank or after "=", and the built-in runbooks', async () => {
    await expectReplies([
      ['mindbg attach --pull ', ['always', 'missing', 'never']],
      // bash replaces only what follows "=": the reply is the value alone.
      ['mindbg attach --profile=net', ['netadmin']],
      ['mindbg completion ', ['bash', 'fish', 'zsh']],
      ['mindbg run tr', ['triage']],
    ])
  })

  it('completes the running Docker containers, and "NAME:" for cp', async () => {
    const [attach, run] = await Promise.all([bash(`mindbg attach ${target.slice(0, -1)}`), bash(`mindbg run triage ${target.slice(0, -1)}`)])
    expect(attach.reply).toContain(target)
    expect(run.reply).toContain(target)
    await expectReplies([
      [`mindbg attach docker://${target}`, [`//${target}`]],
      // bash splits at ":": what it replaces is the last piece.
      [`mindbg cp ${target}`, [`${target}:`]],
      [`mindbg cp ${target}:`, []],
    ])
  })

  it('asks the engine of the docker context in use (DOCKER_CONTEXT, or currentContext), as the docker CLI would', async () => {
    const config = join(dir, 'docker-config')
    execFileSync('docker', ['context', 'create', 'live', '--docker', 'host=unix:///var/run/docker.sock'], {env: {...process.env, DOCKER_CONFIG: config}, stdio: 'ignore'})
    execFileSync('docker', ['context', 'create', 'dead', '--docker', 'host=unix:///nonexistent.sock'], {env: {...process.env, DOCKER_CONFIG: config}, stdio: 'ignore'})
    const env = (context: string): Record<string, string | undefined> => ({DOCKER_CONFIG: config, DOCKER_CONTEXT: context, DOCKER_HOST: undefined})
    expect((await completeWords(['attach', target.slice(0, -1)], env('live'))).values).toContain(target)
    const dead = await completeWords(['attach', target.slice(0, -1)], env('dead'))
    expect(dead.values).not.toContain(target)
    expect(dead.stderr).toBe('')
  })

  it("completes pod/NAME in the context's namespace, then the pod's containers", async () => {
    await expectReplies([
      ['mindbg attach pod/we', ['pod/web']],
      ['mindbg attach pod/', ['pod/web']],
      ['mindbg attach pod/web/', ['pod/web/app']],
      ['mindbg cp pod/w', ['pod/web:']],
      ['mindbg attach k8s://staging/', ['//staging/api-0']],
      ['mindbg attach k8s://', ['//default/', '//staging/']],
      ['mindbg attach pod/web -c ', ['app']],
      ['mindbg attach node/', ['node/kube-sim']],
    ])
  })

  it('honours -n, --context and --kubeconfig typed before', async () => {
    await expectReplies([
      ['mindbg attach -n staging pod/', ['pod/api-0']],
      ['mindbg attach --namespace=staging pod/', ['pod/api-0']],
      ['mindbg attach --context admin@kube-sim pod/', ['pod/web']],
      ['mindbg attach --context nowhere pod/', []],
      ['mindbg attach -n ', ['default', 'staging']],
      ['mindbg attach --context ', ['admin@kube-sim']],
    ])
    await expectReplies([[`mindbg attach --kubeconfig ${stagingConfig} pod/`, ['pod/api-0']]], {KUBECONFIG: undefined})
  })

  it('offers nothing, says nothing and exits 0 when the Docker engine is not there', async () => {
    const r = await completeWords(['attach', ''], {DOCKER_HOST: 'unix:///nonexistent', KUBECONFIG: join(dir, 'none')})
    expect([r.stdout, r.stderr, r.code]).toEqual([':4\n', '', 0])
    expect(await bash('mindbg attach ', {DOCKER_HOST: 'unix:///nonexistent', KUBECONFIG: join(dir, 'none')})).toEqual({reply: [], stderr: ''})
  })

  it('gives up on an engine and an API server that never answer within the budget, quietly', async () => {
    const budget = {MINDBG_COMPLETE_TIMEOUT_MS: undefined}
    const before = hungConnections
    const kube = await completeWords(['attach', 'pod/'], {...budget, KUBECONFIG: hungConfig})
    const docker = await completeWords(['attach', ''], {...budget, DOCKER_HOST: `tcp://127.0.0.1:${hungPort}`, KUBECONFIG: join(dir, 'none')})
    for (const r of [kube, docker]) {
      expect([r.stdout, r.stderr, r.code]).toEqual([':4\n', '', 0])
      // The budget plus Node's start-up on a busy machine; without the budget this would wait for ever.
      expect(r.ms).toBeLessThan(SOURCE_BUDGET_MS + 1500)
    }
    expect(hungConnections - before).toBe(2)
    expect(await bash('mindbg attach pod/', {...budget, KUBECONFIG: hungConfig})).toEqual({reply: [], stderr: ''})
  })
})

describe('an interactive bash on a terminal', () => {
  it('completes at TAB what readline itself split at ":" (cp NAME:, k8s://NS/POD)', async () => {
    const rc = join(dir, 'bashrc')
    writeFileSync(rc, 'PS1="$ "\nsource <(mindbg completion bash)\n')
    const term = new PtySession('bash', ['--rcfile', rc, '-i'], userEnv())
    try {
      await term.expect(/\$ $/)
      // TAB completes the line; Ctrl-A and "echo " then print it as completed.
      term.send(`mindbg cp ${target.slice(0, -1)}\t`)
      await term.expect(new RegExp(`${target}:`))
      term.send('\x01echo \r')
      // What echo prints starts a line (after bash's bracketed-paste switch, if any); the typed line has "echo " first.
      await term.expect(new RegExp(`\rmindbg cp ${target}:\r\n`))
      term.send('mindbg attach k8s://staging/a\t')
      await term.expect(/api-0 /)
      term.send('\x01echo \r')
      await term.expect(/\rmindbg attach k8s:\/\/staging\/api-0\r\n/)
    } finally {
      term.send('exit\r')
      await term.exited
    }
  })
})

describe('zsh and fish', () => {
  it('zsh: the script loads and offers candidates with descriptions (compsys calls stood in for)', async () => {
    // Outside a completion widget, _describe and compdef are not there: these print what they are given.
    const script = [
      'compdef() { print -r -- "compdef $*" }',
      '_describe() { print -rl -- "${candidates[@]}" "options: ${(j: :)@[5,-1]}" }',
      '_files() { print -r -- FILES }',
      'source <(mindbg completion zsh)',
      'words=(mindbg attach "$1"); CURRENT=3; PREFIX=$1; _mindbg',
      'words=(mindbg cp "$2"); CURRENT=3; PREFIX=$2; _mindbg',
      "words=(mindbg attach --record ''); CURRENT=4; PREFIX=; _mindbg",
    ].join('\n')
    const r = await run('zsh', ['-f', '-c', script, 'zsh', 'pod/we', target])
    expect(r.stderr).toBe('')
    expect(r.stdout.split('\n')).toEqual([
      'compdef _mindbg mindbg',
      'pod/web:Running',
      'options: ',
      // ":" is escaped for _describe, and cp's "NAME:" goes on without a space.
      expect.stringMatching(new RegExp(`^${target}\\\\::mindbg-fixture/distroless-web:local \\(Up .*\\)$`)),
      "options: -S ",
      'FILES',
      '',
    ])
  })

  it('fish: the script loads and complete -C offers candidates with descriptions', async () => {
    const r = await run('fish', ['-N', '-c', 'mindbg completion fish | source; complete -C "mindbg att"; complete -C "mindbg attach pod/we"; complete -C "mindbg attach --pul"'])
    expect(r.stderr).toBe('')
    expect(r.stdout.split('\n')).toEqual([
      expect.stringMatching(/^attach\tOpen a shell/),
      'pod/web\tRunning',
      expect.stringMatching(/^--pull\tWhen to pull the debug image/),
      '',
    ])
  })
})

describe('kubectl mindbg <TAB>', () => {
  const kubectl = (...words: string[]): Promise<Run> => run(KUBECTL, ['__complete', 'mindbg', ...words])

  it('runs kubectl_complete-mindbg, where a bare name is a pod of the current namespace', async () => {
    const bare = await kubectl('attach', 'w')
    expect(bare.stdout).toBe('web\tRunning\n:4\n')
    expect((await kubectl('attach', 'web/')).stdout).toBe('web/app\tmindbg-fixture/distroless-web:local\n:4\n')
    // The pods, then the other reference syntaxes (k8s://, node/).
    expect((await kubectl('attach', '-n', 'staging', '')).stdout).toMatch(/^api-0\tRunning\nk8s:\/\/\t.*\nnode\/\t.*\n:6\n$/)
    expect((await kubectl('at')).stdout).toMatch(/^attach\t.*\n:4\n$/)
    expect((await kubectl('attach', '--pro')).stdout).toMatch(/^--profile\t.*\n:4\n$/)
    // kubectl's own report of the directive goes to stderr, which the shell script it serves throws away.
    expect(bare.stderr).toMatch(/ShellCompDirectiveNoFileComp/)
  })
})
