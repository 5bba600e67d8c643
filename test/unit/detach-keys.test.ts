import {describe, expect, it} from 'vitest'

import {DetachKeyMatcher, parseDetachKeys} from '../../src/session/detach-keys.js'

describe('parseDetachKeys', () => {
  it.each([
    ['ctrl-p,ctrl-q', [16, 17]],
    ['ctrl-a', [1]],
    ['ctrl-@', [0]],
    ['ctrl-[', [27]],
    ['ctrl-_', [31]],
    ['a,b', [97, 98]],
    ['ctrl-P, ctrl-Q', [16, 17]],
  ])('%s', (spec, bytes) => expect(parseDetachKeys(spec)).toEqual(bytes))

  it.each(['', 'ctrl-', 'ctrl-pp', 'alt-x', 'ab'])('rejects %j', (spec) => expect(() => parseDetachKeys(spec)).toThrow(/detach-keys/))
})

describe('DetachKeyMatcher', () => {
  const run = (chunks: string[]): {out: string; detach: boolean} => {
    const m = new DetachKeyMatcher([16, 17])
    let out = ''
    for (const c of chunks) {
      const r = m.push(Buffer.from(c, 'latin1'))
      out += r.forward.toString('latin1')
      if (r.detach) return {out, detach: true}
    }
    return {out, detach: false}
  }

  it.each([
    {name: 'plain text passes', chunks: ['ls -l\r'], out: 'ls -l\r', detach: false},
    {name: 'sequence in one chunk', chunks: ['ab\x10\x11cd'], out: 'ab', detach: true},
    {name: 'sequence split across chunks', chunks: ['ab\x10', '\x11'], out: 'ab', detach: true},
    {name: 'held prefix released when not completed', chunks: ['\x10', 'x'], out: '\x10x', detach: false},
    {name: 'repeated first key', chunks: ['\x10\x10\x11'], out: '\x10', detach: true},
    {name: 'second key alone passes', chunks: ['\x11'], out: '\x11', detach: false},
  ])('$name', ({chunks, out, detach}) => expect(run(chunks)).toEqual({out, detach}))
})
