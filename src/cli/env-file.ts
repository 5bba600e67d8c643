import {readFileSync} from 'node:fs'

import {usageError} from '../domain/errors.js'

/**
 * A file of variables as `docker run --env-file` reads it: KEY=VALUE lines, the value taken verbatim (no quotes
 * removed, no expansion), `#` comment lines and blank lines skipped, and a KEY alone copied from mindbg's own
 * environment, or left out when it is not set there (docker's opts.ParseEnvFile).
 */
export function parseEnvFile(text: string, file: string, env: NodeJS.ProcessEnv): string[] {
  const entries: string[] = []
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/)
  for (const [index, raw] of lines.entries()) {
    const line = raw.replace(/^\s+/, '')
    if (line === '' || line.startsWith('#')) continue
    const eq = line.indexOf('=')
    const key = eq < 0 ? line : line.slice(0, eq)
    if (key === '') throw usageError(`--env-file ${file}, line ${index + 1}: no variable name before "="`, 'Write KEY=VALUE, one a line.')
    if (/\s/.test(key)) throw usageError(`--env-file ${file}, line ${index + 1}: variable "${key.trim()}" contains whitespace`, 'Write KEY=VALUE, one a line; the key has no spaces.')
    if (eq >= 0) entries.push(line)
    else if (env[key] !== undefined) entries.push(`${key}=${env[key]}`)
  }
  return entries
}

/** The variables of every --env-file, in order; a file that cannot be read is a usage error naming it. */
export function readEnvFiles(files: string[], env: NodeJS.ProcessEnv): string[] {
  return files.flatMap((file) => {
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      throw usageError(`cannot read --env-file ${file}${code ? ` (${code})` : ''}`, 'Give a readable file of KEY=VALUE lines.')
    }
    return parseEnvFile(text, file, env)
  })
}
