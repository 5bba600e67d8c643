/**
 * The conventions of the tools an SRE already knows: -h and `help` as every CLI has them, docker's --env-file and
 * --interactive, and a bin entry whose flags node never reads as its own (run as the executable, shebang and all).
 */
import {spawn} from 'node:child_process'
import {mkdtempSync, readdirSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {BIN, collect, mindbg, ROOT, type RunResult, sharedTarget, testEnv} from './helpers.js'

const COMMANDS = readdirSync(join(ROOT, 'commands')).filter((f) => f.endsWith('.ts')).map((f) => f.slice(0, -3))

/** bin/run.js as a shell runs it: through its shebang, with node found on PATH. */
export function runExecutable(file: string, args: string[], env: Record<string, string | undefined> = {}, stdin: 'pipe' | 'ignore' = 'pipe'): Promise<RunResult> {
  const child = spawn(file, args, {env: testEnv({PATH: `${dirname(process.execPath)}:${process.env.PATH}`, ...env}), stdio: [stdin, 'pipe', 'pipe']})
  child.stdin?.end()
  return collect(child)
}

describe('help', () => {
  it('-h is --help, and `help [COMMAND]` is the same help, for mindbg and every command: exit 0, on stdout', async () => {
    for (const command of [[], ...COMMANDS.map((c) => [c])]) {
      const [long, short, help] = await Promise.all([mindbg([...command, '--help']), mindbg([...command, '-h']), mindbg(['help', ...command])])
      expect(long.code, `mindbg ${command} --help: ${long.stderr}`).toBe(0)
      expect(long.stdout).toMatch(/USAGE/)
      for (const r of [short, help]) expect({code: r.code, stdout: r.stdout, stderr: r.stderr}).toEqual({code: 0, stdout: long.stdout, stderr: ''})
    }
  })

  it('an unknown command under help: usage error 2', async () => {
    const r = await mindbg(['help', 'nosuch'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/nosuch not found/)
  })
})

describe("docker's flags on attach", () => {
  const web = sharedTarget()

  it('-h after "--" is the command\'s', async () => {
    const r = await mindbg(['attach', web(), '--', 'echo', '-h'])
    expect(r).toMatchObject({code: 0, stdout: '-h\n'})
  })

  it('--env-file (repeatable, docker\'s format) under -e, through the executable: node does not take --env-file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mindbg-env-file-'))
    writeFileSync(join(dir, 'a.env'), '# comment\n\nFROM_A=a value "kept"\nBOTH=from-file\nCOPIED\nNOT_SET_HERE\n')
    writeFileSync(join(dir, 'b.env'), 'FROM_B=b\n')
    const r = await runExecutable(BIN, ['attach', '--env-file', join(dir, 'a.env'), '--env-file', join(dir, 'b.env'), '-e', 'BOTH=from-flag', web(), '--', 'env'], {COPIED: 'from-mindbg'})
    expect(r.code, r.stderr).toBe(0)
    const env = r.stdout.split('\n')
    expect(env).toEqual(expect.arrayContaining(['FROM_A=a value "kept"', 'BOTH=from-flag', 'COPIED=from-mindbg', 'FROM_B=b']))
    expect(r.stdout).not.toMatch(/NOT_SET_HERE|BOTH=from-file/)
  })

  it('a missing --env-file: usage error 2 naming it, nothing created', async () => {
    const r = await runExecutable(BIN, ['attach', '--env-file', '/nonexistent/x.env', web(), '--', 'true'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^mindbg: cannot read --env-file \/nonexistent\/x\.env \(ENOENT\)/)
  })

  it('--interactive is -i', async () => {
    const openStdin = async (flag: string[]): Promise<unknown> => {
      const r = await runExecutable(BIN, ['attach', ...flag, '--dry-run', '--json', web(), '--', 'cat'], {}, 'ignore')
      expect(r.code, r.stderr).toBe(0)
      return (JSON.parse(r.stdout) as {spec: {OpenStdin: boolean}}).spec.OpenStdin
    }
    expect(await openStdin([])).toBe(false)
    expect(await openStdin(['--interactive'])).toBe(true)
    expect(await openStdin(['-i'])).toBe(true)
  })
})
