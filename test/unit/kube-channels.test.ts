import {describe, expect, it} from 'vitest'

import {closeStdinFrame, decode, resizeFrame, stdinFrame} from '../../src/backends/kubernetes/channels.js'

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
