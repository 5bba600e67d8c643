import {Args, Flags} from '#oclif'

import {PULL_POLICIES, planAttach} from '../src/attach-options.js'
import {MindbgCommand} from '../src/cli/base-command.js'
import {PROFILES} from '../src/profiles.js'
import {createReporter} from '../src/progress.js'
import {formatDryRun} from '../src/cli/dry-run.js'
import {loadConfig} from '../src/config.js'
import {usageError} from '../src/errors.js'
import type {KubeDryRunReport} from '../src/kube-session.js'
import {type DryRunReport, dryRun, runAttach} from '../src/session.js'
import {DEFAULT_DETACH_KEYS} from '../src/terminal/detach-keys.js'
import {terminalSize} from '../src/terminal/tty.js'

export default class Attach extends MindbgCommand {
  static override summary = 'Open a shell, or run one command, in a debug sidecar next to a running container.'
  static override description = `The sidecar joins the target's PID and network namespaces (and IPC when the target's IPC is shareable), so it sees the target's processes and its 127.0.0.1, and reads its filesystem at /proc/1/root. It is removed when the session ends, on every path. Exit code: the command's (or shell's) own; mindbg's errors use the codes listed in the README.`
  static override examples = [
    '<%= config.bin %> attach web',
    '<%= config.bin %> attach web -- ps',
    'echo "wget -qO- 127.0.0.1:8080/healthz" | <%= config.bin %> attach web',
    '<%= config.bin %> attach --chroot web -- ls -l /app',
    '<%= config.bin %> attach --profile netadmin --reason INC-1234 docker://web',
    '<%= config.bin %> attach --session mindbg-web-x7k2p',
  ]
  static override strict = false
  static override args = {
    target: Args.string({description: 'Container name, ID, unique ID prefix or docker://NAME; pod/NAME[/CONTAINER] or k8s://NAMESPACE/POD[/CONTAINER].', required: false}),
  }
  static override flags = {
    'cap-add': Flags.string({description: 'Add a Linux capability to the sidecar (repeatable).', multiple: true, multipleNonGreedy: true, helpGroup: 'SECURITY'}),
    chroot: Flags.boolean({description: "Run with the target's filesystem as / (debug tools stay on PATH); writes nothing into the target."}),
    'detach-keys': Flags.string({description: 'Key sequence that detaches and leaves the sidecar running.', default: DEFAULT_DETACH_KEYS}),
    env: Flags.string({char: 'e', description: 'Set KEY=VALUE in the sidecar, or KEY to copy it from here (repeatable).', multiple: true, multipleNonGreedy: true}),
    'dry-run': Flags.boolean({description: 'Show the sidecar that would be created (image and why, user, namespaces) and stop.'}),
    image: Flags.string({description: 'Debug image (default: MINDBG_IMAGE, else the config file, else a pinned static busybox).', helpGroup: 'IMAGE'}),
    platform: Flags.string({description: "Platform of the debug image to pull, OS/ARCH[/VARIANT] (default: the target's).", helpGroup: 'IMAGE'}),
    name: Flags.string({description: 'Name of the sidecar container (default: mindbg-<target>-<random>).'}),
    privileged: Flags.boolean({description: 'Run the sidecar privileged.', helpGroup: 'SECURITY'}),
    profile: Flags.string({description: 'Security profile, as in kubectl debug.', options: [...PROFILES], helpGroup: 'SECURITY'}),
    pull: Flags.string({description: 'When to pull the debug image (default: missing).', options: [...PULL_POLICIES], helpGroup: 'IMAGE'}),
    reason: Flags.string({description: 'Why this session exists (e.g. an incident ticket); recorded on the sidecar.'}),
    session: Flags.string({description: 'Re-attach to a sidecar left running by a detach.'}),
    context: Flags.string({description: 'Kubernetes: kubeconfig context (default: the current one).', helpGroup: 'KUBERNETES'}),
    custom: Flags.string({description: 'Kubernetes: partial container spec (JSON or YAML) merged into the debugger, as kubectl debug --custom.', helpGroup: 'KUBERNETES'}),
    kubeconfig: Flags.string({description: 'Kubernetes: kubeconfig file (default: KUBECONFIG, else ~/.kube/config).', helpGroup: 'KUBERNETES'}),
    namespace: Flags.string({char: 'n', description: "Kubernetes: the pod's namespace (default: the context's).", helpGroup: 'KUBERNETES'}),
    reuse: Flags.boolean({description: 'Kubernetes: re-attach to a running mindbg debugger in the pod instead of adding one.', helpGroup: 'KUBERNETES'}),
    'target-container': Flags.string({char: 'c', description: "Kubernetes: the container to debug (default: the pod's default-container annotation, else the first).", helpGroup: 'KUBERNETES'}),
    timeout: Flags.string({description: 'Kubernetes: how long to wait for the debugger to start (default 2m).', helpGroup: 'KUBERNETES'}),
    sibling: Flags.boolean({description: "Use the debug twin of the target's image (distroless :debug, Chainguard -dev, config mappings).", helpGroup: 'IMAGE'}),
    stdin: Flags.boolean({char: 'i', description: 'Keep stdin attached (default: on for a shell or piped input).', allowNo: true}),
    tty: Flags.boolean({char: 't', description: 'Allocate a terminal (default: on for a shell in a terminal).', allowNo: true}),
    user: Flags.string({char: 'u', description: 'User in the sidecar, UID[:GID] or name.', helpGroup: 'SECURITY'}),
    workdir: Flags.string({char: 'w', description: 'Working directory in the sidecar.'}),
  }

  static override enableJsonFlag = true

  async run(): Promise<DryRunReport | KubeDryRunReport | void> {
    const {args, argv, flags} = await this.parse(Attach)
    // After "--" the command is taken verbatim: oclif's argv reorders repeated words (`-- pgrep app` for target app).
    const dashes = this.argv.indexOf('--')
    const rest = dashes >= 0 ? this.argv.slice(dashes + 1) : (argv as string[]).slice(args.target === undefined ? 0 : 1)
    if (flags.json && !flags['dry-run']) throw usageError('--json goes with --dry-run', 'A session streams the command\'s own output; use --dry-run --json to see the plan as JSON.')
    const config = await loadConfig(process.env)
    const plan = planAttach({
      config,
      targetArg: args.target,
      command: rest,
      flags,
      env: process.env,
      stdinIsTTY: Boolean(process.stdin.isTTY),
      stdoutIsTTY: Boolean(process.stdout.isTTY),
      terminalSize: terminalSize(process.stdout),
    })
    const ctx = {
      version: this.config.version,
      configPath: config.path,
      reporter: createReporter({quiet: flags.quiet}),
      stdin: process.stdin,
      stdout: process.stdout,
      stderr: process.stderr,
    }
    if (plan.kind === 'new' && plan.dryRun) {
      const report = await dryRun(plan, ctx)
      if (!this.jsonEnabled()) this.log(formatDryRun(report))
      return report
    }
    const result = await runAttach(plan, ctx)
    if (result.exitCode !== 0) this.exit(result.exitCode)
  }
}
