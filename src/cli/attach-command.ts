import {fstatSync} from 'node:fs'
import {isatty} from 'node:tty'

import type {PlanReport} from '../backends/backend.js'
import {usageError} from '../domain/errors.js'
import {attach, planReport} from '../session/attach.js'
import {attachRecord, auditLogPath} from '../session/audit.js'
import {openCast} from '../session/cast.js'
import {planAttach} from './attach-plan.js'
import {recordSession} from './audit.js'
import {loadConfig} from './config.js'
import {formatDryRun} from './dry-run.js'
import type {AttachFlags, FlagValues, GLOBAL_FLAGS} from './flag-table.js'
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

/** `attach`'s words as parsed: by oclif (commands/attach.ts), or by bin/run.js's fast path (src/cli/fast-attach.ts). */
export interface ParsedAttach {
  target: string | undefined
  /** The positional words (oclif's `argv`). */
  argv: string[]
  /** The words after `attach`, as typed. */
  raw: string[]
  flags: AttachFlags & FlagValues<typeof GLOBAL_FLAGS> & {json?: boolean | undefined}
}

/** What the command needs of its host (oclif's Command, or the fast path's stand-in for it). */
export interface CommandHost {
  version: string
  log(text: string): void
  /** Ends the command with this exit code (throws, as oclif's does). */
  exit(code: number): never
  jsonEnabled(): boolean
}

/** `mindbg attach`, once its words are parsed. */
export async function runAttach({target, argv, raw, flags}: ParsedAttach, host: CommandHost): Promise<PlanReport | void> {
  // After "--" the command is taken verbatim: oclif's argv reorders repeated words (`-- pgrep app` for target app).
  const dashes = raw.indexOf('--')
  const rest = dashes >= 0 ? raw.slice(dashes + 1) : argv.slice(target === undefined ? 0 : 1)
  // `--session S -- CMD`: oclif takes the first word after "--" for the target; it is none.
  if (dashes >= 0 && argv.length === rest.length) target = undefined
  if (dashes >= 0 && argv.length > (target === undefined ? 0 : 1) + rest.length) {
    throw usageError('words between the target and "--" would be dropped', 'The whole command goes after "--": mindbg attach web -- echo a b')
  }
  if (flags.json && !flags['dry-run']) throw usageError('--json goes with --dry-run', "A session streams the command's own output; use --dry-run --json to see the plan as JSON.")
  const config = await loadConfig(process.env)
  const plan = planAttach({
    config,
    targetArg: target,
    command: rest,
    flags,
    env: process.env,
    // isatty, not process.stdin.isTTY: that builds the stdin stream, which a session without input never reads.
    stdinIsTTY: isatty(0),
    stdinHasData: stdinHasData(),
    stdoutIsTTY: Boolean(process.stdout.isTTY),
    terminalSize: terminalSize(process.stdout),
  })
  const context = {version: host.version, configPath: config.path, reporter: createReporter({quiet: Boolean(flags.quiet)})}
  if (plan.kind === 'new' && plan.dryRun) {
    const report = await planReport(plan, context)
    if (!host.jsonEnabled()) host.log(formatDryRun(report))
    return report
  }
  const stop = new AbortController()
  const unsubscribe = stopOnSignals(stop)
  if (flags['record-input'] && flags.record === undefined) throw usageError('--record-input goes with --record FILE.cast')
  const cast = flags.record === undefined ? undefined : openCast(flags.record, {size: terminalSize(process.stdout), title: `mindbg attach ${target ?? flags.session ?? ''}`.trim(), input: Boolean(flags['record-input'])})
  const io = processIO(cast?.record)
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
    host.log(name)
    context.reporter.notice(
      `mindbg: ${name} serves commands next to ${result.target?.name ?? 'its target'} for ${flags.ttl ?? '1h'} at most\n` +
        `Run:  mindbg attach --session ${name} -- COMMAND...\nEnd:  mindbg attach --session ${name} --end`,
    )
  } else if (plan.kind === 'reattach' && plan.end && result.debugger) context.reporter.notice(`mindbg: ${result.debugger.name} ended`)
  if (result.exitCode !== 0) host.exit(result.exitCode)
}
