import {createHash} from 'node:crypto'
import {readFileSync} from 'node:fs'

import {deps} from '../deps.js'
import {parseDuration} from '../domain/duration.js'
import {firstLine, MindbgError} from '../domain/errors.js'
import {type Profile, PROFILES} from '../domain/profiles.js'

/**
 * A runbook: the same checks on many targets, in one debugger per target (issue 10). Read from YAML, validated on
 * load: every error names the file, the line and the key, as a person would look for it.
 */
export interface Runbook {
  name: string
  description: string | undefined
  image: string | undefined
  sibling: boolean
  profile: Profile | undefined
  /** Per step, unless the step sets its own. */
  timeoutMs: number
  steps: RunbookStep[]
  /** Where it came from: a file, or "built-in". */
  source: string
  /** The runbook as written (the file's bytes), and their sha256: what the bundle's manifest records. */
  text: string
  sha256: string
}

export type RunbookStep =
  | {name: string; kind: 'run'; argv: string[]; shell: boolean; timeoutMs: number}
  | {name: string; kind: 'collect'; path: string; timeoutMs: number}

export const DEFAULT_STEP_TIMEOUT_MS = 30_000

const TOP_KEYS = ['name', 'description', 'image', 'sibling', 'profile', 'timeout', 'steps'] as const
const STEP_KEYS = ['name', 'run', 'collect', 'timeout'] as const
/** A step's name becomes a file name in the bundle (TARGET/STEP.stdout). */
const STEP_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

/** A runbook error: exit 2, with where it is. */
function runbookError(source: string, line: number | undefined, message: string, hint?: string): MindbgError {
  return new MindbgError('usage', `runbook ${source}${line !== undefined ? `, line ${line}` : ''}: ${message}`, hint ?? 'See the runbook format in the README (Incident response).')
}

/** Reads a runbook file, or a built-in one by name (`triage`). */
export async function loadRunbook(nameOrPath: string): Promise<Runbook> {
  const builtIn = BUILT_IN[nameOrPath]
  if (builtIn !== undefined && !nameOrPath.includes('/') && !/\.ya?ml$/.test(nameOrPath)) return parseRunbook(builtIn, 'built-in', nameOrPath)
  let text: string
  try {
    text = readFileSync(nameOrPath, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw new MindbgError(
      'usage',
      `runbook ${nameOrPath}: ${code === 'ENOENT' ? 'no such file' : firstLine((error as Error).message)}`,
      `Give a YAML file, or a built-in runbook: ${Object.keys(BUILT_IN).join(', ')} (mindbg run --list).`,
    )
  }
  return parseRunbook(text, nameOrPath)
}

/** Parses and validates a runbook's text; `source` names it in errors. */
export async function parseRunbook(text: string, source: string, defaultName?: string): Promise<Runbook> {
  const {parseDocument, LineCounter, isMap, isSeq, isScalar} = await deps.yaml()
  const lines = new LineCounter()
  const doc = parseDocument(text, {lineCounter: lines, prettyErrors: false, uniqueKeys: true})
  const lineOf = (offset: number | undefined): number | undefined => (offset === undefined ? undefined : lines.linePos(offset).line)
  const [syntax] = doc.errors
  if (syntax) throw runbookError(source, lineOf(syntax.pos[0]), `not valid YAML: ${firstLine(syntax.message)}`)

  type Node = {range?: [number, number, number] | null | undefined}
  const fail = (node: unknown, key: string, message: string, hint?: string): never => {
    throw runbookError(source, lineOf((node as Node | null)?.range?.[0] ?? undefined), `${key}: ${message}`, hint)
  }
  const root = doc.contents
  if (!isMap(root)) throw runbookError(source, 1, 'the top level must be a mapping (name, steps, ...)')

  const fields = new Map<string, {key: unknown; value: unknown}>()
  for (const pair of root.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : ''
    if (!(TOP_KEYS as readonly string[]).includes(key)) fail(pair.key, key || '(key)', 'unknown key', `Known keys: ${TOP_KEYS.join(', ')}.`)
    fields.set(key, {key: pair.key, value: pair.value})
  }
  const scalar = (name: string): {node: unknown; value: unknown} | undefined => {
    const field = fields.get(name)
    if (!field) return undefined
    if (!isScalar(field.value)) fail(field.value ?? field.key, name, 'must be a single value')
    return {node: field.value, value: (field.value as {value: unknown}).value}
  }
  const text1 = (name: string): string | undefined => {
    const field = scalar(name)
    if (!field) return undefined
    if (typeof field.value !== 'string' || !field.value.trim()) fail(field.node, name, 'must be a non-empty string')
    return (field.value as string).trim()
  }
  const duration = (node: unknown, key: string, value: unknown): number => {
    if (typeof value === 'number' && value > 0) return value * 1000
    if (typeof value !== 'string') fail(node, key, 'must be a duration such as 20s or 2m')
    try {
      return parseDuration(value as string, key)
    } catch {
      return fail(node, key, `"${String(value)}" is not a duration`, 'Use a duration such as 20s, 2m or 1m30s.')
    }
  }

  const name = text1('name') ?? defaultName ?? source.replace(/^.*\//, '').replace(/\.ya?ml$/, '')
  const description = text1('description')
  const image = text1('image')
  const siblingField = scalar('sibling')
  if (siblingField && typeof siblingField.value !== 'boolean') fail(siblingField.node, 'sibling', 'must be true or false')
  const sibling = siblingField?.value === true
  if (image !== undefined && sibling) fail(fields.get('sibling')!.key, 'sibling', 'cannot be set together with image')
  const profileText = text1('profile')
  if (profileText !== undefined && !(PROFILES as readonly string[]).includes(profileText)) {
    fail(fields.get('profile')!.value, 'profile', `unknown profile "${profileText}"`, `Profiles: ${PROFILES.join(', ')}.`)
  }
  const timeoutField = scalar('timeout')
  const timeoutMs = timeoutField ? duration(timeoutField.node, 'timeout', timeoutField.value) : DEFAULT_STEP_TIMEOUT_MS

  const stepsField = fields.get('steps')
  if (!stepsField) throw runbookError(source, undefined, 'steps: missing', 'A runbook needs at least one step (run: or collect:).')
  if (!isSeq(stepsField.value) || stepsField.value.items.length === 0) fail(stepsField.value ?? stepsField.key, 'steps', 'must be a non-empty list of steps')
  const steps: RunbookStep[] = []
  const seen = new Set<string>()
  for (const [index, item] of (stepsField.value as {items: unknown[]}).items.entries()) {
    const at = `steps[${index}]`
    if (!isMap(item)) fail(item, at, 'must be a mapping with name and run (or collect)')
    const step = new Map<string, {key: unknown; value: unknown}>()
    for (const pair of (item as {items: Array<{key: unknown; value: unknown}>}).items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : ''
      if (!(STEP_KEYS as readonly string[]).includes(key)) fail(pair.key, `${at}.${key || '(key)'}`, 'unknown key', `A step has: ${STEP_KEYS.join(', ')}.`)
      step.set(key, pair)
    }
    const nameField = step.get('name')
    const stepName = isScalar(nameField?.value) ? nameField.value.value : undefined
    if (typeof stepName !== 'string' || !STEP_NAME.test(stepName)) {
      fail(nameField?.value ?? item, `${at}.name`, nameField ? `"${String(stepName)}" is not a step name` : 'missing', 'Step names are 1-64 letters, digits, dots, dashes or underscores (they name files in the bundle).')
    }
    if (seen.has(stepName as string)) fail(nameField!.value, `${at}.name`, `"${String(stepName)}" is used twice`)
    seen.add(stepName as string)
    const label = `steps[${index}] (${String(stepName)})`
    const stepTimeout = step.get('timeout')
    const stepTimeoutMs = stepTimeout ? duration(stepTimeout.value, `${label}.timeout`, isScalar(stepTimeout.value) ? stepTimeout.value.value : undefined) : timeoutMs
    const run = step.get('run')
    const collect = step.get('collect')
    if (run && collect) fail(collect.key, label, 'has both run and collect', 'One step does one thing: split it in two.')
    if (run) {
      const value = run.value
      if (isScalar(value) && typeof value.value === 'string' && value.value.trim()) {
        steps.push({name: stepName as string, kind: 'run', argv: ['sh', '-c', value.value], shell: true, timeoutMs: stepTimeoutMs})
      } else if (isSeq(value) && value.items.length > 0 && value.items.every((w) => isScalar(w) && ['string', 'number'].includes(typeof w.value))) {
        steps.push({name: stepName as string, kind: 'run', argv: value.items.map((w) => String((w as {value: unknown}).value)), shell: false, timeoutMs: stepTimeoutMs})
      } else fail(value ?? run.key, `${label}.run`, 'must be a command line (run under sh -c) or a non-empty list of words (argv)')
    } else if (collect) {
      const value = isScalar(collect.value) ? collect.value.value : undefined
      if (typeof value !== 'string' || !value.startsWith('/')) fail(collect.value ?? collect.key, `${label}.collect`, 'must be an absolute path in the target\'s filesystem')
      steps.push({name: stepName as string, kind: 'collect', path: (value as string).replace(/\/+$/, '') || '/', timeoutMs: stepTimeoutMs})
    } else fail(item, label, 'has neither run nor collect')
  }
  return {name, description, image, sibling, profile: profileText as Profile | undefined, timeoutMs, steps, source, text, sha256: createHash('sha256').update(text).digest('hex')}
}

/** The built-in runbooks, by name: what `mindbg run --list` shows. */
export function builtInRunbooks(): Array<{name: string; description: string}> {
  return Object.entries(BUILT_IN).map(([name, text]) => ({name, description: /^description: (.*)$/m.exec(text)?.[1] ?? ''}))
}

/**
 * What an SRE looks at first on a distroless container, from a busybox debugger next to it: the target's own
 * process is $MINDBG_TARGET_PID where a pod shares its PID namespace, else PID 1; its filesystem, /sys and
 * /etc are read through /proc/PID/root (the debugger's own /sys/fs/cgroup is its own cgroup, not the target's).
 * Environment variables: names only, never values.
 */
const TRIAGE = `name: triage
description: processes, sockets, connections, limits, cgroup memory and CPU, mounts, DNS, env names, open files of the target
timeout: 20s
steps:
  - name: processes
    run: |
      # The target's processes: those whose root is the target's (the debugger's own have another); all of them
      # where the target's root cannot be read.
      r=\${MINDBG_TARGET_ROOT:-/proc/\${MINDBG_TARGET_PID:-1}/root}
      [ -e "$r/" ] || r=
      for d in /proc/[0-9]*; do
        [ -r "$d/status" ] || continue
        [ -z "$r" ] || [ "$d/root/" -ef "$r/" ] || continue
        awk -v pid="\${d#/proc/}" '/^Name:/ {n=$2} /^State:/ {s=$2} /^PPid:/ {pp=$2} /^Uid:/ {u=$2} /^Threads:/ {t=$2} /^VmRSS:/ {r=$2} END {printf "%-7s %-7s %-6s %-2s %-8s %-9s %s\\n", pid, pp, u, s, t, r, n}' "$d/status"
      done | sort -n | { printf '%-7s %-7s %-6s %-2s %-8s %-9s %s\\n' PID PPID UID S THREADS RSS_KB NAME; cat; }
      echo
      echo "every process in the PID namespace, the debugger's own included:"
      ps -o pid,ppid,user,stat,rss,vsz,args
  - name: listening
    run: netstat -tuln 2>/dev/null || cat /proc/net/tcp /proc/net/tcp6 /proc/net/udp /proc/net/udp6
  - name: connections
    run: netstat -tun 2>/dev/null || cat /proc/net/tcp /proc/net/tcp6
  - name: pid1-status
    run: cat "/proc/\${MINDBG_TARGET_PID:-1}/status"
  - name: limits
    run: cat "/proc/\${MINDBG_TARGET_PID:-1}/limits"
  - name: cgroup
    run: |
      p=\${MINDBG_TARGET_PID:-1}
      echo "cgroup: $(cat /proc/$p/cgroup)"
      c=/proc/$p/root/sys/fs/cgroup
      for f in memory.max memory.current memory.peak memory.events memory.stat cpu.max cpu.stat cpu.pressure memory.pressure pids.max pids.current \\
               memory/memory.limit_in_bytes memory/memory.usage_in_bytes memory/memory.max_usage_in_bytes memory/memory.failcnt \\
               cpu/cpu.cfs_quota_us cpu/cpu.cfs_period_us cpu/cpu.stat cpuacct/cpuacct.usage pids/pids.max pids/pids.current; do
        [ -r "$c/$f" ] && { echo "== $f"; cat "$c/$f"; }
      done
      true
  - name: mounts
    run: cat "/proc/\${MINDBG_TARGET_PID:-1}/mounts"
  - name: dns
    run: |
      r=/proc/\${MINDBG_TARGET_PID:-1}/root
      for f in /etc/resolv.conf /etc/hosts /etc/nsswitch.conf; do [ -r "$r$f" ] && { echo "== $f"; cat "$r$f"; }; done
      true
  - name: env-names
    run: tr '\\0' '\\n' <"/proc/\${MINDBG_TARGET_PID:-1}/environ" | cut -d= -f1 | sort
  - name: open-files
    run: |
      p=\${MINDBG_TARGET_PID:-1}
      echo "open file descriptors: $(ls "/proc/$p/fd" | wc -l)"
      grep -i 'open files' "/proc/$p/limits"
`

const BUILT_IN: Record<string, string> = {triage: TRIAGE}
