import {fstatSync} from 'node:fs'

import {Args} from '#oclif'

import type {PlanReport} from '../src/backends/backend.js'
import {planAttach} from '../src/cli/attach-plan.js'
import {recordSession} from '../src/cli/audit.js'
import {MindbgCommand} from '../src/cli/base-command.js'
import {loadConfig} from '../src/cli/config.js'
import {formatDryRun} from '../src/cli/dry-run.js'
import {ATTACH_FLAGS, type AttachFlags} from '../src/cli/flag-table.js'
import {oclifFlags} from '../src/cli/oclif-flags.js'
import {processIO, stopOnSignals} from '../src/cli/process-io.js'
import {createReporter} from '../src/cli/progress.js'
import {terminalSize} from '../src/cli/terminal.js'
import {usageError} from '../src/domain/errors.js'
import {attach, planReport} from '../src/session/attach.js'
import {attachRecord, auditLogPath} from '../src/session/audit.js'
import {openCast} from '../src/session/cast.js'

/** A pipe, a socket or a file on fd 0 brings input; /dev/null, a closed stdin or a terminal does not (as data). */
function stdinHasData(): boolean {
  try {
    const stat = fstatSync(0)
    return stat.isFIFO() || stat.isSocket() || stat.isFile()
  } catch {
    return false
  }
}

export default class Attach extends MindbgCommand {
  static override summary = 'Open a shell, or run one command, in a debug sidecar next to a running container.'
  static override description = `The sidecar joins the target's PID and network namespaces (and IPC when the target's IPC is shareable), so it sees the target's processes and its 127.0.0.1, and reads its filesystem at /proc/1/root. It is removed when the session ends, on every path. Exit code: the command's (or shell's) own; mindbg's errors use the codes listed in the README. For a pod, -c names the TARGET container, as in kubectl exec and logs (in kubectl debug, -c names the debug container and --target the target: mindbg takes --target as well).`
  static override examples = [
    '<%= config.bin %> attach web',
    '<%= config.bin %> attach web -- ps',
    'echo "wget -qO- 127.0.0.1:8080/healthz" | <%= config.bin %> attach web',
    '<%= config.bin %> attach --chroot web -- ls -l /app',
    '<%= config.bin %> attach --profile netadmin --reason INC-1234 docker://web',
    '<%= config.bin %> attach --session mindbg-web-x7k2p',
    'S=$(<%= config.bin %> attach web --detach) && <%= config.bin %> attach --session "$S" -- ps',
  ]
  static override strict = false
  static override args = {
    target: Args.string({description: 'Container name, ID, unique ID prefix or docker://NAME; pod/NAME[/CONTAINER] or k8s://NAMESPACE/POD[/CONTAINER].', required: false}),
  }
  static override flags = oclifFlags(ATTACH_FLAGS)
  static override enableJsonFlag = true

  async run(): Promise<PlanReport | void> {
    const {args, argv, flags} = await this.parse(Attach)
    // After "--" the command is taken verbatim: oclif's argv reorders repeated words (`-- pgrep app` for target app).
    const dashes = this.argv.indexOf('--')
    const rest = dashes >= 0 ? this.argv.slice(dashes + 1) : (argv as string[]).slice(args.target === undefined ? 0 : 1)
    // `--session S -- CMD`: the first word after "--" is no target.
    const targetArg = dashes >= 0 && argv.length === rest.length ? undefined : args.target
    if (dashes >= 0 && argv.length > (targetArg === undefined ? 0 : 1) + rest.length) {
      throw usageError('words between the target and "--" would be dropped', 'The whole command goes after "--": mindbg attach web -- echo a b')
    }
    if (flags.json && !flags['dry-run']) throw usageError('--json goes with --dry-run', "A session streams the command's own output; use --dry-run --json to see the plan as JSON.")
    const config = await loadConfig(process.env)
    const plan = planAttach({
      config,
      targetArg,
      command: rest,
      flags: flags as AttachFlags,
      env: process.env,
      stdinIsTTY: Boolean(process.stdin.isTTY),
      stdinHasData: stdinHasData(),
      stdoutIsTTY: Boolean(process.stdout.isTTY),
      terminalSize: terminalSize(process.stdout),
    })
    const context = {version: this.config.version, configPath: config.path, reporter: createReporter({quiet: Boolean(flags.quiet)})}
    if (plan.kind === 'new' && plan.dryRun) {
      const report = await planReport(plan, context)
      if (!this.jsonEnabled()) this.log(formatDryRun(report))
      return report
    }
    const stop = new AbortController()
    const unsubscribe = stopOnSignals(stop)
    if (flags['record-input'] && flags.record === undefined) throw usageError('--record-input goes with --record FILE.cast')
    const cast = flags.record === undefined ? undefined : openCast(flags.record, {size: terminalSize(process.stdout), title: `mindbg attach ${targetArg ?? flags.session ?? ''}`.trim(), input: Boolean(flags['record-input'])})
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
    if (result.exitCode !== 0) this.exit(result.exitCode)
  }
}
