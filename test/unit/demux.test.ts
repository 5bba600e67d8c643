import {describe, expect, it} from 'vitest'

import {StdDemuxer} from '../../src/backends/docker/demux.js'

const frame = (stream: number, text: string): Buffer => {
  const payload = Buffer.from(text)
  const header = Buffer.alloc(8)
  header[0] = stream
  header.writeUInt32BE(payload.length, 4)
  return Buffer.concat([header, payload])
}

describe('StdDemuxer', () => {
  const collect = (chunks: Buffer[]): {out: string; err: string; pending: number} => {
    let out = ''
    let err = ''
    const d = new StdDemuxer((s, p) => (s === 'stdout' ? (out += p) : (err += p)))
    for (const c of chunks) d.push(c)
    return {out, err, pending: d.pendingBytes}
  }

  it('separates stdout and stderr', () => {
    expect(collect([Buffer.concat([frame(1, 'a'), frame(2, 'b'), frame(1, 'c')])])).toEqual({out: 'ac', err: 'b', pending: 0})
  })

  it('reassembles frames cut at every byte', () => {
    const all = Buffer.concat([frame(1, 'hello '), frame(2, 'oops'), frame(1, 'world')])
    const bytes = [...all].map((b) => Buffer.from([b]))
    expect(collect(bytes)).toEqual({out: 'hello world', err: 'oops', pending: 0})
  })

  it('reports an unfinished frame', () => {
    const f = frame(1, 'truncated')
    expect(collect([f.subarray(0, 10)]).pending).toBe(10)
  })

  it('passes payloads on as views of the chunks, a cut frame as pieces', () => {
    const all = Buffer.concat([frame(1, 'hello '), frame(2, 'oops')])
    const pieces: Array<[string, string, boolean]> = []
    const d = new StdDemuxer((s, p) => pieces.push([s, p.toString(), p.buffer === all.buffer]))
    d.push(all.subarray(0, 11))
    d.push(all.subarray(11, 17))
    d.push(all.subarray(17))
    expect(pieces).toEqual([
      ['stdout', 'hel', true],
      ['stdout', 'lo ', true],
      ['stderr', 'oops', true],
    ])
    expect(d.pendingBytes).toBe(0)
  })

  it('skips empty frames and counts a cut header as pending', () => {
    const d = new StdDemuxer(() => expect.unreachable())
    d.push(Buffer.concat([frame(1, ''), frame(2, '').subarray(0, 5)]))
    expect(d.pendingBytes).toBe(5)
  })

  it('handles a large frame', () => {
    const big = 'x'.repeat(1 << 20)
    const f = frame(1, big)
    expect(collect([f.subarray(0, 1000), f.subarray(1000)]).out.length).toBe(1 << 20)
  })
})
