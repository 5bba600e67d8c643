/**
 * A compromised target against the session (issue 9, item 14). Under --profile restricted the sidecar runs as the
 * target's user, so the target can open the sidecar's /proc/<pid>/fd/1 and write into what the user's terminal
 * shows. What reaches a terminal is guarded (src/session/terminal-guard.ts): the text shows, the sequences that act
 * on the terminal (clipboard, file transfer, title reports, DCS) do not. Output that is data (not a terminal) stays
 * byte for byte what the command wrote.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {PtySession} from '../support/pty.js'
import {BUSYBOX, mindbg, removeTargets, requireEngine, startTarget} from './helpers.js'

const ATTACK = '\\033]52;c;cm0gLXJmIH4K\\007\\033P$qm\\033\\\\\\033[21tHOSTILE-TEXT\\n'
/** Writes the attack into fd 1 of every process it may open, its own excepted, every 50 ms. */
const HOSTILE = `while :; do for p in /proc/[0-9]*; do [ "$p" = /proc/$$ ] || printf '${ATTACK}' 2>/dev/null >"$p/fd/1"; done; sleep 0.05; done`

let target = ''
beforeAll(() => {
  requireEngine()
  target = startTarget(['--user', '1000:1000', '--entrypoint', 'sh'], BUSYBOX, ['-c', HOSTILE])
})
afterAll(removeTargets)

describe('a hostile target, same user as the sidecar (--profile restricted)', () => {
  it('writes into the session terminal: its text shows, its terminal commands do not', {timeout: 60_000}, async () => {
    const s = PtySession.mindbg(['attach', target, '-q', '--profile', 'restricted', '-t', '--', 'sh', '-c', 'sleep 1.5; echo session-done'])
    try {
      await s.expect(/session-done/, 20_000)
      const exit = await s.waitExit()
      expect(exit.exitCode).toBe(0)
      const screen = s.output
      expect(screen, 'the attack did reach the sidecar: the test would prove nothing otherwise').toMatch(/HOSTILE-TEXT/)
      expect(screen).not.toMatch(/\x1b\]52/)
      expect(screen).not.toMatch(/\x1bP/)
      expect(screen).not.toMatch(/\x1b\[21t/)
    } finally {
      await s.close()
    }
  })

  it('output that is data (a pipe, not a terminal) is passed on byte for byte', {timeout: 60_000}, async () => {
    const r = await mindbg(['attach', target, '-q', '--', 'printf', '\\033]52;c;eA==\\007\\033[31mx'])
    expect(r.code).toBe(0)
    expect(r.stdout).toBe('\x1b]52;c;eA==\x07\x1b[31mx')
  })
})
