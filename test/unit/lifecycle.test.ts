import {PassThrough, Readable, Writable} from 'node:stream'

import {describe, expect, it} from 'vitest'

import type {Debugger, DebuggerLink} from '../../src/backends/backend.js'
import {DebuggerOutput} from '../../src/backends/output.js'
import {MindbgError} from '../../src/domain/errors.js'
import {SILENT} from '../../src/domain/reporter.js'
import type {StreamMode} from '../../src/domain/request.js'
import type {StopRequest} from '../../src/domain/session.js'
import {runSession, type SessionIO} from '../../src/session/lifecycle.js'

/**
 * The session lifecycle driven through an in-memory backend: a "debugger" is a script that writes output, reads
 * input and exits when told. No engine, no process-global state.
 */
interface Script {
  /** Runs once the session starts the debugger; resolves with its exit code (never, if it waits to be stopped). */
  run(io: {out(data: string | Buffer): Promise<void>; err(data: string): Promise<void>; input: Readable}): Promise<number>
  checkTarget?: (code: number) => Promise<void>
  failStart?: Error
}

class FakeDebugger implements Debugger {
  readonly runtime = 'docker'
  readonly target = {runtime: 'docker', name: 'web', id: 'abc', image: 'img', state: 'running', stateDetail: '', stateMessage: '', stateHint: ''} as const
  readonly notice = undefined
  ended = 0
  left = 0
  link: FakeLink | undefined

  constructor(
    readonly name: string,
    private readonly script: Script,
    readonly streams: StreamMode = {stdin: true, tty: false, detachKeys: [16, 17], detachKeysSpec: 'ctrl-p,ctrl-q'},
    readonly fresh = true,
    readonly image = 'busybox',
  ) {}

  async attach(): Promise<DebuggerLink> {
    this.link = new FakeLink(this.script)
    return this.link
  }

  async end(): Promise<void> {
    this.ended++
    this.link?.kill()
  }

  leave(): string {
    this.left++
    return `detached from ${this.name}`
  }
}

class FakeLink implements DebuggerLink {
  readonly stdout: Readable
  readonly stderr: Readable
  readonly input: Writable
  readonly exited: Promise<number>
  /** How often the output had to wait for a slow reader. */
  pauses = 0
  closed = false
  received = Buffer.alloc(0)
  private readonly output: DebuggerOutput
  private resumeWaiters: Array<() => void> = []
  private paused = false
  private startIt: () => void = () => {}
  private killIt: () => void = () => {}

  constructor(private readonly script: Script) {
    this.output = new DebuggerOutput({
      pause: () => {
        this.paused = true
        this.pauses++
      },
      resume: () => {
        this.paused = false
        for (const w of this.resumeWaiters.splice(0)) w()
      },
    })
    this.stdout = this.output.stdout
    this.stderr = this.output.stderr
    const inputSide = new PassThrough()
    this.input = new Writable({
      write: (chunk: Buffer, _e, done) => {
        this.received = Buffer.concat([this.received, chunk])
        inputSide.write(chunk, () => done())
      },
      final: (done) => {
        inputSide.end()
        done()
      },
    })
    const started = new Promise<void>((r) => (this.startIt = r))
    const killed = new Promise<number>((r) => (this.killIt = () => r(137)))
    const write = (stream: 'stdout' | 'stderr') => async (data: string | Buffer) => {
      // A real source stops delivering while paused: so does this one.
      while (this.paused) await new Promise<void>((r) => this.resumeWaiters.push(r))
      this.output.push(stream, Buffer.from(data))
    }
    this.exited = started
      .then(() => Promise.race([script.run({out: write('stdout'), err: write('stderr'), input: inputSide}), killed]))
      .finally(() => this.output.end())
  }

  async start(): Promise<void> {
    if (this.script.failStart) throw this.script.failStart
    this.startIt()
  }

  resize(): void {}

  close(): void {
    this.closed = true
    this.kill()
  }

  kill(): void {
    this.killIt()
  }

  async checkTarget(code: number): Promise<void> {
    await this.script.checkTarget?.(code)
  }
}

/** A Writable that keeps what it is given, optionally slowly. */
function sink(options: {delayMs?: number; highWaterMark?: number} = {}): Writable & {text(): string; bytes(): number} {
  const chunks: Buffer[] = []
  const w = new Writable({
    highWaterMark: options.highWaterMark ?? 16 * 1024,
    write(chunk: Buffer, _e, done) {
      chunks.push(chunk)
      if (options.delayMs) setTimeout(done, options.delayMs)
      else done()
    },
  })
  return Object.assign(w, {text: () => Buffer.concat(chunks).toString(), bytes: () => chunks.reduce((n, c) => n + c.length, 0)})
}

const io = (over: Partial<SessionIO> = {}): SessionIO & {stdout: ReturnType<typeof sink>; stderr: ReturnType<typeof sink>} =>
  ({stdin: Readable.from([]), stdout: sink(), stderr: sink(), ...over}) as never

const forever = (): Promise<number> => new Promise(() => {})
const options = (signal?: AbortSignal) => ({runtime: 'docker' as const, reporter: SILENT, signal})

describe('runSession', () => {
  it('relays output and passes the exit code through; the debugger is ended once', async () => {
    const dbg = new FakeDebugger('a', {
      async run({out, err}) {
        await out('hello\n')
        await err('oops\n')
        return 3
      },
    })
    const streams = io()
    const result = await runSession(async () => dbg, streams, options())
    expect(result).toMatchObject({exitCode: 3, ending: 'exit', debugger: {name: 'a', image: 'busybox'}, target: {name: 'web', id: 'abc'}})
    expect(streams.stdout.text()).toBe('hello\n')
    expect(streams.stderr.text()).toBe('oops\n')
    expect(dbg.ended).toBe(1)
    const t = result.timings
    expect(t.requested).toBeLessThanOrEqual(t.created!)
    expect(t.created!).toBeLessThanOrEqual(t.started!)
    expect(t.started!).toBeLessThanOrEqual(t.ended)
  })

  it('loses no output to a slow reader: every byte is written before the session ends', async () => {
    const chunk = Buffer.alloc(64 * 1024, 'x')
    const dbg = new FakeDebugger('slow', {
      async run({out}) {
        for (let i = 0; i < 16; i++) await out(chunk)
        return 0
      },
    })
    const streams = io({stdout: sink({delayMs: 2, highWaterMark: 1024})})
    const result = await runSession(async () => dbg, streams, options())
    expect(result.exitCode).toBe(0)
    expect(streams.stdout.bytes()).toBe(16 * chunk.length)
    // The source was held back while the reader caught up (backpressure), not buffered without bound.
    expect(dbg.link!.pauses).toBeGreaterThan(0)
  })

  it('forwards input and its end', async () => {
    const dbg = new FakeDebugger('cat', {
      async run({out, input}) {
        for await (const c of input) await out(c as Buffer)
        return 0
      },
    })
    const streams = io({stdin: Readable.from([Buffer.from('one '), Buffer.from('two')])})
    const result = await runSession(async () => dbg, streams, options())
    expect(result.exitCode).toBe(0)
    expect(streams.stdout.text()).toBe('one two')
  })

  it('a stop from the caller ends the debugger and reports the stop', async () => {
    const dbg = new FakeDebugger('long', {run: forever})
    const stop = new AbortController()
    const running = runSession(async () => dbg, io(), options(stop.signal))
    await new Promise((r) => setTimeout(r, 20))
    stop.abort({exitCode: 143, ending: 'stopped'} satisfies StopRequest)
    const result = await running
    expect(result).toMatchObject({exitCode: 143, ending: 'stopped'})
    expect(dbg.link!.closed).toBe(true)
    expect(dbg.ended).toBe(1)
  })

  it('a stop while the debugger is still being created ends it as soon as it exists', async () => {
    const dbg = new FakeDebugger('slow-create', {run: forever})
    const stop = new AbortController()
    const running = runSession(
      async () => {
        stop.abort({exitCode: 130, ending: 'stopped'} satisfies StopRequest)
        await new Promise((r) => setTimeout(r, 30))
        return dbg
      },
      io(),
      options(stop.signal),
    )
    expect(await running).toMatchObject({exitCode: 130, ending: 'stopped'})
    expect(dbg.ended).toBe(1)
  })

  it('a closed stdout (EPIPE) ends the session with 141', async () => {
    const stdout = sink()
    const dbg = new FakeDebugger('pipe', {
      async run({out}) {
        await out('x')
        stdout.emit('error', Object.assign(new Error('write EPIPE'), {code: 'EPIPE'}))
        return forever()
      },
    })
    const result = await runSession(async () => dbg, io({stdout}), options())
    expect(result).toMatchObject({exitCode: 141, ending: 'output-closed'})
    expect(dbg.ended).toBe(1)
  })

  it('the detach keys on a terminal leave the debugger running', async () => {
    const streams: StreamMode = {stdin: true, tty: true, detachKeys: [16, 17], detachKeysSpec: 'ctrl-p,ctrl-q'}
    const dbg = new FakeDebugger('shell', {run: forever}, streams)
    const stdin = new PassThrough()
    const stderr = sink()
    const running = runSession(async () => dbg, io({stdin, stderr}), options())
    await new Promise((r) => setTimeout(r, 20))
    stdin.write(Buffer.from('ls\r\x10\x11'))
    const result = await running
    expect(result).toMatchObject({exitCode: 0, ending: 'detached'})
    expect(dbg.left).toBe(1)
    expect(dbg.ended).toBe(0)
    // What came before the keys reached the debugger; the keys themselves did not.
    expect(dbg.link!.received.toString()).toBe('ls\r')
    expect(stderr.text()).toContain('detached from shell')
    expect(stdin.listenerCount('data')).toBe(0)
  })

  it('a target that went away is reported as such (118), the debugger ended', async () => {
    const dbg = new FakeDebugger('gone', {
      run: async () => 137,
      checkTarget: async () => {
        throw new MindbgError('targetStopped', 'target web stopped during the session')
      },
    })
    const result = await runSession(async () => dbg, io(), options())
    expect(result).toMatchObject({exitCode: 118, ending: 'target-gone'})
    expect(result.error?.message).toMatch(/stopped during the session/)
    expect(dbg.ended).toBe(1)
  })

  it('failures are results: a refused create, and a failed start (the debugger then ended)', async () => {
    const refused = await runSession(
      async () => {
        throw new MindbgError('sidecarFailed', 'the engine refused the sidecar')
      },
      io(),
      options(),
    )
    expect(refused).toMatchObject({exitCode: 119, ending: 'failed', debugger: undefined})
    const dbg = new FakeDebugger('nostart', {run: forever, failStart: new MindbgError('commandNotFound', 'no such command')})
    const failed = await runSession(async () => dbg, io(), options())
    expect(failed).toMatchObject({exitCode: 127, ending: 'failed'})
    expect(dbg.ended).toBe(1)
  })

  it('two sessions at once in one process, each with its own streams, ending differently, neither disturbing the other', async () => {
    const signalsBefore = ['SIGINT', 'SIGTERM', 'SIGHUP'].map((s) => process.listenerCount(s))
    const a = new FakeDebugger('a', {
      async run({out}) {
        for (let i = 0; i < 50; i++) await out(`a${i}\n`)
        await new Promise((r) => setTimeout(r, 40))
        return 7
      },
    })
    const b = new FakeDebugger('b', {
      async run({out}) {
        await out('b-started\n')
        return forever()
      },
    })
    const ioA = io({stdin: Readable.from(['to-a'])})
    const ioB = io({stdin: new PassThrough()})
    const stopB = new AbortController()
    const [ra, rb] = await Promise.all([
      runSession(async () => a, ioA, options()),
      (async () => {
        const running = runSession(async () => b, ioB, options(stopB.signal))
        await new Promise((r) => setTimeout(r, 10))
        stopB.abort({exitCode: 130, ending: 'stopped'} satisfies StopRequest)
        return running
      })(),
    ])
    expect(ra).toMatchObject({exitCode: 7, ending: 'exit', debugger: {name: 'a'}})
    expect(rb).toMatchObject({exitCode: 130, ending: 'stopped', debugger: {name: 'b'}})
    expect(ioA.stdout.text()).toBe(Array.from({length: 50}, (_, i) => `a${i}\n`).join(''))
    expect(ioB.stdout.text()).toBe('b-started\n')
    expect(a.link!.received.toString()).toBe('to-a')
    expect(b.link!.received.length).toBe(0)
    expect([a.ended, b.ended]).toEqual([1, 1])
    // The lifecycle registers nothing on the process: signals are the caller's.
    expect(['SIGINT', 'SIGTERM', 'SIGHUP'].map((s) => process.listenerCount(s))).toEqual(signalsBefore)
  })
})
