import type {Backend, PlanContext, StandIn} from '../backends/backend.js'
import {type BackendOptions, connectBackend} from '../backends/registry.js'
import {formatMs} from '../domain/duration.js'
import {firstLine, MindbgError, StoppedBeforeStart, toMindbgError} from '../domain/errors.js'
import type {Reporter} from '../domain/reporter.js'
import type {DebuggerRequest, StreamMode} from '../domain/request.js'
import type {SessionResult, StopRequest} from '../domain/session.js'
import type {Runtime, Target, TargetRef, TargetSelector} from '../domain/target.js'
import type {StepFiles, StepOutputs} from './evidence.js'
import {standInIfNeeded} from './attach.js'
import {runSession, unlessStopped} from './lifecycle.js'
import type {Runbook, RunbookStep} from './runbook.js'
import {STEP_COMMAND, StepChannel} from './steps.js'
import {describeRef} from './audit.js'

/** What `mindbg run` was asked for, validated (src/cli/run-plan.ts makes it from flags). */
export interface RunPlan {
  runbook: Runbook
  refs: TargetRef[]
  selectors: TargetSelector[]
  /** How each debugger is made; its command is the step server's. */
  request: DebuggerRequest
  backend: BackendOptions
  concurrency: number
}

/** `stopped`: it was running when the run was stopped (Ctrl-C, SIGTERM); its output so far is kept. */
export type StepStatus = 'ok' | 'failed' | 'timeout' | 'stopped' | 'not-run'

export interface StepRecord {
  name: string
  kind: RunbookStep['kind']
  /** argv as run, or the collected path. */
  command: string[]
  status: StepStatus
  exitCode: number | null
  durationMs: number
  timeoutMs: number
  output?: StepFiles
  /** Why it failed or did not run, in a line. */
  reason?: string
}

/** ok: every step exited 0; steps-failed: it ran to the end but not all steps did; failed: it could not (all) run. */
export type TargetStatus = 'ok' | 'steps-failed' | 'failed' | 'stopped'

export interface TargetRecord {
  /** Its directory in the bundle. */
  key: string
  name: string
  ref: string
  runtime: Runtime
  id: string
  image: string
  imageId?: string
  node?: string
  debugger?: {name: string; image: string}
  status: TargetStatus
  reason?: string
  startedAt: string
  endedAt: string
  steps: StepRecord[]
}

export type RunEvent =
  | {event: 'run-started'; runbook: string; targets: Array<{key: string; name: string; runtime: Runtime}>; steps: string[]}
  | {event: 'target-started'; target: string; name: string}
  | {event: 'step-started'; target: string; step: string}
  | ({event: 'step-finished'; target: string} & Omit<StepRecord, 'output'> & {stdoutBytes: number; stderrBytes: number})
  | {event: 'target-finished'; target: string; status: TargetStatus; reason?: string; durationMs: number}
  | {event: 'run-finished'; status: 'complete' | 'incomplete'; exitCode: number; durationMs: number; targets: Record<TargetStatus, number>}

export interface RunContext extends PlanContext {
  reporter: Reporter
  /** Aborted (with a StopRequest) to end the run: every debugger is ended, what was collected is kept. */
  signal: AbortSignal
  evidence: StepOutputs
  onEvent(event: RunEvent): void
  /** A target's end, and its debugger's session if it had one: for the audit log. */
  onTarget?(record: TargetRecord, session: SessionResult | undefined): void
}

export interface RunOutcome {
  targets: TargetRecord[]
  /** Stopped before every target had run to its end. */
  incomplete: boolean
  startedAt: string
  endedAt: string
}

/** The step server talks over piped stdin, no terminal. */
const STEP_STREAMS: StreamMode = {stdin: true, tty: false, detachKeys: [], detachKeysSpec: ''}
/** When the debugger keeps no deadline (no init, no timeout(1)): how long after it mindbg gives up on the debugger. */
const OVERRUN_GRACE_MS = 5_000

/** The collect step: the path read through the target's root, as a tar stream (the debugger's tar, not the target's). */
const COLLECT_SCRIPT = [
  'r=${MINDBG_TARGET_ROOT:-/proc/1/root} p=$1',
  'case $p in /) d=/ b=. ;; *) d=${p%/*} b=${p##*/}; d=${d:-/} ;; esac',
  'if ! cd "$r$d" 2>/dev/null || { [ ! -e "$b" ] && [ ! -L "$b" ]; }; then',
  '  printf "mindbg: %s: no such file or directory in the target\\n" "$p" >&2; exit 3',
  'fi',
  'command -v tar >/dev/null 2>&1 || { echo "mindbg: the debug image has no tar, which collect and cp use" >&2; exit 127; }',
  'exec tar -cf - "$b"',
].join('\n')
/** The collect step's exit code for a path that does not exist in the target. */
export const COLLECT_MISSING = 3

export const collectArgv = (path: string): string[] => ['sh', '-c', COLLECT_SCRIPT, 'mindbg-collect', path]

/** A reference that named nothing running, or whose runtime could not be reached: a failed target of the run. */
export interface MissingTarget {
  /** As the user typed it (also what its bundle directory is named after). */
  ref: string
  runtime: Runtime
  error: MindbgError
}

/**
 * The targets of a run: every reference's and every selector's matches, once each. A reference (or selector) that
 * fails does not end the run when something else was found: in an incident the container that crashed and was
 * removed must not cost the evidence of the others, so it is returned as missing and reported as a failed target.
 * When nothing at all was found, the first failure is thrown as it is (its exit code and hint unchanged).
 */
export async function resolveTargets(plan: Pick<RunPlan, 'refs' | 'selectors'>, backends: Backends, signal?: AbortSignal): Promise<{found: Array<{backend: Backend; target: Target}>; missing: MissingTarget[]}> {
  const lookups = [
    ...plan.refs.map((ref) => ({text: describeRef(ref), runtime: ref.runtime, find: (backend: Backend) => backend.resolve(ref)})),
    ...plan.selectors.map((selector) => ({text: `-l ${selector.labels}`, runtime: selector.runtime, find: (backend: Backend) => backend.select(selector)})),
  ]
  const settled = await unlessStopped(
    Promise.allSettled(
      lookups.map(async ({runtime, find}) => {
        const backend = await backends.get(runtime)
        return (await find(backend)).map((target) => ({backend, target}))
      }),
    ),
    signal,
  )
  const seen = new Set<string>()
  const found = settled.flatMap((s) => (s.status === 'fulfilled' ? s.value : [])).filter(({target}) => {
    const key = `${target.runtime}:${target.id}:${target.ref}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
  const missing = settled.flatMap((s, i): MissingTarget[] => (s.status === 'rejected' ? [{ref: lookups[i]!.text, runtime: lookups[i]!.runtime, error: toMindbgError(s.reason)}] : []))
  if (found.length === 0) {
    if (missing[0]) throw missing[0].error
    const searched = plan.selectors.map(describeSelector).join('; ')
    throw new MindbgError('targetNotFound', `no running target matches ${searched || 'the references given'}`, 'List what is there: docker ps --format "{{.Names}} {{.Labels}}", or kubectl get pods --show-labels.')
  }
  return {found, missing}
}

export function describeSelector(s: TargetSelector): string {
  if (s.runtime === 'docker') return `-l ${s.labels} among running Docker containers`
  return `-l ${s.labels} among running pods ${s.allNamespaces ? 'in every namespace' : `in namespace ${s.namespace ?? "of the context"}`}`
}

/** The connected backends of a run, one per runtime, connected on first use and closed together. */
export class Backends {
  private readonly connected = new Map<Runtime, Promise<Backend>>()
  constructor(private readonly options: BackendOptions) {}
  get(runtime: Runtime): Promise<Backend> {
    let backend = this.connected.get(runtime)
    if (!backend) this.connected.set(runtime, (backend = connectBackend(runtime, this.options)))
    return backend
  }
  async close(): Promise<void> {
    for (const backend of this.connected.values()) await (await backend.catch(() => undefined))?.close()
  }
}

/** Bundle directory names: the target's reference, made a file name, unique within the run. */
export function targetKeys(targets: Array<{ref: string}>): string[] {
  const used = new Set<string>()
  return targets.map((t) => {
    const base = t.ref.replace(/^k8s:\/\//, '').replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+/, '') || 'target'
    let key = base
    for (let n = 2; used.has(key); n++) key = `${base}-${n}`
    used.add(key)
    return key
  })
}

/**
 * Runs a runbook over its targets, at most `concurrency` at once: one debugger per target for all of its steps, each
 * step with its own output, exit code, duration and deadline. A target that fails is recorded and the others go on;
 * a stop ends every debugger and leaves the run incomplete with what was collected so far.
 */
export async function runRunbook(plan: RunPlan, targets: Array<{backend: Backend; target: Target}>, context: RunContext, missing: MissingTarget[] = []): Promise<RunOutcome> {
  const startedAt = new Date().toISOString()
  const keys = targetKeys([...targets.map((t) => t.target), ...missing])
  const missingKeys = keys.slice(targets.length)
  context.onEvent({
    event: 'run-started',
    runbook: plan.runbook.name,
    targets: [...targets.map((t, i) => ({key: keys[i]!, name: t.target.name, runtime: t.target.runtime})), ...missing.map((m, i) => ({key: missingKeys[i]!, name: m.ref, runtime: m.runtime}))],
    steps: plan.runbook.steps.map((s) => s.name),
  })
  const notFound = missing.map((m, i) => missingRecord(m, missingKeys[i]!, plan, context))
  const records: TargetRecord[] = new Array(targets.length)
  let next = 0
  const worker = async (): Promise<void> => {
    for (let i = next++; i < targets.length; i = next++) {
      const {backend, target} = targets[i]!
      records[i] = await runTarget(backend, target, keys[i]!, plan, context)
    }
  }
  await Promise.all(Array.from({length: Math.min(plan.concurrency, targets.length)}, worker))
  return {targets: [...records, ...notFound], incomplete: context.signal.aborted, startedAt, endedAt: new Date().toISOString()}
}

/** A reference that named nothing: failed at once, every step not run, the lookup's error as the reason. */
function missingRecord(missing: MissingTarget, key: string, plan: RunPlan, context: RunContext): TargetRecord {
  const now = new Date().toISOString()
  const reason = missing.error.message
  const record: TargetRecord = {
    key, name: missing.ref, ref: missing.ref, runtime: missing.runtime, id: '', image: '', status: 'failed', reason, startedAt: now, endedAt: now,
    steps: plan.runbook.steps.map((step) => ({name: step.name, kind: step.kind, command: stepCommand(step), status: 'not-run', exitCode: null, durationMs: 0, timeoutMs: step.timeoutMs, reason})),
  }
  context.onTarget?.(record, undefined)
  context.onEvent({event: 'target-finished', target: key, status: 'failed', reason, durationMs: 0})
  return record
}

async function runTarget(backend: Backend, target: Target, key: string, plan: RunPlan, context: RunContext): Promise<TargetRecord> {
  const started = Date.now()
  const record: TargetRecord = {
    key,
    name: target.name,
    ref: target.ref,
    runtime: target.runtime,
    id: target.id,
    image: target.image,
    ...(target.imageId ? {imageId: target.imageId} : {}),
    ...(target.node ? {node: target.node} : {}),
    status: 'ok',
    startedAt: new Date(started).toISOString(),
    endedAt: '',
    steps: [],
  }
  const notRun = (from: number, reason: string): void => {
    for (const step of plan.runbook.steps.slice(from)) record.steps.push({name: step.name, kind: step.kind, command: stepCommand(step), status: 'not-run', exitCode: null, durationMs: 0, timeoutMs: step.timeoutMs, reason})
  }
  let result: SessionResult | undefined
  const finish = (status: TargetStatus, reason?: string): TargetRecord => {
    record.status = status
    if (reason) record.reason = reason
    record.endedAt = new Date().toISOString()
    context.onTarget?.(record, result)
    context.onEvent({event: 'target-finished', target: key, status, ...(reason ? {reason} : {}), durationMs: Date.now() - started})
    return record
  }
  if (context.signal.aborted) {
    notRun(0, 'the run was stopped')
    return finish('stopped', 'the run was stopped before this target began')
  }
  context.onEvent({event: 'target-started', target: key, name: target.name})
  const reporter = targetReporter(context.reporter, key)

  let debuggerPlan
  // A target that is not running is run on a stand-in (a snapshot), as attach does; removed once the session is over.
  let standIn: StandIn | undefined
  try {
    standIn = await standInIfNeeded(backend, target, plan.request, reporter, context.signal)
    debuggerPlan = await unlessStopped(backend.plan(standIn?.target ?? target, {...plan.request, command: STEP_COMMAND}, STEP_STREAMS, context), context.signal)
  } catch (error) {
    await standIn?.end()
    if (error instanceof StoppedBeforeStart) {
      notRun(0, 'the run was stopped')
      return finish('stopped', 'the run was stopped before this target began')
    }
    const reason = toMindbgError(error).message
    notRun(0, reason)
    return finish('failed', reason)
  }

  const channel = new StepChannel()
  // This target's own stop: the run's, or a step that overran a debugger that keeps no deadline.
  const stop = new AbortController()
  const forward = (): void => stop.abort(context.signal.reason)
  context.signal.addEventListener('abort', forward, {once: true})
  const session = runSession((signal) => backend.create(debuggerPlan, reporter, signal), channel.io, {runtime: target.runtime, reporter, signal: stop.signal})
  type Ended = {kind: 'session'; result: SessionResult}
  const sessionEnded: Promise<Ended> = session.then((result) => ({kind: 'session', result}))

  let failure: string | undefined
  let stoppedByRun = false
  try {
    for (const [index, step] of plan.runbook.steps.entries()) {
      context.onEvent({event: 'step-started', target: key, step: step.name})
      const output = context.evidence.step(key, step)
      const stepStarted = Date.now()
      let overrun: NodeJS.Timeout | undefined
      const outcome = await Promise.race([
        channel.run(step.kind === 'run' ? step.argv : collectArgv(step.path), step.timeoutMs, output.sinks).then((end) => ({kind: 'end' as const, end})),
        sessionEnded,
        new Promise<{kind: 'overrun'}>((resolve) => (overrun = setTimeout(() => resolve({kind: 'overrun'}), step.timeoutMs + OVERRUN_GRACE_MS))),
      ])
      clearTimeout(overrun)
      const durationMs = Date.now() - stepStarted
      const files = await output.close()
      const base = {name: step.name, kind: step.kind, command: stepCommand(step), durationMs, timeoutMs: step.timeoutMs, output: files}
      let stepRecord: StepRecord
      if (outcome.kind === 'end') {
        const code = outcome.end.exitCode
        const timedOut = (code === 124 || code === 137) && durationMs >= step.timeoutMs - 100
        const status: StepStatus = timedOut ? 'timeout' : code === 0 && !files.error ? 'ok' : 'failed'
        stepRecord = {...base, status, exitCode: code}
        const reason = timedOut ? `killed after ${formatMs(step.timeoutMs)}` : files.error ?? (code === 0 ? undefined : firstLine(files.stderrTail) || undefined)
        if (reason) stepRecord.reason = reason
      } else if (outcome.kind === 'overrun') {
        stepRecord = {...base, status: 'timeout', exitCode: null, reason: `still running ${formatMs(OVERRUN_GRACE_MS)} after its deadline; the debugger was ended`}
        failure = `step ${step.name} could not be stopped inside the debugger (it has neither mindbg-init nor timeout), so the debugger was ended`
        stop.abort({exitCode: 124, ending: 'stopped'} satisfies StopRequest)
      } else {
        stoppedByRun = context.signal.aborted
        failure = stoppedByRun ? 'the run was stopped' : sessionFailure(outcome.result, channel, files.stderrTail)
        stepRecord = {...base, status: stoppedByRun ? 'stopped' : 'failed', exitCode: null, reason: failure}
      }
      record.steps.push(stepRecord)
      const {output: written, ...event} = stepRecord
      context.onEvent({event: 'step-finished', target: key, ...event, stdoutBytes: written?.stdout.bytes ?? 0, stderrBytes: written?.stderr.bytes ?? 0})
      if (failure) {
        notRun(index + 1, failure)
        break
      }
    }
  } finally {
    channel.end()
    context.signal.removeEventListener('abort', forward)
  }
  try {
    result = await session
  } finally {
    await standIn?.end()
  }
  if (result.debugger) record.debugger = result.debugger
  if (!failure && result.exitCode !== 0) failure = sessionFailure(result, channel)
  if (failure) return finish(stoppedByRun || context.signal.aborted ? 'stopped' : 'failed', failure)
  return finish(record.steps.every((s) => s.status === 'ok') ? 'ok' : 'steps-failed')
}

export function stepCommand(step: RunbookStep): string[] {
  return step.kind === 'run' ? step.argv : [step.path]
}

/** Why a target's debugger ended before its steps did, in one line. */
function sessionFailure(result: SessionResult, channel: StepChannel, stepStderr = ''): string {
  if (result.error) return result.error.message
  // What the debugger said as it went: before any step, or into the step that was running.
  const said = (firstLine(channel.stray.stderr) || firstLine(stepStderr)).replace(/^mindbg: /, '')
  if (result.ending === 'exit') return `the debugger ended (exit ${result.exitCode})${said ? `: ${said}` : ''}`
  return `the debugger ended (${result.ending}, exit ${result.exitCode})`
}

/** The backend's notices and pulls, said with the target they are about. */
function targetReporter(reporter: Reporter, key: string): Reporter {
  return {
    notice: (text) => reporter.notice(text.replace(/^mindbg: /, `mindbg: ${key}: `)),
    begin: (text) => reporter.notice(`mindbg: ${key}: ${text}`),
    update: () => {},
    end: (text) => reporter.notice(`mindbg: ${key}: ${text}`),
  }
}


