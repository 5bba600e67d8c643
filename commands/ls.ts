import {Flags} from '#oclif'

import {MindbgCommand} from '../src/cli/base-command.js'
import {formatAge, formatTable} from '../src/cli/table.js'
import type {KubeDebugger} from '../src/kube-ls.js'
import type {SidecarSummary} from '../src/runtime/docker-engine.js'

export default class Ls extends MindbgCommand {
  static override summary = 'List mindbg sidecars (Docker) or debuggers in pods (Kubernetes): target, age, user and reason.'
  static override description = 'Docker by default. Any of --kube, -n, -A, --context or --kubeconfig lists the mindbg ephemeral containers of pods instead, running or not (Kubernetes keeps them in the pod for its lifetime).'
  static override enableJsonFlag = true
  static override examples = ['<%= config.bin %> ls', '<%= config.bin %> ls --json', '<%= config.bin %> ls -n payments', '<%= config.bin %> ls -A --json']
  static override flags = {
    'all-namespaces': Flags.boolean({char: 'A', description: 'Kubernetes: every namespace.', helpGroup: 'KUBERNETES'}),
    context: Flags.string({description: 'Kubernetes: kubeconfig context.', helpGroup: 'KUBERNETES'}),
    kube: Flags.boolean({description: "Kubernetes: the current context's namespace.", helpGroup: 'KUBERNETES'}),
    kubeconfig: Flags.string({description: 'Kubernetes: kubeconfig file.', helpGroup: 'KUBERNETES'}),
    namespace: Flags.string({char: 'n', description: 'Kubernetes: this namespace.', helpGroup: 'KUBERNETES'}),
    'no-trunc': Flags.boolean({description: 'Do not shorten reasons.'}),
  }

  async run(): Promise<SidecarSummary[] | KubeDebugger[]> {
    const {flags} = await this.parse(Ls)
    const reason = (r: string): string => (flags['no-trunc'] || r.length <= 40 ? r : `${r.slice(0, 39)}…`)
    const kube = flags.kube || flags['all-namespaces'] || flags.namespace !== undefined || flags.context !== undefined || flags.kubeconfig !== undefined
    if (kube) {
      const {listKubeDebuggers} = await import('../src/kube-ls.js')
      const debuggers = await listKubeDebuggers({
        kubeconfig: flags.kubeconfig,
        context: flags.context,
        namespace: flags.namespace,
        allNamespaces: flags['all-namespaces'],
      })
      if (!this.jsonEnabled()) {
        const rows = debuggers.map((d) => [d.namespace, d.pod, d.name, d.target, d.state, formatAge(d.ageSeconds), d.user, reason(d.reason)])
        this.log(formatTable(['NAMESPACE', 'POD', 'NAME', 'TARGET', 'STATE', 'AGE', 'USER', 'REASON'], rows))
      }
      return debuggers
    }
    const {DockerEngine} = await import('../src/runtime/docker-engine.js')
    const sidecars = await (await DockerEngine.connect()).listSidecars()
    if (!this.jsonEnabled()) {
      const rows = sidecars.map((s) => [
        s.name,
        s.targetName || s.target.slice(0, 12),
        s.state + (s.targetState === 'running' ? '' : ` (target ${s.targetState})`),
        formatAge(s.ageSeconds),
        s.user,
        reason(s.reason),
      ])
      this.log(formatTable(['NAME', 'TARGET', 'STATE', 'AGE', 'USER', 'REASON'], rows))
    }
    return sidecars
  }
}
