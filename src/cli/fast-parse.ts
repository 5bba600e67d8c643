import type {FlagSpec} from './flag-table.js'

/** What oclif's parse hands a command, for the argv this parser takes. */
export interface FastParse {
  /** The first positional word (the target). */
  target: string
  /** Every positional word, the target first, then the words after "--" (as oclif's `argv`). */
  argv: string[]
  flags: Record<string, string | boolean | string[]>
}

/**
 * oclif's parse of a command's argv, for the plain spellings only, without loading oclif (~30 ms of every
 * `mindbg attach`): `--flag VALUE`, `--flag=VALUE`, `-c VALUE`, `--bool`, `--no-bool` (allowNo), the aliases, one
 * positional word (or none) before "--" and the command after it, or no "--" and nothing after the target. Anything else
 * (help, --json, an unknown or repeated flag, a value oclif would refuse or might read otherwise, combined short
 * flags, a second positional word, a second "--") is undefined: oclif parses it, with its own messages.
 * test/unit/fast-parse.test.ts holds this to oclif's own results.
 */
export function fastParse(specs: Record<string, FlagSpec>, argv: readonly string[]): FastParse | undefined {
  const byLong = new Map<string, string>()
  const byChar = new Map<string, string>()
  for (const [name, s] of Object.entries(specs)) {
    byLong.set(name, name)
    for (const alias of s.aliases ?? []) byLong.set(alias, name)
    if (s.char !== undefined) byChar.set(s.char, name)
  }
  const flags: FastParse['flags'] = {}
  const positional: string[] = []
  let i = 0
  for (; i < argv.length; i++) {
    const word = argv[i]!
    if (word === '--') break
    if (!word.startsWith('-')) {
      positional.push(word)
      continue
    }
    let name: string | undefined
    let value: string | undefined
    let negated = false
    if (word.startsWith('--')) {
      const eq = word.indexOf('=')
      const long = eq < 0 ? word.slice(2) : word.slice(2, eq)
      if (eq >= 0) value = word.slice(eq + 1)
      name = byLong.get(long)
      if (name === undefined && long.startsWith('no-') && specs[long.slice(3)]?.allowNo) {
        name = long.slice(3)
        negated = true
      }
    } else if (word.length === 2) {
      name = byChar.get(word[1]!)
    }
    if (name === undefined || name in flags) {
      // Unknown, combined (-it), attached (-eK=V), or given twice: oclif's to parse (a list flag may repeat).
      if (name === undefined || !specs[name]!.multiple) return undefined
    }
    const spec = specs[name]!
    if (spec.kind === 'boolean') {
      if (value !== undefined) return undefined
      flags[name] = !negated
      continue
    }
    if (negated) return undefined
    if (value === undefined) {
      value = argv[++i]
      // Missing, or a word oclif might take for a flag of its own.
      if (value === undefined || value.startsWith('-')) return undefined
    }
    if (value === '' || (spec.options !== undefined && !spec.options.includes(value))) return undefined
    if (spec.multiple) flags[name] = [...((flags[name] as string[] | undefined) ?? []), value]
    else flags[name] = value
  }
  const dashes = i < argv.length
  const rest = dashes ? argv.slice(i + 1) : []
  // One target before "--", or none (`--session S -- CMD`: oclif then takes the command's first word for the
  // target, and so does this); after it, the command (oclif moves a second "--" within its argv).
  if (positional.length > 1 || (positional.length === 0 && rest.length === 0) || rest.includes('--')) return undefined
  for (const [name, s] of Object.entries(specs)) if (s.default !== undefined && !(name in flags)) flags[name] = s.default
  const words = [...positional, ...rest]
  return {target: words[0]!, argv: words, flags}
}
