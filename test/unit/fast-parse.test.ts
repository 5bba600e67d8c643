import {describe, expect, it} from 'vitest'

import Attach from '../../commands/attach.js'
import {fastParse} from '../../src/cli/fast-parse.js'
import {ATTACH_FLAGS, GLOBAL_FLAGS} from '../../src/cli/flag-table.js'

/** What oclif's own parse gives the attach command for these words. */
async function oclifParse(argv: string[]): Promise<{target: string | undefined; argv: string[]; flags: Record<string, unknown>}> {
  class Probe extends Attach {
    override async run(): Promise<never> {
      const {args, argv: words, flags} = await this.parse(Attach)
      throw Object.assign(new Error('parsed'), {parsed: {target: args.target, argv: words as string[], flags}})
    }
  }
  try {
    await Probe.run(argv, new URL('../../', import.meta.url).pathname)
  } catch (error) {
    const parsed = (error as {parsed?: Awaited<ReturnType<typeof oclifParse>>}).parsed
    if (parsed) return parsed
    throw error
  }
  throw new Error('not parsed')
}

const FLAGS = {...ATTACH_FLAGS, ...GLOBAL_FLAGS}

describe("attach's fast path parses exactly as oclif does, or leaves the words to oclif", () => {
  it.each([
    ['web'],
    ['web', '--', 'ps', 'aux'],
    ['-q', 'web', '--', 'true'],
    ['web', '-q', '--debug', '--', 'sh', '-c', 'exit 3'],
    ['-e', 'A=1', 'web', '-e', 'B', '--env', 'C=3', '--env=D=4', '--', 'env'],
    ['--image', 'busybox:1.37', '--profile', 'netadmin', '--pull=never', 'web', '--', 'ip', 'a'],
    ['--name', 'dbg', '--reason', 'INC-1 two words', '--user', '0:0', '-w', '/tmp', 'web'],
    ['-i', '-t', 'web'],
    ['--interactive', '--no-tty', 'web', '--', 'cat'],
    ['--no-stdin', 'web', '--', 'true'],
    ['--chroot', '--privileged', '--cap-add', 'SYS_PTRACE', '--cap-add', 'NET_ADMIN', 'web', '--', 'ls'],
    ['--detach-keys', 'ctrl-x', 'web'],
    ['docker://web', '--dry-run'],
    ['pod/web/app', '-n', 'shop', '--context', 'kind', '--kubeconfig', '/k', '--', 'ps'],
    ['pod/web', '--copy-to', 'web-copy', '--set-image', '*=busybox', '--keep-init-containers', '--', 'sh'],
    ['pod/web', '--no-keep-init-containers', '--', 'sh'],
    ['web', '--', 'pgrep', 'web'],
    ['web', '--', '-x'],
    ['web', '--'],
    // No target before "--": oclif takes the command's first word for one (runAttach knows it is none).
    ['--session', 's', '--', 'ps', 'aux'],
    ['-q', '--session=s', '--', 'sh', '-c', 'exit 3'],
    ['web', '--detach', '--ttl', '10m'],
  ].map((argv) => [argv]))('%j', async (argv) => {
    const fast = fastParse(FLAGS, argv)
    expect(fast).toBeDefined()
    const oclif = await oclifParse(argv)
    expect(fast!.target).toBe(oclif.target)
    expect(fast!.flags).toEqual(oclif.flags)
    // The same words; after "--" oclif may reorder them (the command reads them from the raw argv there).
    if (argv.includes('--')) expect([...fast!.argv].sort()).toEqual([...oclif.argv].sort())
    else expect(fast!.argv).toEqual(oclif.argv)
  })

  // Spellings oclif reads in ways of its own (or refuses with its own message): not taken by the fast path.
  it.each([
    [[], 'no target'],
    [['web', 'ps', 'aux'], 'a command without "--"'],
    [['web', '-it'], 'combined short flags'],
    [['web', '-eA=1'], 'a value attached to a short flag'],
    [['web', '--no-interactive'], "an alias's --no- form"],
    [['web', '--tty=false'], 'a value given to a boolean'],
    [['--image', '-x', 'web'], 'a value that looks like a flag'],
    [['web', '--image', '--', 'x'], 'a value that is "--"'],
    [['web', '--image'], 'a missing value'],
    [['web', '--image='], 'an empty value'],
    [['web', '--profile', 'nosuch'], 'a value outside the options'],
    [['web', '--image', 'a', '--image', 'b'], 'a flag given twice'],
    [['web', '-i', '-i'], 'a boolean given twice'],
    [['web', '--json', '--dry-run'], '--json'],
    [['web', '--help'], 'help'],
    [['web', '-h'], 'help'],
    [['web', '--nosuch'], 'an unknown flag'],
    [['web', '-', '--', 'x'], 'a lone dash'],
    [['web', '--', 'a', '--', 'b'], 'a second "--" (oclif moves it)'],
  ])('%j: %s', (argv) => {
    expect(fastParse(FLAGS, argv)).toBeUndefined()
  })
})
