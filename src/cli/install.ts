import {lstatSync, mkdirSync, readlinkSync, realpathSync, renameSync, rmSync, symlinkSync} from 'node:fs'
import {dirname, join, resolve} from 'node:path'

import {dockerConfigDir} from '../backends/docker/context.js'
import {insideSingleExecutable} from '../backends/sea.js'
import {usageError} from '../domain/errors.js'

/** What `mindbg install docker-plugin` did, for the one line it prints. */
export interface PluginLinkChange {
  link: string
  plugin: string
  change: 'installed' | 'already installed' | 'replaced' | 'removed' | 'not installed'
}

/** Where the docker CLI looks for plugins of this user: $DOCKER_CONFIG/cli-plugins (default ~/.docker/cli-plugins). */
export const dockerPluginLink = (env: NodeJS.ProcessEnv): string => join(dockerConfigDir(env), 'cli-plugins', 'docker-mindbg')

/** What the link points at: bin/docker-mindbg.js of the package, or the single executable itself (it is every entry). */
export const dockerPluginProgram = (packageRoot: string): string => (insideSingleExecutable ? process.execPath : join(packageRoot, 'bin', 'docker-mindbg.js'))

/**
 * Links (or, with `uninstall`, unlinks) bin/docker-mindbg.js as the docker CLI plugin. Running it again changes
 * nothing; something else at that path is left alone unless `force`.
 */
export function linkDockerPlugin(options: {plugin: string; env: NodeJS.ProcessEnv; force: boolean; uninstall: boolean}): PluginLinkChange {
  const link = dockerPluginLink(options.env)
  const plugin = options.plugin
  const existing = whatIsAt(link)
  const ours = existing !== undefined && sameFile(link, plugin)
  const refuse = (doing: string): never => {
    throw usageError(`${link} exists and is not mindbg's plugin (${existing})`, `Use --force to ${doing} it anyway.`)
  }
  if (options.uninstall) {
    if (existing === undefined) return {link, plugin, change: 'not installed'}
    if (!ours && !options.force) refuse('remove')
    rmSync(link, {force: true})
    return {link, plugin, change: 'removed'}
  }
  if (ours) return {link, plugin, change: 'already installed'}
  if (existing !== undefined && !options.force) refuse('replace')
  mkdirSync(dirname(link), {recursive: true})
  // A new link beside the old one, then renamed over it: docker never sees the path missing or half made.
  const temporary = `${link}.${process.pid}.tmp`
  rmSync(temporary, {force: true})
  symlinkSync(plugin, temporary)
  renameSync(temporary, link)
  return {link, plugin, change: existing === undefined ? 'installed' : 'replaced'}
}

/** A description of what is at `path` ("a link to X", "a file"), or undefined when nothing is. */
function whatIsAt(path: string): string | undefined {
  try {
    const stat = lstatSync(path)
    if (stat.isSymbolicLink()) return `a link to ${resolve(dirname(path), readlinkSync(path))}`
    return stat.isDirectory() ? 'a directory' : 'a file'
  } catch {
    return undefined
  }
}

function sameFile(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b)
  } catch {
    return false
  }
}
