import type {Runtime} from '../domain/target.js'
import type {StopRequest} from '../domain/session.js'
import {Bundle} from './evidence.js'
import {buildManifest, renderReport, runExitCode, summarize} from './report.js'
import {Backends, resolveTargets, type RunContext, type RunEvent, runRunbook, type RunPlan, stepCommand, targetKeys} from './run.js'
import type {RunbookStep} from './runbook.js'

/** What --dry-run shows: the targets found and the steps each would run, nothing created. */
export interface RunDryRun {
  runbook: string
  targets: Array<{key: string; name: string; ref: string; runtime: Runtime; id: string; image: string; debugImage: string}>
  steps: Array<{name: string; kind: RunbookStep['kind']; command: string[]; timeoutMs: number}>
  /** References that name nothing running: the run would go on without them and report them as failed. */
  missing: Array<{ref: string; runtime: Runtime; reason: string}>
}

export interface RunServiceOptions extends Omit<RunContext, 'evidence' | 'onEvent'> {
  bundle: string | undefined
  dryRun: boolean
  onEvent(event: RunEvent): void
  /** The report, when there is no --bundle to put it in. */
  onReport(report: string): void
}

/**
 * `mindbg run`: resolves the targets, runs the runbook over them and writes the evidence (the bundle, or the report
 * alone). Returns the run's exit code (0, 121, or the stop's), or the dry run's listing.
 */
export async function performRun(plan: RunPlan, options: RunServiceOptions): Promise<{exitCode: number} | RunDryRun> {
  // A bundle path that cannot be used is said before anything is asked of any runtime.
  const bundle = options.dryRun ? undefined : Bundle.open(options.bundle)
  const backends = new Backends(plan.backend)
  try {
    const {found: targets, missing} = await resolveTargets(plan, backends, options.signal)
    if (options.dryRun) {
      const keys = targetKeys(targets.map((t) => t.target))
      return {
        runbook: plan.runbook.name,
        targets: targets.map(({target}, i) => ({key: keys[i]!, name: target.name, ref: target.ref, runtime: target.runtime, id: target.id, image: target.image, debugImage: plan.request.image || '(the target\'s debug twin)'})),
        steps: plan.runbook.steps.map((s) => ({name: s.name, kind: s.kind, command: stepCommand(s), timeoutMs: s.timeoutMs})),
        missing: missing.map((m) => ({ref: m.ref, runtime: m.runtime, reason: m.error.message})),
      }
    }
    const started = Date.now()
    const outcome = await runRunbook(plan, targets, {...options, evidence: bundle!}, missing)
    const stopCode = options.signal.aborted ? (options.signal.reason as Partial<StopRequest> | undefined)?.exitCode ?? 130 : undefined
    const exitCode = runExitCode(outcome, stopCode)
    const manifest = buildManifest(plan.runbook, outcome, {version: options.version, reason: plan.request.reason, exitCode})
    const report = renderReport(manifest, (file, limit) => bundle!.read(file, limit), {filesKept: options.bundle !== undefined})
    if (options.bundle === undefined) options.onReport(report)
    await bundle!.finish(manifest, report)
    options.onEvent({event: 'run-finished', status: outcome.incomplete ? 'incomplete' : 'complete', exitCode, durationMs: Date.now() - started, targets: summarize(outcome.targets)})
    return {exitCode}
  } catch (error) {
    bundle?.discard()
    throw error
  } finally {
    await backends.close()
  }
}
