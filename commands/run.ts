import {Args} from '#oclif'

import {recordSession} from '../src/cli/audit.js'
import {MindbgCommand} from '../src/cli/base-command.js'
import {loadConfig} from '../src/cli/config.js'
import {RUN_FLAGS, type RunFlags} from '../src/cli/flag-table.js'
import {oclifFlags} from '../src/cli/oclif-flags.js'
import {stopOnSignals} from '../src/cli/process-io.js'
import {runProgress} from '../src/cli/run-progress.js'
import {planRun} from '../src/cli/run-plan.js'
import {formatTable} from '../src/cli/table.js'
import {formatMs} from '../src/domain/duration.js'
import {toMindbgError, usageError} from '../src/domain/errors.js'
import {auditLogPath, describeRef, targetRecord} from '../src/session/audit.js'
import {RUN_INCOMPLETE_EXIT} from '../src/session/report.js'
import {performRun} from '../src/session/run-service.js'
import {builtInRunbooks, loadRunbook} from '../src/session/runbook.js'

export default class Run extends MindbgCommand {
  static override summary = 'Run a runbook (the same checks) on many containers or pods at once, into one evidence bundle.'
  static override description = `One debugger per target for all of its steps; each step has its own output, exit code, duration and deadline. Targets run in parallel (--concurrency). Exit code: 0 when every step on every target exited 0, ${RUN_INCOMPLETE_EXIT} when the run ended but a step failed or timed out or a target failed; mindbg's usual codes when it could not start, 130/143 when stopped (the bundle is still written, marked incomplete).`
  static override examples = [
    '<%= config.bin %> run triage web',
    '<%= config.bin %> run triage -l com.docker.compose.project=shop --bundle inc-1234.tar.gz --reason INC-1234',
    '<%= config.bin %> run ./checks.yaml -l app=api -n payments --json',
    '<%= config.bin %> run triage pod/api-0 pod/api-1 --dry-run',
    '<%= config.bin %> run --list',
  ]
  static override strict = false
  static override args = {
    runbook: Args.string({description: 'A runbook YAML file, or a built-in runbook (mindbg run --list).', required: false}),
  }
  static override flags = oclifFlags(RUN_FLAGS)

  async run(): Promise<void> {
    const {args, argv, flags: parsed} = await this.parse(Run)
    const flags = parsed as RunFlags & {quiet?: boolean}
    if (flags.list) {
      const builtIns = builtInRunbooks()
      if (flags.json) this.log(JSON.stringify(builtIns))
      else this.log(formatTable(['NAME', 'DESCRIPTION'], builtIns.map((r) => [r.name, r.description])))
      return
    }
    if (args.runbook === undefined) throw usageError('missing runbook', 'Use: mindbg run RUNBOOK [TARGET...] [-l KEY=VALUE]; mindbg run --list shows the built-in ones.')
    const dashes = this.argv.indexOf('--')
    if (dashes >= 0) throw usageError('mindbg run takes no command after "--"', 'The commands are the runbook\'s steps; for one command use mindbg attach TARGET -- COMMAND.')
    const config = await loadConfig(process.env)
    const runbook = await loadRunbook(args.runbook)
    const plan = planRun({runbook, targets: (argv as string[]).slice(1), flags, env: process.env, config})
    const progress = runProgress({json: Boolean(flags.json), quiet: Boolean(flags.quiet), stdout: process.stdout, stderr: process.stderr})
    const stop = new AbortController()
    const unsubscribe = stopOnSignals(stop)
    const auditLog = auditLogPath(process.env, config.auditLog)
    const startedAt = new Date().toISOString()
    try {
      const outcome = await performRun(plan, {
        version: this.config.version,
        configPath: config.path,
        reporter: progress.reporter,
        signal: stop.signal,
        bundle: flags.bundle,
        dryRun: Boolean(flags['dry-run']),
        onEvent: (e) => progress.event(e),
        onReport: (report) => void (flags.json ? undefined : process.stdout.write(report)),
        onTarget: (record, session) =>
          recordSession(
            auditLog,
            targetRecord('run', record, plan.request, {
              exitCode: record.status === 'ok' ? 0 : record.status === 'steps-failed' ? RUN_INCOMPLETE_EXIT : (session?.error?.exitCode ?? session?.exitCode ?? RUN_INCOMPLETE_EXIT),
              ending: session?.ending ?? 'failed',
              runbook: runbook.name,
            }),
          ),
      })
      if ('targets' in outcome) {
        if (flags.json) this.log(JSON.stringify(outcome))
        else {
          this.log(`runbook ${outcome.runbook}, ${outcome.targets.length} target${outcome.targets.length === 1 ? '' : 's'}:`)
          this.log(formatTable(['TARGET', 'RUNTIME', 'NAME', 'IMAGE', 'DEBUG IMAGE'], outcome.targets.map((t) => [t.key, t.runtime, t.name, t.image, t.debugImage])))
          for (const m of outcome.missing) this.log(`not found, would fail: ${m.ref} (${m.reason})`)
          this.log('steps:')
          this.log(formatTable(['STEP', 'TIMEOUT', 'RUNS'], outcome.steps.map((s) => [s.name, formatMs(s.timeoutMs), s.kind === 'collect' ? `collect ${s.command[0]}` : s.command.join(' ').replace(/\s+/g, ' ').slice(0, 100)])))
        }
        return
      }
      if (outcome.exitCode !== 0) this.exit(outcome.exitCode)
    } catch (error) {
      if ((error as {code?: string}).code !== 'EEXIT') {
        const e = toMindbgError(error)
        if (flags.json) this.log(JSON.stringify({event: 'run-failed', error: {message: e.message, hint: e.hint ?? null, exitCode: e.exitCode}}))
        // A run that could not begin (nothing found, no engine) is in the audit log too, as a failed attach is; a
        // usage error (an existing --bundle) asked nothing of any target.
        if (!flags['dry-run'] && e.exitCode !== 2) {
          const asked = [...plan.refs.map(describeRef), ...plan.selectors.map((s) => `-l ${s.labels}`)].join(' ')
          const runtime = plan.refs[0]?.runtime ?? plan.selectors[0]?.runtime ?? 'docker'
          recordSession(auditLog, targetRecord('run', {ref: asked, runtime, id: '', startedAt, reason: e.message}, plan.request, {exitCode: e.exitCode, ending: 'failed', runbook: runbook.name}))
        }
      }
      throw error
    } finally {
      progress.close()
      unsubscribe()
    }
  }
}
