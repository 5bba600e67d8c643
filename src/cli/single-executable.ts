import {dirname} from 'node:path'

import type {Command, Interfaces} from '#oclif'

import {REAPER_ROLE_ENV} from '../backends/sea.js'
import type {Embedded as CompletionData} from './completion/main.js'
import {dockerPluginMetadata, entryOfName} from './plugins.js'

/** What build/sea.mjs tells the executable about itself: package.json, and the commands bundled with it. */
export interface Embedded {
  pjson: Interfaces.PJSON
  commands: () => Promise<Record<string, Command.Class>>
  /** oclif.manifest.json, for the shell's TAB (`__complete`), answered without oclif as bin/run.js does. */
  manifest: CompletionData['manifest']
}

/**
 * The entry of the single executable (build/sea.mjs): bin/run.js and dist/reaper.js in one. Nothing is found on
 * disk: oclif gets package.json as data and its root plugin with the commands already loaded (its "explicit"
 * command discovery, whose map is set instead of imported), and computes the command manifest from the classes.
 */
export async function runSingleExecutable({pjson, commands, manifest}: Embedded): Promise<void> {
  const reaper = process.env[REAPER_ROLE_ENV]
  if (reaper === '1') {
    // Started by the Docker watchdog (src/backends/docker/watchdog.ts) as `node dist/reaper.js` would be.
    await import('../backends/docker/reaper.js')
    return
  }
  if (reaper === 'kubernetes') {
    // Started by the watchdog of a pod mindbg made (src/backends/kubernetes/owned-pod.ts), as `node dist/kube-reaper.js`.
    await import('../backends/kubernetes/kube-reaper.js')
    return
  }
  const argv = process.argv.slice(2)
  if (argv.length === 1 && argv[0] === '--version') {
    // As bin/run.js: without loading oclif, the string oclif prints.
    process.stdout.write(`${pjson.name}/${pjson.version} ${process.platform}-${process.arch} node-${process.version}\n`)
    return
  }
  // Linked or copied as a plugin, it is that plugin (process.argv[1] is the name it was started by).
  const entry = entryOfName(process.argv[1] ?? '')
  if (entry === 'kubectl-complete' || argv[0] === '__complete') {
    const {completeMain} = await import('./completion/main.js')
    await completeMain(entry === 'kubectl-complete' ? argv : argv.slice(1), entry === 'kubectl-complete' ? 'kubectl' : 'mindbg', {pjson, manifest})
    return
  }
  if (entry === 'docker' && argv.length === 1 && argv[0] === 'docker-cli-plugin-metadata') {
    process.stdout.write(dockerPluginMetadata(pjson))
    return
  }
  const [{Plugin}, {main}, classes] = await Promise.all([import('#oclif'), import('./main.js'), commands()])
  // Where oclif would look for the package; nothing is read from there (ignoreManifest, plugins given).
  const root = dirname(process.execPath)
  const plugin = new Plugin({isRoot: true, root, pjson, ignoreManifest: true})
  // Explicit discovery imports its target into commandCache once and reads it from there: set, nothing is imported.
  ;(plugin as unknown as {commandCache: Record<string, Command.Class>}).commandCache = classes
  await plugin.load()
  await main(argv, {root, pjson, plugins: new Map([[plugin.name, plugin]])}, entry)
}
