import {describe, expect, it} from 'vitest'

import {closeStdinFrame, decode, resizeFrame, STDIN_FRAME_MAX, stdinFrame, stdinFrames} from '../../src/backends/kubernetes/channels.js'

describe('channel frames', () => {
  it.each([
    [Buffer.from([1, 104, 105]), {kind: 'stdout', data: Buffer.from('hi')}],
    [Buffer.from([2, 33]), {kind: 'stderr', data: Buffer.from('!')}],
    [Buffer.from([255, 0]), {kind: 'close', channel: 0}],
    [Buffer.from([1]), {kind: 'stdout', data: Buffer.alloc(0)}],
    [Buffer.alloc(0), {kind: 'ignored'}],
    [Buffer.from([9, 1]), {kind: 'ignored'}],
  ])('decodes %j', (frame, expected) => expect(decode(frame)).toEqual(expected))

  it('decodes a status', () => {
    const status = {status: 'Failure', reason: 'NonZeroExitCode', details: {causes: [{reason: 'ExitCode', message: '3'}]}}
    const d = decode(Buffer.concat([Buffer.from([3]), Buffer.from(JSON.stringify(status))]))
    expect(d).toEqual({kind: 'status', status})
  })

  it('encodes', () => {
    expect(stdinFrame(Buffer.from('ls\n'))).toEqual(Buffer.from([0, 108, 115, 10]))
    expect(resizeFrame(100, 30).toString('latin1')).toBe('\x04{"Width":100,"Height":30}')
    expect(closeStdinFrame()).toEqual(Buffer.from([255, 0]))
  })
})

describe('stdinFrames', () => {
  const text = (frames: Buffer[]): string[] => frames.map((f) => `${f[0]}|${f.subarray(1).toString('latin1')}`)

  it.each([
    ['one chunk', ['abc'], undefined, 10, ['0|abc']],
    ['chunks joined', ['ab', 'cd', 'e'], undefined, 10, ['0|abcde']],
    ['split at the limit', ['abcd', 'efgh', 'ij'], undefined, 3, ['0|abc', '0|def', '0|ghi', '0|j']],
    ['relay chunks, each with its length', ['abcd', 'ef'], (n: number) => `${n}\n`, 4, ['0|4\nabcd', '0|2\nef']],
    ['empty chunks dropped, never an empty relay chunk', ['', 'ab', ''], (n: number) => `${n}\n`, 4, ['0|2\nab']],
    ['nothing', ['', ''], (n: number) => `${n}\n`, 4, []],
  ])('%s', (_name, chunks, header, max, expected) => {
    expect(text(stdinFrames(chunks.map((c) => Buffer.from(c)), header, max))).toEqual(expected)
  })

  it('moves every byte of large input once', () => {
    const data = Buffer.alloc(3_000_000)
    for (let i = 0; i < data.length; i++) data[i] = i % 251
    const chunks = [data.subarray(0, 65536), data.subarray(65536, 1_500_000), data.subarray(1_500_000)]
    const frames = stdinFrames(chunks)
    expect(frames.map((f) => f.length)).toEqual([STDIN_FRAME_MAX + 1, STDIN_FRAME_MAX + 1, 3_000_000 - 2 * STDIN_FRAME_MAX + 1])
    expect(Buffer.concat(frames.map((f) => f.subarray(1))).equals(data)).toBe(true)
  })
})
