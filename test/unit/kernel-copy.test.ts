/**
 * stdin copied by `mindbg-init --copy-in` (dist/init, as built) into a real unix socket, as a session's input goes
 * into the engine's attach socket: every byte once and in order, the socket's sending side shut down at the end (the
 * command's stdin ends), the sink ended after it; stopped, killed; the in-process copy where the init cannot run.
 */
import {execFileSync, spawn} from 'node:child_process'
import {createHash} from 'node:crypto'
import {closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync} from 'node:fs'
import {createServer, type Server, type Socket} from 'node:net'
import {arch, tmpdir} from 'node:os'
import {join} from 'node:path'
import {Writable} from 'node:stream'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {copyInKernel, type KernelCopy} from '../../src/cli/process-io.js'

const dir = mkdtempSync(join(tmpdir(), 'mindbg-kcopy-'))
const data = Buffer.alloc(6_000_000)
for (let i = 0; i < data.length; i++) data[i] = (i * 7919 + (i >> 13)) % 253
const file = join(dir, 'data')
const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex')
const alive = (pid: number): boolean => existsSync(`/proc/${pid}`)

/** A connected unix socket pair: `client` as the engine's attach socket on mindbg's side, `server` as the engine. */
let server: Server
const accepted: Socket[] = []
const socketPath = join(dir, 'engine.sock')
beforeAll(async () => {
  writeFileSync(file, data)
  server = createServer((s) => accepted.push(s))
  await new Promise<void>((resolve) => server.listen(socketPath, resolve))
})
afterAll(() => {
  server.close()
  rmSync(dir, {recursive: true, force: true})
})

async function connected(): Promise<{client: Socket; engine: Socket; fd: number}> {
  const {connect} = await import('node:net')
  const before = accepted.length
  const client = connect(socketPath)
  await new Promise((resolve) => client.once('connect', resolve))
  while (accepted.length === before) await new Promise((r) => setTimeout(r, 5))
  const fd = (client as unknown as {_handle: {fd: number}})._handle.fd
  return {client, engine: accepted[accepted.length - 1]!, fd}
}

/** A sink that only records its end, as socketInput's final (the socket's end) would be called. */
function endRecorder(): Writable & {ended: boolean} {
  const sink = new Writable({write: (_c, _e, done) => done()}) as Writable & {ended: boolean}
  sink.ended = false
  sink.on('finish', () => (sink.ended = true))
  return sink
}

// The build's own (dist/init), as the CLI finds it next to its bundle (initOfThisMachine); this file runs the source.
const init = new URL(`../../dist/init/mindbg-init-${arch() === 'x64' ? 'amd64' : 'arm64'}`, import.meta.url).pathname

async function copied(source: number, how: KernelCopy['how']): Promise<{received: Buffer; errors: Error[]; sink: Writable & {ended: boolean}; usedInstead: boolean}> {
  const {client, engine, fd} = await connected()
  const chunks: Buffer[] = []
  engine.on('data', (c: Buffer) => chunks.push(c))
  const engineSawEnd = new Promise((resolve) => engine.once('end', resolve))
  const sink = endRecorder()
  const errors: Error[] = []
  let usedInstead = false
  copyInKernel({init, source, how, sinkSocketFd: fd, sink, on: {error: (e) => errors.push(e)}, instead: () => ((usedInstead = true), undefined)})
  await engineSawEnd
  await new Promise((resolve) => (sink.ended ? resolve(undefined) : sink.once('finish', resolve)))
  client.destroy()
  return {received: Buffer.concat(chunks), errors, sink, usedInstead}
}

describe('stdin copied inside the kernel (mindbg-init --copy-in)', () => {
  it('this machine has an init to do it with', () => {
    expect(existsSync(init)).toBe(true)
  })

  it('a file, from where its offset is: every byte once, in order; then the socket\'s end, and the sink\'s', async () => {
    const fd = openSync(file, 'r')
    try {
      readSync(fd, Buffer.alloc(1000), 0, 1000, null)
      const r = await copied(fd, 'file')
      expect(r.errors).toEqual([])
      expect(r.usedInstead).toBe(false)
      expect(r.received.length).toBe(data.length - 1000)
      expect(md5(r.received)).toBe(md5(data.subarray(1000)))
      expect(r.sink.ended).toBe(true)
    } finally {
      closeSync(fd)
    }
  })

  it('a pipe (FIFO) fed slowly by another process: the same', async () => {
    const fifo = join(dir, 'fifo')
    execFileSync('mkfifo', [fifo])
    // In pieces with pauses: splice must wait for more, not take an empty pipe for the end.
    // Opened read-write first, which does not wait for a reader; the reader opened then does not wait for a writer;
    // and the test's own write end closed once the writer has its copy: the pipe ends when the writer does.
    const writeEnd = openSync(fifo, 'w+')
    const writer = spawn('sh', ['-c', 'head -c 3000000 "$0"; sleep 0.2; tail -c +3000001 "$0"', file], {stdio: ['ignore', writeEnd, 'ignore']})
    const fd = openSync(fifo, 'r')
    closeSync(writeEnd)
    const written = new Promise((resolve) => writer.once('exit', resolve))
    const r = copied(fd, 'pipe')
    expect(await written).toBe(0)
    const result = await r
    closeSync(fd)
    expect(result.errors).toEqual([])
    expect(md5(result.received)).toBe(md5(data))
  })

  it('a file the kernel cannot send from (a /proc file): copied by read and write instead, all of it', async () => {
    // This process's environment (sendfile from it: EINVAL, as from most of /proc).
    const fd = openSync('/proc/self/environ', 'r')
    try {
      const r = await copied(fd, 'file')
      expect(r.errors).toEqual([])
      expect(r.received.length).toBeGreaterThan(0)
      expect(r.received).toEqual(readFileSync('/proc/self/environ'))
    } finally {
      closeSync(fd)
    }
  })

  it('stopped while the engine takes nothing: the copy is killed, the sink not ended', async () => {
    const {client, engine, fd: socketFd} = await connected()
    engine.pause() // the engine reads nothing: the copy blocks once the socket's buffers are full
    const fd = openSync(file, 'r')
    const sink = endRecorder()
    const stop = copyInKernel({init, source: fd, how: 'file', sinkSocketFd: socketFd, sink, on: {error: () => {}}, instead: () => undefined})
    await new Promise((r) => setTimeout(r, 300))
    const pid = Number(execFileSync('sh', ['-c', `pgrep -P ${process.pid} -f -- '--copy-in file' || true`], {encoding: 'utf8'}).trim().split('\n')[0])
    expect(pid).toBeGreaterThan(0)
    stop()
    for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 10))
    expect(alive(pid)).toBe(false)
    expect(sink.ended).toBe(false)
    closeSync(fd)
    client.destroy()
    engine.destroy()
  })

  it('where the init cannot be started, the in-process copy does it instead', async () => {
    const {client, fd: socketFd} = await connected()
    const fd = openSync(file, 'r')
    const instead = new Promise<void>((resolve) => {
      copyInKernel({init: join(dir, 'no-such-init'), source: fd, how: 'file', sinkSocketFd: socketFd, sink: endRecorder(), on: {error: () => {}}, instead: () => (resolve(), undefined)})
    })
    await instead
    closeSync(fd)
    client.destroy()
  })
})
