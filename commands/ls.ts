import {Flags} from '#oclif'

import {MindbgCommand} from '../src/cli/base-command.js'
import {formatAge, formatTable} from '../src/cli/table.js'
import {DockerEngine, type SidecarSummary} from '../src/runtime/docker-engine.js'

export default class Ls extends MindbgCommand {
  static override summary = 'List mindbg sidecars: target, age, user and reason.'
  static override enableJsonFlag = true
  static override examples = ['<%= config.bin %> ls', '<%= config.bin %> ls --json']
  static override flags = {
    'no-trunc': Flags.boolean({description: 'Do not shorten reasons.'}),
  }

  async run(): Promise<SidecarSummary[]> {
    const {flags} = await this.parse(Ls)
    const engine = await DockerEngine.connect()
    const sidecars = await engine.listSidecars()
    if (!this.jsonEnabled()) {
      const rows = sidecars.map((s) => [
        s.name,
        s.targetName || s.target.slice(0, 12),
        s.state + (s.targetState === 'running' ? '' : ` (target ${s.targetState})`),
        formatAge(s.ageSeconds),
        s.user,
        flags['no-trunc'] || s.reason.length <= 40 ? s.reason : `${s.reason.slice(0, 39)}…`,
      ])
      this.log(formatTable(['NAME', 'TARGET', 'STATE', 'AGE', 'USER', 'REASON'], rows))
    }
    return sidecars
  }
}
