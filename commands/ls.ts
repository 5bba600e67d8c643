import type {DebuggerSummary} from '../src/backends/backend.js'
import {connectBackend} from '../src/backends/registry.js'
import {MindbgCommand} from '../src/cli/base-command.js'
import {LS_FLAGS, type LsFlags, kubeConnection, scopeRuntime} from '../src/cli/flag-table.js'
import {oclifFlags} from '../src/cli/oclif-flags.js'
import {defaultRuntime} from '../src/domain/target.js'
import {formatAge, formatTable} from '../src/cli/table.js'

export default class Ls extends MindbgCommand {
  static override summary = 'List mindbg sidecars (Docker) or debuggers in pods (Kubernetes): target, age, user and reason.'
  static override description = 'Docker by default. Any of --kube, -n, -A, --context or --kubeconfig lists the mindbg ephemeral containers of pods instead, running or not (Kubernetes keeps them in the pod for its lifetime).'
  static override enableJsonFlag = true
  static override examples = ['<%= config.bin %> ls', '<%= config.bin %> ls --json', '<%= config.bin %> ls -n payments', '<%= config.bin %> ls -A --json']
  static override flags = oclifFlags(LS_FLAGS)

  async run(): Promise<DebuggerSummary[]> {
    const flags = (await this.parse(Ls)).flags as LsFlags
    const reason = (r: string): string => (flags['no-trunc'] || r.length <= 40 ? r : `${r.slice(0, 39)}…`)
    const runtime = scopeRuntime(flags, defaultRuntime(process.env))
    const kube = runtime === 'kubernetes'
    const backend = await connectBackend(runtime, kubeConnection(flags))
    let debuggers: DebuggerSummary[]
    try {
      debuggers = await backend.list({allNamespaces: Boolean(flags['all-namespaces'])})
    } finally {
      backend.close()
    }
    if (!this.jsonEnabled()) {
      // In a cluster a debugger lives in a pod: its namespace and pod get columns of their own.
      const header = [...(kube ? ['NAMESPACE', 'POD'] : []), 'NAME', 'TARGET', 'STATE', 'AGE', 'USER', 'REASON']
      const rows = debuggers.map((d) => [
        ...(kube ? d.location.split('/', 2) : []),
        d.name,
        d.target,
        d.state + (d.targetState === 'running' ? '' : ` (target ${d.targetState})`),
        formatAge(d.ageSeconds),
        d.user,
        reason(d.reason),
      ])
      this.log(formatTable(header, rows))
    }
    return debuggers
  }
}
