import {run} from '#oclif'

import {MindbgCommand} from '../src/cli/base-command.js'

export default class Help extends MindbgCommand {
  static override summary = 'Show help for mindbg, or for one command.'
  static override examples = ['<%= config.bin %> help', '<%= config.bin %> help attach']
  static override strict = false

  async run(): Promise<void> {
    // oclif's own help, as `mindbg COMMAND --help` shows it.
    await run([...this.argv.filter((a) => a !== '--help' && a !== '-h'), '--help'], this.config)
  }
}
