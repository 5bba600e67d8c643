import type {PrunedDebugger} from '../src/backends/backend.js'
import {connectBackend} from '../src/backends/registry.js'
import {MindbgCommand} from '../src/cli/base-command.js'
import {PRUNE_FLAGS, type PruneFlags, kubeConnection, scopeRuntime} from '../src/cli/flag-table.js'
import {oclifFlags} from '../src/cli/oclif-flags.js'
import {defaultRuntime} from '../src/domain/target.js'

export interface PruneResult {
  removed: PrunedDebugger[]
}

export default class Prune extends MindbgCommand {
  static override summary = 'Remove orphaned mindbg sidecars (exited, or whose target is no longer running).'
  static override enableJsonFlag = true
  static override examples = ['<%= config.bin %> prune', '<%= config.bin %> prune --all --json']
  static override flags = oclifFlags(PRUNE_FLAGS)

  async run(): Promise<PruneResult> {
    const flags = (await this.parse(Prune)).flags as PruneFlags & {json?: boolean; quiet?: boolean}
    const backend = await connectBackend(scopeRuntime(flags, defaultRuntime(process.env)), kubeConnection(flags))
    let removed: PrunedDebugger[]
    try {
      removed = await backend.prune({all: Boolean(flags.all)})
    } finally {
      backend.close()
    }
    if (!this.jsonEnabled() && !flags.quiet) {
      for (const r of removed) this.log(`removed ${r.name} (${r.why})`)
      if (removed.length === 0) this.logToStderr('mindbg: nothing to prune')
    }
    return {removed}
  }
}
