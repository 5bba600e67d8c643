import {ExitCode} from '../domain/errors.js'
import {osAccount} from '../domain/session.js'
import type {Runbook} from './runbook.js'
import type {RunOutcome, StepRecord, TargetRecord, TargetStatus} from './run.js'
import {formatMs} from '../domain/duration.js'

/** What the bundle's manifest.json holds: enough to tell, later, who ran what where, and what came back. */
export interface Manifest {
  mindbg: {version: string}
  user: string
  host: string
  sudoUser?: string
  reason: string | null
  startedAt: string
  endedAt: string
  complete: boolean
  exitCode: number
  runbook: {name: string; source: string; sha256: string; text: string}
  summary: Record<TargetStatus, number>
  targets: Array<Omit<TargetRecord, 'steps'> & {steps: Array<Omit<StepRecord, 'output'> & {stdout?: StreamInfo; stderr?: StreamInfo; files?: unknown}>}>
}

interface StreamInfo {
  file: string
  bytes: number
  sha256: string
}

/** The run's own exit code when it ran to its end but a step failed or timed out, or a target failed (README). */
export const RUN_INCOMPLETE_EXIT = ExitCode.runIncomplete

/** 0: every step on every target exited 0; 121: the run ended but not everything did; a stop keeps its signal's code. */
export function runExitCode(outcome: RunOutcome, stopCode: number | undefined): number {
  if (outcome.incomplete && stopCode !== undefined) return stopCode
  return outcome.targets.every((t) => t.status === 'ok') ? 0 : RUN_INCOMPLETE_EXIT
}

export function summarize(targets: TargetRecord[]): Record<TargetStatus, number> {
  const summary: Record<TargetStatus, number> = {ok: 0, 'steps-failed': 0, failed: 0, stopped: 0}
  for (const t of targets) summary[t.status]++
  return summary
}

export function buildManifest(runbook: Runbook, outcome: RunOutcome, meta: {version: string; reason: string | undefined; exitCode: number}): Manifest {
  const {user, host, sudoUser} = osAccount()
  return {
    mindbg: {version: meta.version},
    user,
    host,
    ...(sudoUser ? {sudoUser} : {}),
    reason: meta.reason ?? null,
    startedAt: outcome.startedAt,
    endedAt: outcome.endedAt,
    complete: !outcome.incomplete,
    exitCode: meta.exitCode,
    runbook: {name: runbook.name, source: runbook.source, sha256: runbook.sha256, text: runbook.text},
    summary: summarize(outcome.targets),
    targets: outcome.targets.map(({steps, ...target}) => ({
      ...target,
      steps: steps.map(({output, ...step}) => ({
        ...step,
        ...(output ? {stdout: streamInfo(output.stdout), stderr: streamInfo(output.stderr)} : {}),
        ...(output?.files ? {files: output.files} : {}),
      })),
    })),
  }
}

const streamInfo = (s: StreamInfo): StreamInfo => ({file: s.file, bytes: s.bytes, sha256: s.sha256})

/** Reads back what a step wrote: at most `limit` bytes of a bundle file, and the file's whole size. */
export type ReadKept = (file: string, limit: number) => {text: string; size: number}

const SHOWN_BYTES = 16 * 1024
const SHOWN_LINES = 200

/**
 * report.md: what a person reads first. A summary table, then each target's steps with their output, long output cut
 * with a pointer to the whole file (which the bundle has; without --bundle, only this report is printed).
 */
export function renderReport(manifest: Manifest, read: ReadKept, options: {filesKept: boolean}): string {
  const out: string[] = []
  const s = manifest.summary
  const total = manifest.targets.length
  out.push(`# Runbook ${manifest.runbook.name}: ${total} target${total === 1 ? '' : 's'}${manifest.complete ? '' : ' (INCOMPLETE: the run was stopped)'}`)
  out.push('')
  out.push(`- Result: ${s.ok} ok, ${s['steps-failed']} with failed steps, ${s.failed} failed, ${s.stopped} stopped; exit code ${manifest.exitCode}`)
  out.push(`- Run by ${manifest.user}@${manifest.host}${manifest.sudoUser ? ` (sudo from ${manifest.sudoUser})` : ''}, mindbg ${manifest.mindbg.version}`)
  out.push(`- From ${manifest.startedAt} to ${manifest.endedAt}`)
  if (manifest.reason) out.push(`- Reason: ${manifest.reason}`)
  out.push(`- Runbook: ${manifest.runbook.source} (sha256 ${manifest.runbook.sha256.slice(0, 16)}…)`)
  out.push('')
  const steps = manifest.targets[0]?.steps.map((step) => step.name) ?? []
  out.push(`| target | runtime | status | ${steps.join(' | ')} |`)
  out.push(`|---|---|---|${steps.map(() => '---').join('|')}|`)
  for (const t of manifest.targets) {
    const cells = t.steps.map((step) => (step.status === 'ok' ? 'ok' : step.status === 'failed' ? `FAILED${step.exitCode === null ? '' : ` (${step.exitCode})`}` : step.status === 'timeout' ? 'TIMEOUT' : '-'))
    out.push(`| ${cell(t.key)} | ${t.runtime} | ${t.status === 'ok' ? 'ok' : t.status.toUpperCase()} | ${cells.join(' | ')} |`)
  }
  for (const t of manifest.targets) {
    out.push('', `## ${t.key}`, '')
    if (t.id) out.push(`${t.name}; ${t.runtime}, ${t.runtime === 'docker' ? 'container' : 'pod UID'} ${t.id}; image ${t.image}${t.imageId ? ` (${t.imageId})` : ''}${t.node ? `; node ${t.node}` : ''}`)
    else out.push(`${t.name}; ${t.runtime}; not found when the run began`)
    if (t.debugger) out.push(`Debugger ${t.debugger.name}, image ${t.debugger.image}.`)
    if (t.reason) out.push('', `**${t.status === 'stopped' ? 'Stopped' : 'Failed'}:** ${t.reason}`)
    for (const step of t.steps) {
      const what = step.kind === 'collect' ? `collect ${step.command[0]}` : step.command[0] === 'sh' && step.command[1] === '-c' ? step.command[2]! : step.command.join(' ')
      const status = step.status === 'ok' ? 'ok' : step.status === 'failed' ? `failed${step.exitCode === null ? '' : `, exit ${step.exitCode}`}` : step.status === 'timeout' ? `timed out after ${formatMs(step.timeoutMs)}` : step.status === 'stopped' ? 'stopped' : 'not run'
      out.push('', `### ${step.name}: ${status}${step.status === 'not-run' ? '' : `, ${formatMs(step.durationMs)}`}`, '')
      out.push(fenced(what.trimEnd(), 'sh'))
      if (step.reason && step.status !== 'ok') out.push('', `Reason: ${step.reason}`)
      if (step.files && typeof step.files === 'object') {
        const f = step.files as {dir: string; files: number; directories: number; bytes: number; skipped: string[]}
        out.push('', `Collected ${f.files} file${f.files === 1 ? '' : 's'} (${f.bytes} bytes) and ${f.directories} director${f.directories === 1 ? 'y' : 'ies'} into \`${f.dir}/\`${f.skipped.length ? `; skipped ${f.skipped.length} (devices, FIFOs, paths outside)` : ''}.`)
      } else if (step.stdout && step.kind === 'run' && step.stdout.bytes > 0) {
        out.push('', shown(read, step.stdout, 'stdout', options.filesKept))
      }
      if (step.stderr && step.stderr.bytes > 0) out.push('', shown(read, step.stderr, 'stderr', options.filesKept))
    }
  }
  return `${out.join('\n')}\n`
}

function shown(read: ReadKept, stream: StreamInfo, label: string, filesKept: boolean): string {
  const {text} = read(stream.file, SHOWN_BYTES)
  const lines = text.split('\n')
  let body = lines.slice(0, SHOWN_LINES).join('\n')
  const cut = lines.length > SHOWN_LINES || stream.bytes > SHOWN_BYTES
  if (cut && lines.length <= SHOWN_LINES) body = body.replace(/\n[^\n]*$/, '') // not half a line
  const more = cut
    ? `\n\n(${label}: ${stream.bytes} bytes, cut here; ${filesKept ? `the whole of it is \`${stream.file}\`` : 'rerun with --bundle PATH to keep all of it'})`
    : ''
  return `${label}:\n\n${fenced(body.replace(/\n$/, ''), 'text')}${more}`
}

/** A code block whose fence is longer than any run of backticks in the text. */
function fenced(text: string, lang: string): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length))
  const fence = '`'.repeat(longest + 1)
  return `${fence}${lang}\n${text.replace(/[\x00-\x08\x0b-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}\n${fence}`
}

const cell = (text: string): string => text.replace(/\|/g, '\\|')
