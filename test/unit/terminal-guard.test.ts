import {describe, expect, it} from 'vitest'

import {TerminalGuard} from '../../src/session/terminal-guard.js'

const E = '\x1b'
const guard = (input: string | Buffer): string => new TerminalGuard().clean(Buffer.from(input)).toString('utf8')
/** The same input fed one byte at a time: a sequence split across chunks is judged the same. */
function byteByByte(input: string | Buffer): string {
  const g = new TerminalGuard()
  const bytes = Buffer.from(input)
  return Buffer.concat([...bytes].map((b) => g.clean(Buffer.from([b])))).toString('utf8')
}

const cases: Array<[string, string, string]> = [
  ['plain text and UTF-8', 'héllo wörld ✓ 🙂\r\n', 'héllo wörld ✓ 🙂\r\n'],
  ['tabs, backspace, bell', 'a\tb\bc\x07', 'a\tb\bc\x07'],
  ['colours (SGR)', `${E}[1;31mred${E}[0m`, `${E}[1;31mred${E}[0m`],
  ['cursor moves, erase, private modes', `${E}[2J${E}[H${E}[?25l${E}[?2004h${E}[10;20H`, `${E}[2J${E}[H${E}[?25l${E}[?2004h${E}[10;20H`],
  ['the cursor position query a line editor sends', `${E}[6n/ # `, `${E}[6n/ # `],
  ['a window title (OSC 0 and 2, BEL or ST)', `${E}]0;host: ~${E}\\${E}]2;vim\x07x`, `${E}]0;host: ~\x07${E}]2;vim\x07x`],
  ['save/restore cursor, charsets, keypad', `${E}7${E}8${E}(B${E}=${E}>`, `${E}7${E}8${E}(B${E}=${E}>`],
  ['clipboard write (OSC 52)', `a${E}]52;c;cm0gLXJmIH4=\x07b`, 'ab'],
  ['clipboard write ended by ST', `a${E}]52;c;cm0gLXJmIH4=${E}\\b`, 'ab'],
  ['hyperlinks, notifications, iTerm2 files (OSC 8, 9, 777, 1337)', `${E}]8;;http://evil/${E}\\x${E}]9;hi\x07${E}]777;notify;a;b\x07${E}]1337;File=x:QQ==\x07y`, 'xy'],
  ['colour changes (OSC 4, 11)', `${E}]4;1;rgb:ff/00/00\x07${E}]11;?\x07z`, 'z'],
  ['DCS (DECRQSS, tmux passthrough)', `a${E}P$qm${E}\\b${E}Ptmux;${E}${E}]52;c;eA==\x07${E}\\c`, 'abc'],
  ['APC (kitty graphics), PM, SOS', `a${E}_Gf=100;AAAA${E}\\b${E}^pm${E}\\c${E}Xsos${E}\\d`, 'abcd'],
  ['window operations and title reports (CSI t)', `a${E}[21tb${E}[8;100;100tc${E}[22;0t`, 'abc'],
  ['ENQ (answerback)', 'a\x05b', 'ab'],
  ['C1 controls as UTF-8 (CSI U+009B, OSC U+009D)', 'a\u009b6nb\u009d52;c;eA==\u0007c', 'a6nb52;c;eA==\x07c'],
  ['a title with a control character in it', `a${E}]0;x\x01y\x07b`, 'ab'],
  ['a title over 1 KB', `a${E}]0;${'t'.repeat(2000)}\x07b`, 'ab'],
  ['an OSC cut short by another ESC sequence', `${E}]52;c;eA==${E}[31mred`, `${E}[31mred`],
  ['a CAN inside a DCS', `a${E}Pjunk\x18b`, 'ab'],
]

describe('TerminalGuard', () => {
  it.each(cases)('%s', (_, input, expected) => {
    expect(guard(input)).toBe(expected)
    expect(byteByByte(input)).toBe(expected)
  })

  it('passes large plain output through unchanged, in one piece per chunk', () => {
    const big = Buffer.alloc(1 << 20, 'x')
    const out = new TerminalGuard().clean(big)
    expect(out.equals(big)).toBe(true)
  })

  it('keeps a sequence split across chunks whole', () => {
    const g = new TerminalGuard()
    const parts = [`a${E}`, '[3', '1m', `b${E}]5`, '2;c;x', '\x07c']
    expect(parts.map((p) => g.clean(Buffer.from(p)).toString()).join('')).toBe(`a${E}[31mbc`)
  })
})
