import type {Backend, Debugger, PlanContext, PlanReport, StandIn} from '../backends/backend.js'
import {type BackendOptions, connectBackend} from '../backends/registry.js'
import {MindbgError, StoppedBeforeStart, usageError} from '../domain/errors.js'
import type {Reporter} from '../domain/reporter.js'
import type {DebuggerRequest, StreamMode} from '../domain/request.js'
import type {SessionResult} from '../domain/session.js'
import {requireRunning, type Runtime, type Target, type TargetRef} from '../domain/target.js'
import {runSession, type SessionIO, type SessionOptions, unlessStopped} from './lifecycle.js'
import {runServed, serveRequest, startDetached} from './serve.js'

/** What `attach` was asked for, already validated (src/cli/attach-plan.ts makes it from flags). */
export type AttachRequest =
  | {kind: 'new'; target: TargetRef; request: DebuggerRequest; streams: StreamMode; reuse: boolean; backend: BackendOptions}
  | {
      kind: 'reattach'
      runtime: Runtime
      target: TargetRef | undefined
      session: string
      streams: StreamMode
      backend: BackendOptions
      /** Run this in the debugger (none: get back into its shell). */
      command: string[]
      /** End the debugger instead (--end). */
      end: boolean
    }

export interface AttachContext extends PlanContext {
  reporter: Reporter
  /** Aborted (with a StopRequest) to end the session early. */
  signal?: AbortSignal | undefined
}

/**
 * `mindbg attach`, for any runtime: resolve the target, hold it to the policy (running, not a debugger), plan and
 * create a debugger next to it, or find one left running, then run the session. The backend is picked from the
 * reference's syntax and loaded only then.
 */
export async function attach(what: AttachRequest, io: SessionIO, context: AttachContext): Promise<SessionResult> {
  const runtime = what.kind === 'new' ? what.target.runtime : what.runtime
  const requested = Date.now()
  try {
    return await attachUnlessStopped(what, io, context, runtime)
  } catch (error) {
    if (!(error instanceof StoppedBeforeStart)) throw error
    // Nothing was made yet (a debugger's making listens to the signal itself): nothing to end, only to exit.
    return {exitCode: error.exitCode, ending: 'stopped', runtime, target: undefined, debugger: undefined, timings: {requested, created: undefined, started: undefined, ended: Date.now()}}
  }
}

async function attachUnlessStopped(what: AttachRequest, io: SessionIO, context: AttachContext, runtime: Runtime): Promise<SessionResult> {
  const early = <T>(work: Promise<T>): Promise<T> => unlessStopped(work, context.signal)
  const backend = await early(connectBackend(runtime, what.backend))
  const options = {runtime, reporter: context.reporter, signal: context.signal}
  try {
    if (what.kind === 'reattach') {
      const target = what.target === undefined ? undefined : await early(resolveOne(backend, what.target))
      const found = await early(backend.find({name: what.session, target}, what.streams))
      if (!found) throw new MindbgError('sessionNotFound', `session ${what.session}: not found`, 'List live debuggers with: mindbg ls')
      if (what.end) return await endDebugger(found, runtime)
      return await runIn(found, what.command, what.streams, io, options)
    }
    backend.prefetch?.(what.request)
    const target = await early(resolveOne(backend, what.target))
    if (what.reuse && target.state === 'running') {
      requireRunning(target)
      const found = await early(backend.find({target}, what.streams))
      if (found) return await runIn(found, what.request.command, what.streams, io, options)
      context.reporter.notice(`mindbg: no running mindbg debugger to reuse next to this target; ${what.request.command.length > 0 ? 'running the command in a new one' : 'adding one'}`)
    }
    if (what.request.serve) {
      // A stand-in lives as long as its session: a debugger left serving needs a target that runs by itself.
      requireRunning(target)
      const plan = await early(backend.plan(target, what.request, what.streams, context))
      return await startDetached((signal) => backend.create(plan, context.reporter, signal), options)
    }
    if (what.request.copy) {
      // A copy is made whatever state the original is in (a crash loop is the reason for one).
      refuseDebugger(target)
      const plan = await early(backend.plan(target, what.request, what.streams, context))
      return await runSession((signal) => backend.create(plan, context.reporter, signal), io, options)
    }
    return await withStandIn(backend, target, what.request, context, async (joined) => {
      const plan = await early(backend.plan(joined, what.request, what.streams, context))
      return runSession((signal) => backend.create(plan, context.reporter, signal), io, options)
    })
  } finally {
    backend.close()
  }
}

/**
 * A command in a debugger left running: through its step server when it serves one and the command needs neither
 * input nor a terminal (the fast path: an attach, no process made by the runtime), else through the runtime's exec;
 * no command: its shell, or a new shell by exec in a serving debugger.
 */
function runIn(found: Debugger, command: string[], streams: StreamMode, io: SessionIO, options: SessionOptions): Promise<SessionResult> {
  if (found.serves && found.serve && command.length > 0 && !streams.stdin && !streams.tty && serveRequest('0'.repeat(32), command, 0) !== undefined) {
    return runServed(found, command, io, options)
  }
  if (command.length === 0 && !found.serves) return runSession(async () => found, io, options)
  if (!found.exec) throw new MindbgError('sessionNotFound', `${found.name} cannot run a command (this runtime cannot exec into it)`, `Get back into its shell: mindbg attach --session ${found.name}`)
  const exec = found.exec(command.length > 0 ? command : ['sh'], streams)
  // The debugger stays as it was found (a detached shell keeps running): this session's end is only the exec's,
  // so whatever would remove the debugger with the session (its watchdog) lets go of it.
  found.leave()
  return runSession(async () => exec, io, options)
}

/** --end: the debugger runs no more (Docker: removed). */
async function endDebugger(found: Debugger, runtime: Runtime): Promise<SessionResult> {
  const now = Date.now()
  await found.end()
  return {
    exitCode: 0,
    ending: 'exit',
    runtime,
    target: found.target ? {name: found.target.name, id: found.target.id} : undefined,
    debugger: {name: found.name, image: found.image},
    timings: {requested: now, created: undefined, started: undefined, ended: Date.now()},
  }
}

/** --dry-run: the plan's report, nothing created. */
export async function planReport(what: Extract<AttachRequest, {kind: 'new'}>, context: PlanContext): Promise<PlanReport> {
  const backend = await connectBackend(what.target.runtime, what.backend)
  try {
    backend.prefetch?.(what.request)
    const target = await resolveOne(backend, what.target)
    // Nothing is created for a dry run, a stand-in neither: what would be planned next to the target is shown.
    if (what.request.copy) refuseDebugger(target)
    else if (!takesStandIn(backend, target)) requireRunning(target)
    return (await backend.plan(target, what.request, what.streams, context)).report
  } finally {
    backend.close()
  }
}

/**
 * Runs `use` next to the target if it runs, else next to a running stand-in the backend makes for it (a snapshot, an
 * image's container), removed afterwards whatever happens; a backend that makes none refuses, as before.
 */
export async function withStandIn<R>(backend: Backend, target: Target, request: DebuggerRequest, context: AttachContext, use: (target: Target) => Promise<R>): Promise<R> {
  const standIn = await standInIfNeeded(backend, target, request, context.reporter, context.signal)
  try {
    return await use(standIn?.target ?? target)
  } finally {
    await standIn?.end()
  }
}

/**
 * The policy for a target that is not running: a stand-in when the backend can make one (its notice said), else the
 * refusal of requireRunning; undefined for a running target. A debugger as target is refused either way.
 */
export async function standInIfNeeded(backend: Backend, target: Target, request: DebuggerRequest, reporter: Reporter, signal: AbortSignal | undefined): Promise<StandIn | undefined> {
  if (!takesStandIn(backend, target)) {
    requireRunning(target)
    return undefined
  }
  const standIn = await backend.standIn!(target, request, reporter, signal ?? new AbortController().signal)
  reporter.notice(standIn.notice)
  return standIn
}

/** A paused target is there, frozen: refused with how to unpause it, not snapshotted behind the user's back. */
function takesStandIn(backend: Backend, target: Target): boolean {
  return (target.state === 'stopped' || target.state === 'restarting') && !target.isDebugger && backend.standIn !== undefined
}

/** A debugger is never a target, in whatever state it is. */
function refuseDebugger(target: Target): void {
  if (target.isDebugger) requireRunning({...target, state: 'running'})
}

/** A reference that must name exactly one target. */
export async function resolveOne(backend: Backend, ref: TargetRef): Promise<Target> {
  const targets = await backend.resolve(ref)
  if (targets.length !== 1) throw usageError(`the reference names ${targets.length} targets where one is needed`)
  return targets[0]!
}
