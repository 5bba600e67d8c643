import {existsSync, readFileSync} from 'node:fs'
import {homedir} from 'node:os'
import {join} from 'node:path'

import {deps} from '../deps.js'
import {firstLine, MindbgError} from '../domain/errors.js'
import {type Profile, PROFILES} from '../domain/profiles.js'
import {PULL_POLICIES, type PullPolicy, type SiblingMapping} from '../domain/request.js'

/** The user's defaults. Flags beat environment variables, which beat this file. */
export interface MindbgConfig {
  /** Where it was read from, for messages; undefined when there is no file. */
  path: string | undefined
  image?: string
  profile?: Profile
  pull?: PullPolicy
  requireReason?: boolean
  siblings: SiblingMapping[]
  /** Where the audit log goes, or false for none (MINDBG_AUDIT_LOG beats it). */
  auditLog?: string | false
}

const KEYS = ['image', 'profile', 'pull', 'requireReason', 'siblings', 'auditLog'] as const

export function configPath(env: NodeJS.ProcessEnv): string {
  if (env.MINDBG_CONFIG) return env.MINDBG_CONFIG
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config')
  return join(base, 'mindbg', 'config.yaml')
}

/**
 * Reads and validates the config file. A missing default file is fine (no config); a missing file named by
 * MINDBG_CONFIG is an error, since the user asked for it. The YAML parser is loaded only when there is a file.
 */
export async function loadConfig(env: NodeJS.ProcessEnv): Promise<MindbgConfig> {
  const path = configPath(env)
  if (!existsSync(path)) {
    if (env.MINDBG_CONFIG) throw configError(path, 'the file does not exist')
    return {path: undefined, siblings: []}
  }
  const {parse} = await deps.yaml()
  let data: unknown
  try {
    data = parse(readFileSync(path, 'utf8'))
  } catch (error) {
    throw configError(path, `not valid YAML: ${firstLine((error as Error).message)}`)
  }
  return validateConfig(data ?? {}, path)
}

export function validateConfig(data: unknown, path: string): MindbgConfig {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw configError(path, 'the top level must be a mapping of keys to values')
  const raw = data as Record<string, unknown>
  for (const key of Object.keys(raw)) {
    if (!(KEYS as readonly string[]).includes(key)) throw configError(path, `unknown key "${key}" (known: ${KEYS.join(', ')})`)
  }
  const config: MindbgConfig = {path, siblings: []}
  if (raw.image !== undefined) {
    if (typeof raw.image !== 'string' || !raw.image.trim()) throw configError(path, '"image" must be a non-empty string')
    config.image = raw.image.trim()
  }
  if (raw.profile !== undefined) {
    if (!(PROFILES as readonly unknown[]).includes(raw.profile)) throw configError(path, `"profile" must be one of ${PROFILES.join(', ')}`)
    config.profile = raw.profile as Profile
  }
  if (raw.pull !== undefined) {
    if (!(PULL_POLICIES as readonly unknown[]).includes(raw.pull)) throw configError(path, `"pull" must be one of ${PULL_POLICIES.join(', ')}`)
    config.pull = raw.pull as PullPolicy
  }
  if (raw.requireReason !== undefined) {
    if (typeof raw.requireReason !== 'boolean') throw configError(path, '"requireReason" must be true or false')
    config.requireReason = raw.requireReason
  }
  if (raw.auditLog !== undefined) {
    if (raw.auditLog !== false && (typeof raw.auditLog !== 'string' || !raw.auditLog.trim())) throw configError(path, '"auditLog" must be a file path, or false for no audit log')
    config.auditLog = raw.auditLog === false ? false : (raw.auditLog as string).trim()
  }
  if (raw.siblings !== undefined) {
    if (!Array.isArray(raw.siblings)) throw configError(path, '"siblings" must be a list of {match, replace}')
    config.siblings = raw.siblings.map((s: unknown, i) => {
      const m = s as Record<string, unknown>
      if (typeof m !== 'object' || m === null || typeof m.match !== 'string' || typeof m.replace !== 'string') {
        throw configError(path, `"siblings[${i}]" needs string "match" and "replace"`)
      }
      try {
        new RegExp(m.match)
      } catch (error) {
        throw configError(path, `"siblings[${i}].match" is not a valid regular expression: ${(error as Error).message}`)
      }
      return {match: m.match, replace: m.replace}
    })
  }
  return config
}

function configError(path: string, what: string): MindbgError {
  return new MindbgError('usage', `config file ${path}: ${what}`, 'Fix the file (see "Configuration" in the README), or point MINDBG_CONFIG elsewhere.')
}
