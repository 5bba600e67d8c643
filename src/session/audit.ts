import {closeSync, mkdirSync, openSync, readFileSync, writeSync} from 'node:fs'
import os from 'node:os'
import {dirname, join} from 'node:path'

import {ExitCode, firstLine, MindbgError} from '../domain/errors.js'
import {osAccount, type SessionResult} from '../domain/session.js'
import type {DebuggerRequest} from '../domain/request.js'
import type {Runtime, TargetRef} from '../domain/target.js'
import type {AttachRequest} from './attach.js'

/**
 * The audit log: one JSON line per session (attach, run, cp), appended whatever the outcome, so that who looked at
 * what, when and why can be answered after an incident. Each line is one write(2) on a file opened with O_APPEND:
 * the kernel appends it whole, so mindbg processes writing at once never interleave their lines.
 */
export interface AuditRecord {
  /** When the session ended (ISO 8601, UTC). */
  time: string
  started: string
  durationMs: number
  /** The operating system's account (not $USER), the host, and who ran sudo, if anyone. */
  user: string
  host: string
  sudoUser?: string
  command: 'attach' | 'run' | 'cp'
  runtime: Runtime
  /** As the user named it, and what it resolved to (a container ID, NAMESPACE/POD/CONTAINER). */
  target: string
  targetId?: string
  debugger?: string
  /** The debugger was a run's shared one (run --shared-debugger): privileged, in the host's PID namespace. */
  sharedDebugger?: true
  image?: string
  profile?: string
  reason?: string
  /** The one-shot command, verbatim; absent for a shell. */
  oneShot?: string[]
  runbook?: string
  exitCode: number
  /** How it ended: exit, stopped, output-closed, target-gone, detached, failed. */
  ending: string
  error?: string
}

/** Where the log goes: MINDBG_AUDIT_LOG ("" or "false": none), else the config's auditLog, else the XDG state dir. */
export function auditLogPath(env: NodeJS.ProcessEnv, configured: string | false | undefined): string | undefined {
  const fromEnv = env.MINDBG_AUDIT_LOG
  if (fromEnv !== undefined) return fromEnv === '' || fromEnv === 'false' ? undefined : fromEnv
  if (configured === false) return undefined
  if (configured !== undefined) return configured
  const state = env.XDG_STATE_HOME || join(env.HOME || os.homedir(), '.local', 'state')
  return join(state, 'mindbg', 'audit.jsonl')
}

/** Appends one record; the directory is made private to the user when mindbg creates it. Throws what the OS says. */
export function appendAudit(path: string, record: AuditRecord): void {
  mkdirSync(dirname(path), {recursive: true, mode: 0o700})
  const fd = openSync(path, 'a', 0o600)
  try {
    const line = Buffer.from(`${JSON.stringify(record)}\n`)
    // One write: a short write (a full disk) is an error, not half a line followed by another process's line.
    const written = writeSync(fd, line)
    if (written !== line.length) throw new Error(`only ${written} of ${line.length} bytes written`)
  } finally {
    closeSync(fd)
  }
}

/** The records since `sinceMs` (epoch ms), oldest first; lines that are not records (a cut-off last line) skipped. */
export function readAudit(path: string, sinceMs = 0): {records: AuditRecord[]; skipped: number} {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {records: [], skipped: 0}
    throw error
  }
  const records: AuditRecord[] = []
  let skipped = 0
  for (const line of text.split('\n')) {
    if (!line.trim()) continue
    try {
      const record = JSON.parse(line) as AuditRecord
      if (typeof record.time !== 'string' || typeof record.exitCode !== 'number') throw new Error('not a record')
      if (Date.parse(record.time) >= sinceMs) records.push(record)
    } catch {
      skipped++
    }
  }
  return {records, skipped}
}

/** How a reference reads in the log: as the user would type it. */
export function describeRef(ref: TargetRef): string {
  if (ref.runtime === 'docker') return ref.ref
  if ('node' in ref) return `node/${ref.node}`
  return `pod/${ref.namespace ? `${ref.namespace}/` : ''}${ref.pod}${ref.container ? `/${ref.container}` : ''}`
}

/** The record of one `attach`, from what was asked and how it went (a result, or the error that stopped it). */
export function attachRecord(what: AttachRequest, started: number, outcome: {result: SessionResult} | {error: unknown}): AuditRecord {
  const result = 'result' in outcome ? outcome.result : undefined
  const error = 'error' in outcome ? outcome.error : result?.error
  const request = what.kind === 'new' ? what.request : undefined
  const ended = result?.timings.ended ?? Date.now()
  const target = what.kind === 'new' ? describeRef(what.target) : what.target ? describeRef(what.target) : `session ${what.session}`
  return {
    time: new Date(ended).toISOString(),
    started: new Date(started).toISOString(),
    durationMs: ended - started,
    ...osAccount(),
    command: 'attach',
    runtime: what.kind === 'new' ? what.target.runtime : what.runtime,
    target,
    ...(result?.target ? {targetId: result.target.id} : {}),
    ...(result?.debugger ? {debugger: result.debugger.name, image: result.debugger.image} : request ? {image: request.image} : {}),
    ...(request ? {profile: request.profile} : {}),
    ...(request?.reason ? {reason: request.reason} : {}),
    ...(request && request.command.length > 0 && !request.serve ? {oneShot: request.command} : {}),
    ...(what.kind === 'reattach' && what.command.length > 0 ? {oneShot: what.command} : {}),
    exitCode: result ? result.exitCode : error instanceof MindbgError ? error.exitCode : ExitCode.internal,
    ending: result?.ending ?? 'failed',
    ...(error ? {error: firstLine(error instanceof Error ? error.message : String(error))} : {}),
  }
}

/** The record of one target of a `run` (or a `cp`): its debugger's session, or why there was none. */
export function targetRecord(
  command: 'run' | 'cp',
  what: {ref: string; runtime: Runtime; id: string; debugger?: {name: string; image: string} | undefined; startedAt: string; reason?: string | undefined},
  request: DebuggerRequest,
  outcome: {exitCode: number; ending: string; runbook?: string; path?: string},
): AuditRecord {
  const ended = Date.now()
  return {
    time: new Date(ended).toISOString(),
    started: what.startedAt,
    durationMs: ended - Date.parse(what.startedAt),
    ...osAccount(),
    command,
    runtime: what.runtime,
    target: what.ref,
    ...(what.id ? {targetId: what.id} : {}),
    ...(what.debugger ? {debugger: what.debugger.name, image: what.debugger.image} : {image: request.image}),
    ...(request.shared ? {sharedDebugger: true as const} : {}),
    profile: request.profile,
    ...(request.reason ? {reason: request.reason} : {}),
    ...(outcome.runbook ? {runbook: outcome.runbook} : {}),
    ...(outcome.path ? {oneShot: ['cp', outcome.path]} : {}),
    exitCode: outcome.exitCode,
    ending: outcome.ending,
    ...(what.reason ? {error: what.reason} : {}),
  }
}
