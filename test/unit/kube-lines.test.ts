import {describe, expect, it} from 'vitest'

import {splitLines} from '../../src/backends/lines.js'

/** A watch's events, one JSON object a line, however the server's chunks cut them. */
describe('splitLines', () => {
  const text = '{"type":"ADDED"}\n\n  \n{"type":"MODIFIED","object":{"big":"' + 'x'.repeat(5000) + '"}}\n{"last":true}'
  const expected = ['{"type":"ADDED"}', `{"type":"MODIFIED","object":{"big":"${'x'.repeat(5000)}"}}`, '{"last":true}']
  const cut = (sizes: number[]): string[] => {
    const chunks: string[] = []
    let at = 0
    for (let i = 0; at < text.length; i++) {
      const size = sizes[i % sizes.length]!
      chunks.push(text.slice(at, at + size))
      at += size
    }
    return chunks
  }

  it.each([
    {how: 'one chunk', sizes: [text.length]},
    {how: 'one character a chunk', sizes: [1]},
    {how: 'chunks of 7', sizes: [7]},
    {how: 'a chunk ending just before a newline, then one starting with it', sizes: [16, 1, 3]},
    {how: 'large and small', sizes: [4096, 3, 1000]},
  ])('$how: the same non-blank lines, the last one at the end', ({sizes}) => {
    const lines: string[] = []
    const split = splitLines((line) => lines.push(line))
    for (const chunk of cut(sizes)) split.push(chunk)
    expect(lines).toEqual(expected.slice(0, 2))
    split.end()
    expect(lines).toEqual(expected)
  })
})
