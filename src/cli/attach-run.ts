import {fstatSync} from 'node:fs'

import type {PlanReport} from '../backends/backend.js'
import {usageError} from '../domain/errors.js'
import {attach, planReport} from '../session/attach.js'
import {attachRecord, auditLogPath} from '../session/audit.js'
import {openCast} from '../session/cast.js'
import {planAttach} from './attach-plan.js'
import {recordSession} from './audit.js'
import {loadConfig} from './config.js'
import {formatDryRun} from './dry-run.js'
import type {AttachFlags} from './flag-table.js'
import {processIO, stopOnSignals} from './process-io.js'
import {createReporter} from './progress.js'
import {terminalSize} from './terminal.js'

/** A pipe, a socket or a file on fd 0 brings input; /dev/null, a closed stdin or a terminal does not (as data). */
function stdinHasData(): boolean {
  try {
    const stat = fstatSync(0)
    return stat.isFIFO() || stat.isSocket() || stat.isFile()
  } catch {
    return false
  }
}

/** `mindbg attach` once its words are parsed: what the oclif command and the fast path of bin/run.js both run. */
export interface AttachCall {
  targetArg: string | undefined
  command: string[]
  flags: AttachFlags & {quiet?: boolean | undefined}
  version: string
  /** --json with --dry-run: the report is returned, not printed. */
  json: boolean
}

/**
 * Plans, runs and records one attach; the exit code to end with (the command's own), or the dry run's report.
 * Errors are thrown, for the caller's one place that prints them.
 */
export async function performAttach(call: AttachCall): Promise<{exitCode: number; report?: PlanReport}> {
  const {flags} = call
  if (call.json && !flags['dry-run']) throw usageError('--json goes with --dry-run', "A session streams the command's own output; use --dry-run --json to see the plan as JSON.")
  const config = await loadConfig(process.env)
  const plan = planAttach({
    config,
    targetArg: call.targetArg,
    command: call.command,
    flags,
    env: process.env,
    stdinIsTTY: Boolean(process.stdin.isTTY),
    stdinHasData: stdinHasData(),
    stdoutIsTTY: Boolean(process.stdout.isTTY),
    terminalSize: terminalSize(process.stdout),
  })
  const context = {version: call.version, configPath: config.path, reporter: createReporter({quiet: Boolean(flags.quiet)})}
  if (plan.kind === 'new' && plan.dryRun) {
    const report = await planReport(plan, context)
    if (!call.json) process.stdout.write(`${formatDryRun(report)}\n`)
    return {exitCode: 0, report}
  }
  const stop = new AbortController()
  const unsubscribe = stopOnSignals(stop)
  if (flags['record-input'] && flags.record === undefined) throw usageError('--record-input goes with --record FILE.cast')
  const cast = flags.record === undefined ? undefined : openCast(flags.record, {size: terminalSize(process.stdout), title: `mindbg attach ${call.targetArg ?? flags.session ?? ''}`.trim(), input: Boolean(flags['record-input'])})
  const io = {...processIO(), record: cast?.record}
  const started = Date.now()
  const auditLog = auditLogPath(process.env, config.auditLog)
  let result
  try {
    result = await attach(plan, io, {...context, signal: stop.signal})
  } catch (error) {
    recordSession(auditLog, attachRecord(plan, started, {error}))
    throw error
  } finally {
    unsubscribe()
    io.release()
    cast?.close()
  }
  recordSession(auditLog, attachRecord(plan, started, {result}))
  if (result.error) throw result.error
  if (plan.kind === 'new' && plan.request.serve && result.ending === 'detached' && result.debugger) {
    // The name is the data (NAME=$(mindbg attach web -d)); how to use it is a notice.
    const name = result.debugger.name
    process.stdout.write(`${name}\n`)
    context.reporter.notice(
      `mindbg: ${name} serves commands next to ${result.target?.name ?? 'its target'} for ${flags.ttl ?? '1h'} at most\n` +
        `Run:  mindbg attach --session ${name} -- COMMAND...\nEnd:  mindbg attach --session ${name} --end`,
    )
  } else if (plan.kind === 'reattach' && plan.end && result.debugger) context.reporter.notice(`mindbg: ${result.debugger.name} ended`)
  return {exitCode: result.exitCode}
}
