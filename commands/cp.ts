import {Args} from '#oclif'

import {recordSession} from '../src/cli/audit.js'
import {debuggerRequest, kubeFlagsInto} from '../src/cli/attach-plan.js'
import {MindbgCommand} from '../src/cli/base-command.js'
import {loadConfig} from '../src/cli/config.js'
import {type AttachFlags, CP_FLAGS, type CpFlags, kubeConnection} from '../src/cli/flag-table.js'
import {oclifFlags} from '../src/cli/oclif-flags.js'
import {stopOnSignals} from '../src/cli/process-io.js'
import {createReporter} from '../src/cli/progress.js'
import {parseCopySource} from '../src/cli/run-plan.js'
import {parseDuration} from '../src/domain/duration.js'
import {defaultRuntime} from '../src/domain/target.js'
import {auditLogPath, targetRecord} from '../src/session/audit.js'
import {copyOut} from '../src/session/copy.js'

export default class Cp extends MindbgCommand {
  static override summary = 'Copy a file or directory out of a running container or pod, even one without tar or a shell.'
  static override description = `The debugger reads the target's filesystem through /proc/PID/root and streams it back as tar: modes and mtimes kept, memory flat whatever the size. DEST is a new path, a directory to copy into, or "-" for the tar stream on stdout. Takes attach's image, profile and Kubernetes flags.`
  static override examples = [
    '<%= config.bin %> cp web:/etc/app ./app-config',
    '<%= config.bin %> cp pod/api-0:/tmp/heap.hprof .',
    '<%= config.bin %> cp web:/var/log - | tar tvf -',
  ]
  static override args = {
    source: Args.string({description: 'TARGET:/PATH, TARGET as attach takes it (web, docker://web, pod/NAME[/C], k8s://NS/POD[/C]).', required: true}),
    dest: Args.string({description: 'A local path, or - for a tar stream on stdout.', required: true}),
  }
  static override flags = oclifFlags(CP_FLAGS)

  async run(): Promise<void> {
    const {args, flags: parsed} = await this.parse(Cp)
    const flags = parsed as CpFlags & {quiet?: boolean}
    const config = await loadConfig(process.env)
    const {target, path} = parseCopySource(args.source, defaultRuntime(process.env))
    const request = debuggerRequest({flags: {...flags, timeout: flags['start-timeout']} as AttachFlags, env: process.env, command: [], config})
    const stop = new AbortController()
    const unsubscribe = stopOnSignals(stop)
    const auditLog = auditLogPath(process.env, config.auditLog)
    const reporter = createReporter({quiet: Boolean(flags.quiet)})
    try {
      const {summary} = await copyOut(
        {refs: [kubeFlagsInto(target, flags)], path, dest: args.dest, request, backend: kubeConnection(flags), timeoutMs: flags.timeout === undefined ? 600_000 : parseDuration(flags.timeout, '--timeout')},
        {
          version: this.config.version,
          configPath: config.path,
          reporter,
          signal: stop.signal,
          stdout: process.stdout,
          onTarget: (record, session) =>
            recordSession(auditLog, targetRecord('cp', record, request, {exitCode: record.status === 'ok' ? 0 : (session?.error?.exitCode ?? 1), ending: session?.ending ?? 'failed', path})),
        },
      )
      if (summary) reporter.notice(`mindbg: copied ${summary.files} file${summary.files === 1 ? '' : 's'}, ${summary.directories} director${summary.directories === 1 ? 'y' : 'ies'}, ${summary.bytes} bytes${summary.skipped.length ? `; skipped ${summary.skipped.length} (devices, FIFOs)` : ''}`)
    } finally {
      unsubscribe()
    }
  }
}
