/**
 * What to offer at the cursor, from the words typed so far and the commands' own definitions (oclif's manifest):
 * commands, flags and flag options are never listed here, so a flag added to a command is completed as soon as it
 * is built. What the words mean (a target, a runbook, a namespace) is looked up through `CompletionSources`, which
 * the caller gives: live ones query the engines, tests may give fixed ones. Pure: no I/O of its own.
 */

/** A flag as oclif's manifest describes it (oclif.manifest.json). */
export interface FlagDef {
  name: string
  type: 'boolean' | 'option'
  char?: string
  description?: string
  summary?: string
  options?: string[]
  multiple?: boolean
  allowNo?: boolean
  hidden?: boolean
  aliases?: string[]
  charAliases?: string[]
}

export interface ArgDef {
  name: string
  description?: string
  options?: string[]
}

export interface CommandDef {
  id: string
  summary?: string
  description?: string
  hidden?: boolean
  aliases?: string[]
  strict?: boolean
  flags: Record<string, FlagDef>
  args: Record<string, ArgDef>
}

export interface Candidate {
  value: string
  description?: string
}

/** cobra's ShellCompDirective bits, which kubectl's plugin completion and the shell scripts read. */
export const Directive = {error: 1, noSpace: 2, noFiles: 4} as const

export interface Completion {
  candidates: Candidate[]
  /** 0: the shell may complete file names when there is no candidate. */
  directive: number
}

/** The Kubernetes connection the words give (-n, --context, --kubeconfig typed earlier on the line). */
export interface KubeScope {
  namespace?: string | undefined
  context?: string | undefined
  kubeconfig?: string | undefined
}

/** Where the dynamic values come from. Each answers [] when its engine is unreachable or too slow. */
export interface CompletionSources {
  containers(): Promise<Candidate[]>
  pods(scope: KubeScope): Promise<Candidate[]>
  podContainers(scope: KubeScope, pod: string): Promise<Candidate[]>
  /** The cluster's nodes (node/NAME: a debugger in the node's host namespaces). */
  nodes(scope: KubeScope): Promise<Candidate[]>
  namespaces(scope: KubeScope): Promise<Candidate[]>
  contexts(scope: KubeScope): Promise<Candidate[]>
  runbooks(): Candidate[]
  hasKubeconfig(scope: KubeScope): boolean
}

/** `mindbg`: a bare name is a Docker container; `kubectl mindbg`: a bare name is a pod of the current namespace. */
export type CompletionMode = 'mindbg' | 'kubectl'

export interface CompletionInput {
  /** The words after the program's name; the last one is the word at the cursor (possibly empty). */
  words: string[]
  commands: CommandDef[]
  sources: CompletionSources
  mode: CompletionMode
  /** The flags oclif itself answers (package.json's oclif.additionalHelpFlags / additionalVersionFlags too). */
  helpFlags: string[]
  versionFlags: string[]
}

/** What a positional argument holds, by the argument's name; an argument not named here is a local path. */
const ARG_KINDS: Record<string, 'target' | 'copySource' | 'runbook'> = {target: 'target', source: 'copySource', runbook: 'runbook'}
/** Commands whose words after their declared arguments are more targets (for the others: a command to run). */
const REST_IS_TARGETS = new Set(['run'])
/** Flags whose values are looked up, by flag name (aliases resolve to it). */
const DYNAMIC_FLAG_VALUES = new Set(['namespace', 'context', 'target-container'])
const KUBE_SCHEMES = ['k8s://', 'kubernetes://']
const POD_PREFIXES = ['pod/', 'pods/']
const NODE_PREFIXES = ['node/', 'nodes/']

export async function complete(input: CompletionInput): Promise<Completion> {
  const words = input.words.length > 0 ? input.words : ['']
  const current = words.at(-1)!
  const before = words.slice(0, -1)
  const visible = input.commands.filter((c) => !c.hidden)
  const found = findCommand(visible, before)
  const result = found ? await completeCommand(found.command, before.slice(found.length), current, input) : rootCandidates(visible, before, current, input)
  return finish(result, current)
}

/** The longest command id (oclif topics are ids with ":", typed as separate words) that the first words spell. */
function findCommand(commands: CommandDef[], words: string[]): {command: CommandDef; length: number} | undefined {
  let best: {command: CommandDef; length: number} | undefined
  for (let length = 1; length <= words.length && !words[length - 1]!.startsWith('-'); length++) {
    const id = words.slice(0, length).join(':')
    const command = commands.find((c) => c.id === id || c.aliases?.includes(id))
    if (command) best = {command, length}
  }
  return best
}

function rootCandidates(commands: CommandDef[], before: string[], current: string, {helpFlags, versionFlags}: CompletionInput): Completion {
  if (current.startsWith('-')) {
    const help = helpFlags.map((value) => ({value, description: 'Show help.'}))
    return {candidates: [...help, ...versionFlags.map((value) => ({value, description: 'Show the version.'}))], directive: Directive.noFiles}
  }
  // Inside a topic ("docker context <TAB>"): the ids under it; at the root: every command's first word.
  const topic = before.filter((w) => !w.startsWith('-'))
  const names = new Map<string, string | undefined>()
  for (const c of commands) {
    for (const id of [c.id, ...(c.aliases ?? [])]) {
      const parts = id.split(':')
      if (parts.length <= topic.length || parts.slice(0, topic.length).join(':') !== topic.join(':')) continue
      const word = parts[topic.length]!
      if (!names.has(word)) names.set(word, parts.length === topic.length + 1 ? c.summary : undefined)
    }
  }
  return {candidates: [...names].map(([value, description]) => withDescription(value, description)), directive: Directive.noFiles}
}

interface ParsedLine {
  positionals: string[]
  /** The values of every option flag given, by flag name. */
  values: Map<string, string[]>
  given: Set<string>
  /** An option flag at the end of the line that still waits for its value. */
  pending: FlagDef | undefined
  afterDashes: boolean
}

class FlagIndex {
  private readonly long = new Map<string, FlagDef>()
  private readonly short = new Map<string, FlagDef>()
  readonly all: FlagDef[]

  constructor(command: CommandDef) {
    this.all = Object.values(command.flags)
    for (const f of this.all) {
      for (const name of [f.name, ...(f.aliases ?? [])]) this.long.set(name, f)
      if (f.allowNo) this.long.set(`no-${f.name}`, f)
      for (const c of [f.char, ...(f.charAliases ?? [])]) if (c) this.short.set(c, f)
    }
  }

  byLong = (name: string): FlagDef | undefined => this.long.get(name)
  byShort = (char: string): FlagDef | undefined => this.short.get(char)
}

function parseLine(flags: FlagIndex, words: string[]): ParsedLine {
  const line: ParsedLine = {positionals: [], values: new Map(), given: new Set(), pending: undefined, afterDashes: false}
  const record = (flag: FlagDef, value: string): void => void line.values.set(flag.name, [...(line.values.get(flag.name) ?? []), value])
  for (const word of words) {
    if (line.pending) {
      record(line.pending, word)
      line.pending = undefined
    } else if (line.afterDashes) {
      line.positionals.push(word)
    } else if (word === '--') {
      line.afterDashes = true
    } else if (word.startsWith('--')) {
      const eq = word.indexOf('=')
      const flag = flags.byLong(word.slice(2, eq < 0 ? undefined : eq))
      if (!flag) continue
      line.given.add(flag.name)
      if (flag.type === 'option') {
        if (eq < 0) line.pending = flag
        else record(flag, word.slice(eq + 1))
      }
    } else if (word.startsWith('-') && word.length > 1) {
      // A cluster of short flags: -it, -nweb (the value glued on), -n web.
      for (let i = 1; i < word.length; i++) {
        const flag = flags.byShort(word[i]!)
        if (!flag) break
        line.given.add(flag.name)
        if (flag.type === 'option') {
          if (i + 1 < word.length) record(flag, word.slice(i + 1))
          else line.pending = flag
          break
        }
      }
    } else {
      line.positionals.push(word)
    }
  }
  return line
}

async function completeCommand(command: CommandDef, words: string[], current: string, input: CompletionInput): Promise<Completion> {
  const flags = new FlagIndex(command)
  const line = parseLine(flags, words)
  const last = (name: string): string | undefined => line.values.get(name)?.at(-1)
  const scope: KubeScope = {namespace: last('namespace'), context: last('context'), kubeconfig: last('kubeconfig')}
  const context: Context = {line, scope, input}
  if (line.pending) return flagValues(line.pending, '', context)
  if (line.afterDashes) return {candidates: [], directive: 0}
  if (current.startsWith('--') && current.includes('=')) {
    const eq = current.indexOf('=')
    const flag = flags.byLong(current.slice(2, eq))
    if (!flag || flag.type !== 'option') return {candidates: [], directive: Directive.noFiles}
    return flagValues(flag, current.slice(0, eq + 1), context)
  }
  if (current.startsWith('-')) {
    const help = input.helpFlags.map((value) => ({value, description: 'Show help.'}))
    return {candidates: [...flagCandidates(flags, line), ...help], directive: Directive.noFiles}
  }
  return positional(command, line.positionals.length, current, context)
}

function flagCandidates(flags: FlagIndex, line: ParsedLine): Candidate[] {
  const candidates: Candidate[] = []
  for (const f of flags.all) {
    if (f.hidden || (line.given.has(f.name) && !f.multiple)) continue
    const description = f.summary ?? f.description
    candidates.push(withDescription(`--${f.name}`, description))
    if (f.char) candidates.push(withDescription(`-${f.char}`, description))
    if (f.allowNo) candidates.push(withDescription(`--no-${f.name}`, description))
  }
  return candidates
}

/** What the rest of the line says, for completing the word at the cursor. */
interface Context {
  line: ParsedLine
  scope: KubeScope
  input: CompletionInput
}

async function flagValues(flag: FlagDef, prefix: string, {line, scope, input}: Context): Promise<Completion> {
  const prefixed = (candidates: Candidate[]): Candidate[] => candidates.map((c) => ({...c, value: prefix + c.value}))
  if (flag.options) return {candidates: prefixed(flag.options.map((value) => ({value}))), directive: Directive.noFiles}
  if (!DYNAMIC_FLAG_VALUES.has(flag.name)) return {candidates: [], directive: flag.type === 'option' ? 0 : Directive.noFiles}
  const {sources} = input
  if (flag.name === 'namespace') return {candidates: prefixed(await sources.namespaces(scope)), directive: Directive.noFiles}
  if (flag.name === 'context') return {candidates: prefixed(await sources.contexts(scope)), directive: Directive.noFiles}
  // -c/--target-container: the containers of the pod named by the target typed before it.
  const pod = line.positionals.map((w) => podOf(w, input.mode)).find((p) => p !== undefined)
  const candidates = pod ? await sources.podContainers({...scope, namespace: pod.namespace ?? scope.namespace}, pod.name) : []
  return {candidates: prefixed(candidates), directive: Directive.noFiles}
}

/** The pod a target word names, if it names one. */
function podOf(word: string, mode: CompletionMode): {name: string; namespace?: string} | undefined {
  for (const scheme of KUBE_SCHEMES) {
    if (word.startsWith(scheme)) {
      const [namespace, name] = word.slice(scheme.length).split('/')
      return namespace && name ? {name, namespace} : undefined
    }
  }
  const kind = POD_PREFIXES.find((p) => word.startsWith(p))
  if (kind) return word.slice(kind.length).split('/')[0] ? {name: word.slice(kind.length).split('/')[0]!} : undefined
  if (mode === 'kubectl' && !word.includes('://') && word) return {name: word.split('/')[0]!}
  return undefined
}

async function positional(command: CommandDef, index: number, current: string, context: Context): Promise<Completion> {
  const declared = Object.values(command.args)
  const arg = declared[index]
  if (arg?.options) return {candidates: arg.options.map((value) => ({value})), directive: Directive.noFiles}
  const kind = arg ? ARG_KINDS[arg.name] : REST_IS_TARGETS.has(command.id) ? 'target' : undefined
  if (kind === 'target') return targets(current, '', context)
  if (kind === 'copySource') return copySource(current, context)
  if (kind === 'runbook') return runbooks(current, context.input.sources)
  return {candidates: [], directive: 0}
}

/** Built-in runbook names; a word that looks like a path (or matches none) is left to the shell's file completion. */
function runbooks(current: string, sources: CompletionSources): Completion {
  const matching = sources.runbooks().filter((r) => r.value.startsWith(current))
  if (current.includes('/') || matching.length === 0) return {candidates: [], directive: 0}
  return {candidates: matching, directive: 0}
}

/** cp's TARGET:/PATH: the target, then ":"; the path inside the target is not completed (that needs a debugger). */
function copySource(current: string, context: Context): Promise<Completion> | Completion {
  const scheme = ['docker://', ...KUBE_SCHEMES].find((s) => current.startsWith(s)) ?? ''
  if (current.slice(scheme.length).includes(':')) return {candidates: [], directive: Directive.noFiles}
  return targets(current, ':', context)
}

async function targets(current: string, suffix: string, {scope, input}: Context): Promise<Completion> {
  const {sources, mode} = input
  const named = (prefix: string, candidates: Candidate[], end = suffix): Candidate[] => candidates.map((c) => ({...c, value: `${prefix}${c.value}${end}`}))
  const scheme = KUBE_SCHEMES.find((s) => current.startsWith(s))
  if (scheme) {
    const [namespace = '', pod, container] = current.slice(scheme.length).split('/')
    if (pod === undefined) return {candidates: named(scheme, await sources.namespaces(scope), '/'), directive: Directive.noFiles}
    const inNamespace = {...scope, namespace}
    if (container === undefined) return {candidates: named(`${scheme}${namespace}/`, await sources.pods(inNamespace)), directive: Directive.noFiles}
    return {candidates: named(`${scheme}${namespace}/${pod}/`, await sources.podContainers(inNamespace, pod)), directive: Directive.noFiles}
  }
  const node = NODE_PREFIXES.find((p) => current.startsWith(p))
  if (node) return {candidates: current.slice(node.length).includes('/') ? [] : named(node, await sources.nodes(scope)), directive: Directive.noFiles}
  const kind = POD_PREFIXES.find((p) => current.startsWith(p)) ?? (mode === 'kubectl' ? '' : undefined)
  if (kind !== undefined) {
    const [pod = '', container] = current.slice(kind.length).split('/')
    const found = container === undefined ? named(kind, await sources.pods(scope)) : named(`${kind}${pod}/`, await sources.podContainers(scope, pod))
    return {candidates: kind === '' && container === undefined ? [...found, ...kubeHints(mode)] : found, directive: Directive.noFiles}
  }
  if (current.startsWith('docker://')) return {candidates: named('docker://', await sources.containers()), directive: Directive.noFiles}
  const containers = named('', await sources.containers())
  return {candidates: sources.hasKubeconfig(scope) ? [...containers, ...kubeHints(mode)] : containers, directive: Directive.noFiles}
}

/** Where to go on for a pod: offered next to the bare names. */
function kubeHints(mode: CompletionMode): Candidate[] {
  const hints = [
    {value: 'k8s://', description: 'a pod in a namespace: k8s://NAMESPACE/POD[/CONTAINER]'},
    {value: 'node/', description: "a node: node/NAME (its host's processes, network and filesystem)"},
  ]
  return mode === 'kubectl' ? hints : [{value: 'pod/', description: 'a pod in the current namespace: pod/NAME[/CONTAINER]'}, ...hints]
}

/** Only what starts with the word typed, once each; no space after a word that goes on (pod/, web:, k8s://ns/). */
function finish(result: Completion, current: string): Completion {
  const seen = new Set<string>()
  const candidates = result.candidates.filter((c) => c.value.startsWith(current) && !seen.has(c.value) && seen.add(c.value))
  candidates.sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : 0))
  const goesOn = candidates.some((c) => /[/:=]$/.test(c.value))
  return {candidates, directive: result.directive | (goesOn ? Directive.noSpace : 0)}
}

function withDescription(value: string, description: string | undefined): Candidate {
  const line = description?.split('\n')[0]?.trim()
  return line ? {value, description: line} : {value}
}

/** cobra's __complete output: one candidate a line (TAB, then its description), then ":DIRECTIVE". */
export function formatCompletion({candidates, directive}: Completion): string {
  const clean = (s: string): string => s.replace(/[\t\r\n]+/g, ' ')
  const lines = candidates.map((c) => (c.description ? `${clean(c.value)}\t${clean(c.description)}` : clean(c.value)))
  return [...lines, `:${directive}`].join('\n') + '\n'
}
