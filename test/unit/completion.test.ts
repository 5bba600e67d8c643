import {describe, expect, it} from 'vitest'

import {type Candidate, type CommandDef, complete, type CompletionMode, type CompletionSources, Directive, formatCompletion, type KubeScope} from '../../src/cli/completion/engine.js'
import {withinBudget} from '../../src/cli/completion/sources.js'
import {ATTACH_FLAGS, CP_FLAGS} from '../../src/cli/flag-table.js'

/** A command as oclif's manifest has it, from one of mindbg's flag tables. */
function command(id: string, flags: Record<string, {kind: string; char?: string; options?: readonly string[]; description: string; allowNo?: true; multiple?: true}>, extra: Partial<CommandDef> = {}): CommandDef {
  const defs = Object.fromEntries(
    Object.entries(flags).map(([name, f]) => [
      name,
      {name, type: f.kind === 'boolean' ? 'boolean' : 'option', description: f.description, ...(f.char ? {char: f.char} : {}), ...(f.options ? {options: [...f.options]} : {}), ...(f.allowNo ? {allowNo: true} : {}), ...(f.multiple ? {multiple: true} : {})},
    ]),
  ) as CommandDef['flags']
  return {id, summary: `${id} things`, flags: defs, args: {}, strict: true, ...extra}
}

const COMMANDS: CommandDef[] = [
  command('attach', ATTACH_FLAGS, {args: {target: {name: 'target'}}, strict: false}),
  command('cp', CP_FLAGS, {args: {source: {name: 'source'}, dest: {name: 'dest'}}}),
  command('run', {list: {kind: 'boolean', description: 'List.'}}, {args: {runbook: {name: 'runbook'}}, strict: false}),
  command('completion', {}, {args: {shell: {name: 'shell', options: ['bash', 'zsh', 'fish']}}}),
  command('docker:context', {}, {summary: 'Docker contexts'}),
  command('secret', {}, {hidden: true}),
]

/** Fixed answers, and every Kubernetes scope asked for. */
function sources(): CompletionSources & {asked: KubeScope[]} {
  const asked: KubeScope[] = []
  const pods: Record<string, Candidate[]> = {default: [{value: 'web', description: 'Running'}, {value: 'worker'}], staging: [{value: 'api-0'}]}
  return {
    asked,
    containers: async () => [{value: 'web-1'}, {value: 'db'}],
    pods: async (scope) => (asked.push(scope), pods[scope.namespace ?? 'default'] ?? []),
    podContainers: async (scope, pod) => (asked.push(scope), pod === 'web' ? [{value: 'app'}, {value: 'proxy'}] : []),
    nodes: async (scope) => (asked.push(scope), [{value: 'worker-1', description: 'Ready'}, {value: 'worker-2', description: 'NotReady'}]),
    namespaces: async () => [{value: 'default'}, {value: 'staging'}],
    contexts: async () => [{value: 'prod'}, {value: 'dev'}],
    runbooks: () => [{value: 'triage', description: 'the usual checks'}],
    hasKubeconfig: () => true,
  }
}

async function at(line: string, mode: CompletionMode = 'mindbg', given = sources()): Promise<{values: string[]; directive: number}> {
  const words = line.split(' ')
  const result = await complete({words, commands: COMMANDS, sources: given, mode, helpFlags: ['--help', '-h'], versionFlags: ['--version']})
  return {values: result.candidates.map((c) => c.value), directive: result.directive}
}

describe('completion: commands and flags from the definitions', () => {
  it('offers the commands (topics by their first word), never a hidden one', async () => {
    expect(await at('')).toEqual({values: ['attach', 'completion', 'cp', 'docker', 'run'], directive: Directive.noFiles})
    expect((await at('docker ')).values).toEqual(['context'])
    expect((await at('se')).values).toEqual([])
    expect((await at('-')).values).toEqual(['--help', '--version', '-h'])
  })

  it("offers every flag of the command, with the flag's description, and the help flags", async () => {
    const result = await complete({words: ['cp', '--pu'], commands: COMMANDS, sources: sources(), mode: 'mindbg', helpFlags: ['--help'], versionFlags: []})
    expect(result.candidates).toEqual([{value: '--pull', description: CP_FLAGS.pull.description}])
    const all = (await at('attach -')).values
    for (const [name, f] of Object.entries(ATTACH_FLAGS)) {
      expect(all).toContain(`--${name}`)
      if ('char' in f) expect(all).toContain(`-${f.char}`)
    }
    expect(all).toEqual(expect.arrayContaining(['--no-tty', '--no-stdin', '--help', '-h']))
  })

  it('leaves out a flag already given, unless it may be repeated', async () => {
    expect((await at('attach --privileged --pri')).values).toEqual([])
    expect((await at('attach --env A=1 --en')).values).toEqual(['--end', '--env', '--env-file'])
  })

  it("offers a flag's options after a blank or after =, and an argument's", async () => {
    expect(await at('attach --pull ')).toEqual({values: ['always', 'missing', 'never'], directive: Directive.noFiles})
    expect((await at('attach --profile=net')).values).toEqual(['--profile=netadmin'])
    expect((await at('completion ')).values).toEqual(['bash', 'fish', 'zsh'])
  })

  it('leaves a free value (a file, a duration) to the shell', async () => {
    expect(await at('attach --record ')).toEqual({values: [], directive: 0})
    expect(await at('cp web:/etc ')).toEqual({values: [], directive: 0})
    expect(await at('attach web -- ')).toEqual({values: [], directive: 0})
  })
})

describe('completion: targets', () => {
  it('offers running containers and where to go on for a pod', async () => {
    expect(await at('attach ')).toEqual({values: ['db', 'k8s://', 'node/', 'pod/', 'web-1'], directive: Directive.noFiles | Directive.noSpace})
    expect(await at('attach w')).toEqual({values: ['web-1'], directive: Directive.noFiles})
    expect((await at('attach docker://')).values).toEqual(['docker://db', 'docker://web-1'])
    expect((await at('run triage --list d')).values).toEqual(['db'])
  })

  it('offers pods and their containers, in the namespace the line names', async () => {
    const given = sources()
    expect((await at('attach pod/w', 'mindbg', given)).values).toEqual(['pod/web', 'pod/worker'])
    expect((await at('attach pod/web/', 'mindbg', given)).values).toEqual(['pod/web/app', 'pod/web/proxy'])
    expect((await at('attach -n staging pod/', 'mindbg', given)).values).toEqual(['pod/api-0'])
    expect((await at('attach -nstaging --context prod --kubeconfig /k pod/', 'mindbg', given)).values).toEqual(['pod/api-0'])
    expect(given.asked.at(-1)).toEqual({namespace: 'staging', context: 'prod', kubeconfig: '/k'})
    expect(await at('attach k8s://', 'mindbg', given)).toEqual({values: ['k8s://default/', 'k8s://staging/'], directive: Directive.noFiles | Directive.noSpace})
    expect((await at('attach k8s://staging/', 'mindbg', given)).values).toEqual(['k8s://staging/api-0'])
    expect((await at('attach k8s://default/web/p', 'mindbg', given)).values).toEqual(['k8s://default/web/proxy'])
    expect((await at('attach pod/web --target-container ', 'mindbg', given)).values).toEqual(['app', 'proxy'])
    expect((await at('attach -n ', 'mindbg', given)).values).toEqual(['default', 'staging'])
    expect((await at('attach --context=d', 'mindbg', given)).values).toEqual(['--context=dev'])
  })

  it('offers nodes after node/ (and nodes/), with the scope typed before', async () => {
    const given = sources()
    expect(await at('attach node/', 'mindbg', given)).toEqual({values: ['node/worker-1', 'node/worker-2'], directive: Directive.noFiles})
    expect((await at('attach --context prod nodes/worker-2', 'kubectl', given)).values).toEqual(['nodes/worker-2'])
    expect(given.asked.at(-1)).toEqual({context: 'prod'})
    expect((await at('attach node/worker-1/', 'mindbg', given)).values).toEqual([])
    expect((await at('cp node/w', 'mindbg', given)).values).toEqual(['node/worker-1:', 'node/worker-2:'])
    expect((await at('attach n', 'kubectl', given)).values).toEqual(['node/'])
  })

  it('as a kubectl plugin, a bare name is a pod', async () => {
    expect((await at('attach w', 'kubectl')).values).toEqual(['web', 'worker'])
    expect((await at('attach web/a', 'kubectl')).values).toEqual(['web/app'])
    expect((await at('attach web --target-container ', 'kubectl')).values).toEqual(['app', 'proxy'])
  })

  it('cp: TARGET then ":", nothing once the path inside has begun', async () => {
    expect(await at('cp w')).toEqual({values: ['web-1:'], directive: Directive.noFiles | Directive.noSpace})
    expect((await at('cp pod/web/a')).values).toEqual(['pod/web/app:'])
    expect(await at('cp web-1:')).toEqual({values: [], directive: Directive.noFiles})
    expect(await at('cp k8s://default/web:/e')).toEqual({values: [], directive: Directive.noFiles})
  })

  it('run: the built-in runbooks, or a file', async () => {
    expect((await at('run t')).values).toEqual(['triage'])
    expect(await at('run ./')).toEqual({values: [], directive: 0})
  })
})

describe('completion: output and budget', () => {
  it("prints cobra's format: value TAB description, then :directive", () => {
    expect(formatCompletion({candidates: [{value: 'web', description: 'Running\tnow'}, {value: 'db'}], directive: 6})).toBe('web\tRunning now\ndb\n:6\n')
  })

  it('gives up on a source that does not answer in time, and on one that fails, with no candidates', async () => {
    const errors: unknown[] = []
    let aborted = false
    const started = Date.now()
    const never = (signal: AbortSignal): Promise<Candidate[]> => new Promise(() => signal.addEventListener('abort', () => (aborted = true)))
    expect(await withinBudget(never, 50, (e) => errors.push(e))).toEqual([])
    expect(Date.now() - started).toBeLessThan(1000)
    expect(aborted).toBe(true)
    expect(await withinBudget(() => Promise.reject(new Error('ECONNREFUSED')), 50, (e) => errors.push(e))).toEqual([])
    expect(errors.map((e) => (e as Error).message)).toEqual(['no answer within 50 ms', 'ECONNREFUSED'])
    expect(await withinBudget(async () => [{value: 'web'}], 50, (e) => errors.push(e))).toEqual([{value: 'web'}])
  })
})
