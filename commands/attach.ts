import {Args} from '#oclif'

import type {PlanReport} from '../src/backends/backend.js'
import {type ParsedAttach, runAttach} from '../src/cli/attach-command.js'
import {MindbgCommand} from '../src/cli/base-command.js'
import {ATTACH_FLAGS} from '../src/cli/flag-table.js'
import {oclifFlags} from '../src/cli/oclif-flags.js'

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
    const host = {version: this.config.version, log: (text: string) => this.log(text), exit: (code: number) => this.exit(code), jsonEnabled: () => this.jsonEnabled()}
    return runAttach({target: args.target, argv: argv as string[], raw: this.argv, flags: flags as ParsedAttach['flags']}, host)
  }
}
