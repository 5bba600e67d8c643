import {flush, type Interfaces, run} from '#oclif'

import {guarded} from './guard.js'
import type {Entry} from './plugins.js'

/**
 * Runs oclif (errors become messages and exit codes in guarded()). `oclifOptions`: bin/run.js's URL (oclif finds
 * package.json from it), or what the single executable gives instead; `entry`: the plugin a kubectl or docker CLI
 * started mindbg as.
 */
export async function main(argv: string[], oclifOptions: string | Interfaces.LoadOptions, entry: Entry = 'mindbg'): Promise<void> {
  await guarded(argv, async () => {
    await run(entry === 'mindbg' ? argv : await asPlugin(entry, argv), oclifOptions)
    await flush()
  })
}

/** A plugin's argv as mindbg's own, its connection options put where mindbg (and its reaper) read them. */
async function asPlugin(entry: Entry, argv: string[]): Promise<string[]> {
  const {endWithDockerCli, invocation} = await import('./plugins.js')
  const plugin = invocation(entry, argv, process.env)
  if (entry === 'docker') await endWithDockerCli(process.env.DOCKER_CLI_PLUGIN_SOCKET)
  for (const [key, value] of Object.entries(plugin.env)) {
    if (value === undefined) delete process.env[key]
    else process.env[key] = value
  }
  return plugin.argv
}
