import {execFileSync, spawn} from 'node:child_process'
import {createHash} from 'node:crypto'
import {closeSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Writable} from 'node:stream'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {copyFile, copyStream} from '../../src/cli/process-io.js'

/**
 * A sink as slow and uneven as a busy engine: it calls back after a random delay, and checks at that moment that the
 * chunk still holds what it held when written, which a buffer reused before its write was done would not.
 */
class SlowCheckingSink extends Writable {
  readonly hash = createHash('md5')
  reusedTooEarly = 0
  constructor() {
    super({highWaterMark: 1024 * 1024})
  }
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    const copy = Buffer.from(chunk)
    this.hash.update(copy)
    setTimeout(
      () => {
        if (!chunk.equals(copy)) this.reusedTooEarly++
        done()
      },
      Math.random() < 0.3 ? 3 : 0,
    )
  }
}

function pump(start: (sink: SlowCheckingSink, events: {chunk(): void; error(e: Error): void}) => void): Promise<{sink: SlowCheckingSink; errors: Error[]}> {
  const sink = new SlowCheckingSink()
  const errors: Error[] = []
  return new Promise((resolve, reject) => {
    sink.on('finish', () => resolve({sink, errors}))
    sink.on('error', reject)
    start(sink, {chunk: () => {}, error: (e) => errors.push(e)})
  })
}

describe('stdin copied through reused buffers', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mindbg-copy-'))
  const data = Buffer.alloc(6_000_000)
  for (let i = 0; i < data.length; i++) data[i] = (i * 7919 + (i >> 13)) % 253
  const file = join(dir, 'data')
  beforeAll(() => writeFileSync(file, data))
  afterAll(() => rmSync(dir, {recursive: true, force: true}))
  const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex')

  it('a file, from where its offset is: every byte once, in order, no buffer written again before its write is done', async () => {
    const fd = openSync(file, 'r')
    try {
      readSync(fd, Buffer.alloc(1000), 0, 1000, null)
      const {sink, errors} = await pump((s, on) => copyFile(fd, s, on))
      expect(errors).toEqual([])
      expect(sink.reusedTooEarly).toBe(0)
      expect(sink.hash.digest('hex')).toBe(md5(data.subarray(1000)))
    } finally {
      closeSync(fd)
    }
  })

  it('a pipe (FIFO) fed by another process: the same, through pauses whenever every buffer is in flight', async () => {
    const fifo = join(dir, 'fifo')
    execFileSync('mkfifo', [fifo])
    const writer = spawn('sh', ['-c', 'cat "$0" >"$1"', file, fifo], {stdio: 'ignore'})
    const written = new Promise((resolve) => writer.once('exit', resolve))
    // Opened blocking: it returns once cat has it open for writing, so the first read cannot see an end of input.
    const fd = openSync(fifo, 'r')
    const {sink, errors} = await pump((s, on) => copyStream(fd, s, on))
    expect(await written).toBe(0)
    expect(errors).toEqual([])
    expect(sink.reusedTooEarly).toBe(0)
    expect(sink.hash.digest('hex')).toBe(md5(data))
  })

  it('stopped, it reads no more and does not end the sink', async () => {
    const fd = openSync(file, 'r')
    try {
      const sink = new SlowCheckingSink()
      let ended = false
      sink.on('finish', () => (ended = true))
      const stop = copyFile(fd, sink, {chunk: () => {}, error: () => {}})
      stop()
      await new Promise((resolve) => setTimeout(resolve, 50))
      expect(ended).toBe(false)
      expect(sink.writableLength).toBe(0)
    } finally {
      closeSync(fd)
    }
  })
})
