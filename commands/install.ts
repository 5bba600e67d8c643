import {Args} from '#oclif'

import {MindbgCommand} from '../src/cli/base-command.js'
import {INSTALL_FLAGS, type InstallFlags} from '../src/cli/flag-table.js'
import {dockerPluginProgram, linkDockerPlugin} from '../src/cli/install.js'
import {oclifFlags} from '../src/cli/oclif-flags.js'

export default class Install extends MindbgCommand {
  static override summary = 'Make mindbg a Docker CLI plugin: docker mindbg attach web.'
  static override description = 'Links bin/docker-mindbg.js into $DOCKER_CONFIG/cli-plugins (default ~/.docker/cli-plugins). Running it again changes nothing; --uninstall removes the link. (kubectl needs no install: kubectl-mindbg comes on PATH with mindbg.)'
  static override examples = ['<%= config.bin %> install docker-plugin', '<%= config.bin %> install docker-plugin --uninstall']
  static override args = {
    component: Args.string({description: 'What to install.', options: ['docker-plugin'], required: true}),
  }
  static override flags = oclifFlags(INSTALL_FLAGS)

  async run(): Promise<void> {
    const flags = (await this.parse(Install)).flags as InstallFlags
    const {link, plugin, change} = linkDockerPlugin({plugin: dockerPluginProgram(this.config.root), env: process.env, force: Boolean(flags.force), uninstall: Boolean(flags.uninstall)})
    this.log(change === 'removed' || change === 'not installed' ? `${change}: ${link}` : `${change}: ${link} -> ${plugin}`)
  }
}
