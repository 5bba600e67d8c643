import {describe, expect, it} from 'vitest'

import {ExitTrailer} from '../../src/backends/kubernetes/exit-trailer.js'

const PREFIX = 'mindbg-exit:0123456789ab:'

/** Feeds `chunks` and returns what passed through and the exit code found. */
function run(chunks: string[]): {out: string; exitCode: number | undefined} {
  const t = new ExitTrailer(PREFIX)
  const out = chunks.map((c) => t.push(Buffer.from(c)).toString()).join('') + t.release().toString()
  return {out, exitCode: t.exitCode}
}

/** Every way of cutting `text` in two. */
const splits = (text: string): string[][] => Array.from({length: text.length + 1}, (_, i) => [text.slice(0, i), text.slice(i)])

describe('ExitTrailer', () => {
  const cases: Array<[string, string, string, number | undefined]> = [
    ['trailer alone', `${PREFIX}0\n`, '', 0],
    ['after output that ends with a newline', `oops\n${PREFIX}3\n`, 'oops\n', 3],
    ['after output without a newline', `partial${PREFIX}127\n`, 'partial', 127],
    ['no trailer (killed)', 'some output\n', 'some output\n', undefined],
    ['a prefix of the trailer at the very end is output', `abc${PREFIX.slice(0, 10)}`, `abc${PREFIX.slice(0, 10)}`, undefined],
    ['another session id is output', 'mindbg-exit:ffffffffffff:1\n', 'mindbg-exit:ffffffffffff:1\n', undefined],
    ['not a number is output', `${PREFIX}x\n`, `${PREFIX}x\n`, undefined],
    ['digits cut off by the end of the stream are output', `${PREFIX}12`, `${PREFIX}12`, undefined],
  ]
  it.each(cases)('%s, cut anywhere', (_name, stream, expectedOut, expectedCode) => {
    for (const chunks of [[stream], ...splits(stream)]) {
      expect(run(chunks), JSON.stringify(chunks)).toEqual({out: expectedOut, exitCode: expectedCode})
    }
  })

  it('cut into single bytes', () => {
    expect(run([...`x\n${PREFIX}42\n`])).toEqual({out: 'x\n', exitCode: 42})
  })

  it('holds back only what could start the trailer, and gives it up on release', () => {
    const t = new ExitTrailer(PREFIX)
    expect(t.push(Buffer.from('Please confirm')).toString()).toBe('Please confir')
    expect(t.holding).toBe(true)
    expect(t.release().toString()).toBe('m')
    expect(t.holding).toBe(false)
  })

  it('passes output through at once when it cannot be the trailer', () => {
    const t = new ExitTrailer(PREFIX)
    expect(t.push(Buffer.from('hello\n')).toString()).toBe('hello\n')
    expect(t.push(Buffer.from('mindbg-e')).toString()).toBe('')
    expect(t.push(Buffer.from('rror\n')).toString()).toBe('mindbg-error\n')
  })
})
