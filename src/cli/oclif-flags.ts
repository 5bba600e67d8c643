import {Flags, type Interfaces} from '#oclif'

import type {FlagSpec} from './flag-table.js'

/**
 * The oclif flags of a flag table (src/cli/flag-table.ts): the one place where mindbg's flags meet oclif. Their
 * values are typed by the table (FlagValues), not by oclif's inference.
 */
export function oclifFlags(specs: Record<string, FlagSpec>): Interfaces.FlagInput {
  const flags: Record<string, unknown> = {}
  for (const [name, s] of Object.entries(specs)) {
    const common = {
      description: s.description,
      ...(s.char === undefined ? {} : {char: s.char as 'n'}),
      ...(s.aliases === undefined ? {} : {aliases: [...s.aliases]}),
      ...(s.helpGroup === undefined ? {} : {helpGroup: s.helpGroup}),
    }
    const options = s.options === undefined ? {} : {options: [...s.options]}
    flags[name] =
      s.kind === 'boolean'
        ? Flags.boolean({...common, ...(s.allowNo ? {allowNo: true} : {})})
        : s.multiple
          ? Flags.string({...common, ...options, multiple: true, multipleNonGreedy: true})
          : Flags.string({...common, ...options, ...(s.default === undefined ? {} : {default: s.default})})
  }
  return flags as Interfaces.FlagInput
}
