import {describe, expect, it} from 'vitest'

import {ControlFilters, exitTrailer, initRequest} from '../../src/backends/kubernetes/control-message.js'

const PREFIX = 'mindbg-exit:0123456789ab:'

/** Feeds `chunks` and returns what passed through and the exit code found. */
function run(chunks: string[]): {out: string; exitCode: number | undefined} {
  const t = exitTrailer(PREFIX)
  const out = chunks.map((c) => t.push(Buffer.from(c)).toString()).join('') + t.release().toString()
  return {out, exitCode: t.value === undefined ? undefined : Number(t.value)}
}

/** Every way of cutting `text` in two. */
const splits = (text: string): string[][] => Array.from({length: text.length + 1}, (_, i) => [text.slice(0, i), text.slice(i)])

describe('the exit trailer', () => {
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
    const t = exitTrailer(PREFIX)
    expect(t.push(Buffer.from('Please confirm')).toString()).toBe('Please confir')
    expect(t.holding).toBe(true)
    expect(t.release().toString()).toBe('m')
    expect(t.holding).toBe(false)
  })

  it('passes output through at once when it cannot be the trailer', () => {
    const t = exitTrailer(PREFIX)
    expect(t.push(Buffer.from('hello\n')).toString()).toBe('hello\n')
    expect(t.push(Buffer.from('mindbg-e')).toString()).toBe('')
    expect(t.push(Buffer.from('rror\n')).toString()).toBe('mindbg-error\n')
  })
})

describe('the init request, before the trailer on one stream', () => {
  const INIT = 'mindbg-init:0123456789ab:'
  const both = (): {init: ReturnType<typeof initRequest>; trailer: ReturnType<typeof exitTrailer>; filters: ControlFilters} => {
    const init = initRequest(INIT, 0x0a)
    const trailer = exitTrailer(PREFIX)
    return {init, trailer, filters: new ControlFilters([init, trailer])}
  }
  const stream = `${INIT}amd64\nout\n${PREFIX}4\n`
  it.each([[stream], ...splits(stream)])('takes out both, cut anywhere (%j)', (...chunks: string[]) => {
    const {init, trailer, filters} = both()
    const out = chunks.map((c) => filters.push(Buffer.from(c)).toString()).join('') + filters.release().toString()
    expect({out, init: init.value, exitCode: trailer.value}).toEqual({out: 'out\n', init: 'amd64', exitCode: '4'})
  })

  it('takes "-" (no init wanted) and refuses a value that is no architecture', () => {
    const a = both()
    expect(a.filters.push(Buffer.from(`${INIT}-\n`)).toString()).toBe('')
    expect(a.init.value).toBe('-')
    const b = both()
    expect(b.filters.push(Buffer.from(`${INIT}x y\n`)).toString()).toBe(`${INIT}x y\n`)
    expect(b.init.value).toBeUndefined()
  })

  it('only the first request counts: one printed later by a command is output', () => {
    const {init, filters} = both()
    filters.push(Buffer.from(`${INIT}amd64\n`))
    expect(filters.push(Buffer.from(`${INIT}arm64\n`)).toString()).toBe(`${INIT}arm64\n`)
    expect(init.value).toBe('amd64')
  })

  it('on a terminal: an OSC sequence ended by BEL, in the middle of the output', () => {
    const osc = '\x1b]mindbg-init;0123456789ab;'
    const init = initRequest(osc, 0x07)
    const filters = new ControlFilters([init])
    const out = [...`\r\n${osc}arm64\x07/ # `].map((c) => filters.push(Buffer.from(c)).toString()).join('')
    expect(out).toBe('\r\n/ # ')
    expect(init.value).toBe('arm64')
  })

  it('releases what it held, in stream order', () => {
    const {filters} = both()
    expect(filters.push(Buffer.from('a mindbg-ex')).toString()).toBe('a ')
    expect(filters.push(Buffer.from('mindbg-in')).toString()).toBe('')
    expect(filters.holding).toBe(true)
    expect(filters.release().toString()).toBe('mindbg-exmindbg-in')
  })
})
