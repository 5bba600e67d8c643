import {Flags} from '#oclif'

import {MindbgCommand} from '../src/cli/base-command.js'
import {DockerEngine} from '../src/runtime/docker-engine.js'
import {orphanReason} from '../src/prune.js'

export interface PruneResult {
  removed: Array<{name: string; target: string; why: string}>
}

export default class Prune extends MindbgCommand {
  static override summary = 'Remove orphaned mindbg sidecars (exited, or whose target is no longer running).'
  static override enableJsonFlag = true
  static override examples = ['<%= config.bin %> prune', '<%= config.bin %> prune --all --json']
  static override flags = {
    all: Flags.boolean({description: 'Also remove live sidecars, including detached sessions.'}),
  }

  async run(): Promise<PruneResult> {
    const {flags} = await this.parse(Prune)
    const engine = await DockerEngine.connect()
    const removed: PruneResult['removed'] = []
    for (const sidecar of await engine.listSidecars()) {
      const why = orphanReason(sidecar) ?? (flags.all ? '--all' : undefined)
      if (!why) continue
      await engine.remove(sidecar.id)
      removed.push({name: sidecar.name, target: sidecar.targetName, why})
      if (!this.jsonEnabled() && !flags.quiet) this.log(`removed ${sidecar.name} (${why})`)
    }
    if (!this.jsonEnabled() && !flags.quiet && removed.length === 0) this.logToStderr('mindbg: nothing to prune')
    return {removed}
  }
}
