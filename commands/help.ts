import {Args, run} from '#oclif'

import {MindbgCommand} from '../src/cli/base-command.js'

export default class Help extends MindbgCommand {
  static override summary = 'Show help for mindbg, or for one command.'
  static override examples = ['<%= config.bin %> help', '<%= config.bin %> help attach']
  static override strict = false
  static override args = {command: Args.string({description: 'The command (default: all of them).', required: false})}

  async run(): Promise<void> {
    const {argv} = await this.parse(Help)
    // oclif's own help, as `mindbg COMMAND --help` shows it.
    await run([...(argv as string[]), '--help'], this.config)
  }
}
