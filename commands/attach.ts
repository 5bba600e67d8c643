import {Args} from '#oclif'

import type {PlanReport} from '../src/backends/backend.js'
import {performAttach} from '../src/cli/attach-run.js'
import {MindbgCommand} from '../src/cli/base-command.js'
import {ATTACH_FLAGS, type AttachFlags} from '../src/cli/flag-table.js'
import {oclifFlags} from '../src/cli/oclif-flags.js'
import {usageError} from '../src/domain/errors.js'

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
    const {exitCode, report} = await performAttach({targetArg, command: rest, flags: flags as AttachFlags, version: this.config.version, json: this.jsonEnabled()})
    if (report) return report
    if (exitCode !== 0) this.exit(exitCode)
  }
}
