import {Args} from '#oclif'

import {MindbgCommand} from '../src/cli/base-command.js'
import {INSTALL_HINTS, SCRIPTS, type Shell, SHELLS} from '../src/cli/completion/scripts.js'

const hints = SHELLS.map((shell) => `${shell}:\n${INSTALL_HINTS[shell].map((line) => `  ${line}`).join('\n')}`).join('\n\n')

export default class Completion extends MindbgCommand {
  static override summary = 'Print the shell completion script for bash, zsh or fish.'
  static override description = `Completes commands, flags and their values, built-in runbooks, running Docker containers and the pods (pod/NAME[/CONTAINER], k8s://NAMESPACE/POD[/CONTAINER]) of the current context and namespace, or of the --context, --kubeconfig and -n typed before. An engine or API server that does not answer within a quarter of a second completes nothing. Load the script:

${hints}

kubectl mindbg <TAB> (kubectl 1.26 and later) runs kubectl_complete-mindbg, which comes with mindbg: it needs only to be on PATH.`
  static override examples = ['<%= config.bin %> completion bash > ~/.local/share/bash-completion/completions/mindbg', '<%= config.bin %> completion fish > ~/.config/fish/completions/mindbg.fish']
  static override args = {
    shell: Args.string({description: 'The shell to complete for.', options: [...SHELLS], required: true}),
  }

  async run(): Promise<void> {
    const {args} = await this.parse(Completion)
    process.stdout.write(SCRIPTS[args.shell as Shell])
  }
}
