/**
 * Defects found by trying mindbg as an SRE would (issue 9): output that a slow reader must still get in full, and a
 * sidecar that must not be left behind by an engine slow to create it.
 */
import {spawn} from 'node:child_process'
import {rmSync, writeFileSync} from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {BIN, BUSYBOX, collect, type RunResult, docker, runningSidecarsOf, sharedTarget, sidecarsOf, startMindbg, testEnv, waitFor} from './helpers.js'

const web = sharedTarget()

describe('a slow reader gets every byte', () => {
  it('one session: 1,000,000 bytes through a pipe read only after 3 s', async () => {
    // The shell pipeline of the report, verbatim: mindbg writes into a pipe nobody reads for 3 s.
    const child = spawn('sh', ['-c', `"${process.execPath}" "${BIN}" attach ${web()} -- head -c 1000000 /dev/zero | (sleep 3; wc -c)`], {
      env: testEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const r = await collect(child, 60_000)
    expect(r.stderr).toBe('')
    expect(r.stdout.trim()).toBe('1000000')
  })

  it('20 sessions at once whose pipes are read one after another', {timeout: 120_000}, async () => {
    const children = Array.from({length: 20}, () => startMindbg(['attach', web(), '--', 'head', '-c', '300000', '/dev/zero']))
    const exits = children.map((c) => new Promise<number | null>((resolve) => c.on('close', resolve)))
    const sizes: number[] = []
    for (const child of children) {
      // Nobody reads this one until the ones before it are done: its pipe stays full meanwhile.
      let bytes = 0
      let stderr = ''
      child.stderr!.on('data', (d: Buffer) => (stderr += d))
      for await (const chunk of child.stdout!) bytes += (chunk as Buffer).length
      sizes.push(bytes)
      expect(stderr).toBe('')
    }
    expect(await Promise.all(exits)).toEqual(Array(20).fill(0))
    expect(sizes).toEqual(Array(20).fill(300_000))
  })
})

/**
 * A Docker socket in front of the real one that holds every create request for `delayMs`: an engine under load.
 * Everything else passes through byte for byte (attach streams included).
 */
class SlowCreateProxy {
  readonly path = join(tmpdir(), `mindbg-slow-${process.pid}.sock`)
  creates = 0
  private server: http.Server | undefined

  constructor(private readonly delayMs: number) {}

  async start(): Promise<void> {
    rmSync(this.path, {force: true})
    const engine = (process.env.DOCKER_HOST || 'unix:///var/run/docker.sock').replace(/^unix:\/\//, '')
    // An HTTP proxy, not a byte pipe: clients keep connections alive, so every request must be seen on its own.
    this.server = http.createServer((req, res) => {
      const forward = (): void => {
        const upstream = http.request({socketPath: engine, path: req.url, method: req.method, headers: req.headers}, (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers)
          answer.pipe(res)
        })
        upstream.on('error', () => res.destroy())
        res.on('close', () => upstream.destroy())
        req.pipe(upstream)
      }
      if (req.method === 'POST' && /\/containers\/create/.test(req.url ?? '')) {
        this.creates++
        setTimeout(forward, this.delayMs)
      } else forward()
    })
    // Attach streams are hijacked connections (Upgrade: tcp): passed through as bytes once the head is replayed.
    this.server.on('upgrade', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
      const upstream = net.connect(engine, () => {
        const headers = []
        for (let i = 0; i < req.rawHeaders.length; i += 2) headers.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`)
        upstream.write(`${req.method} ${req.url} HTTP/1.1\r\n${headers.join('\r\n')}\r\n\r\n`)
        upstream.write(head)
        client.pipe(upstream).pipe(client)
      })
      upstream.on('error', () => client.destroy())
      client.on('error', () => upstream.destroy())
    })
    await new Promise<void>((resolve) => this.server!.listen(this.path, resolve))
  }

  stop(): void {
    this.server?.close()
    rmSync(this.path, {force: true})
  }
}

describe('an engine that takes 6 s to create the sidecar', () => {
  const proxy = new SlowCreateProxy(6000)
  beforeAll(() => proxy.start())
  afterAll(() => proxy.stop())

  it.each(['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGKILL'] as const)('%s while the create is in flight leaves no sidecar behind', {timeout: 60_000}, async (signal) => {
    const before = proxy.creates
    const child = startMindbg(['attach', web(), '--', 'sleep', '60'], {env: {DOCKER_HOST: `unix://${proxy.path}`}})
    const done = collect(child)
    await waitFor('the create request', () => proxy.creates > before, 15_000, 20)
    const signalledAt = Date.now()
    child.kill(signal)
    const r = await done
    if (signal === 'SIGKILL') {
      // The watchdog waits for the create to complete (6 s after it was sent), then removes what it made.
      await new Promise((resolve) => setTimeout(resolve, 6500 - (Date.now() - signalledAt)))
      await waitFor('no sidecar', () => sidecarsOf(web()).length === 0, 10_000)
    } else {
      // mindbg itself waits for the create to complete, removes the sidecar, then exits with the signal's code.
      expect(r.code).toBe({SIGINT: 130, SIGTERM: 143, SIGHUP: 129}[signal])
      expect(sidecarsOf(web())).toEqual([])
    }
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(sidecarsOf(web())).toEqual([])
    expect(docker('ps', '-a', '-q', '--filter', `label=org.mindbg.target-name=${web()}`)).toBe('')
  })
})

/**
 * A Docker socket in front of the real one that can freeze as a stopped engine does (SIGSTOP, a deadlock): it keeps
 * accepting connections, and nothing goes through either way until it thaws; then what waited goes on.
 */
class FreezingEngine {
  readonly path = join(tmpdir(), `mindbg-freeze-${process.pid}.sock`)
  private frozen = false
  private readonly sockets = new Set<net.Socket>()
  private server: net.Server | undefined

  async start(): Promise<void> {
    rmSync(this.path, {force: true})
    const engine = (process.env.DOCKER_HOST || 'unix:///var/run/docker.sock').replace(/^unix:\/\//, '')
    this.server = net.createServer((client) => {
      const upstream = net.connect(engine)
      client.pipe(upstream).pipe(client)
      // What a client that went away left unread is not sent on: only a watchdog's own requests can end a debugger
      // whose mindbg gave up waiting.
      client.on('close', () => upstream.destroy())
      // After pipe(), which resumes its source: a connection made while frozen waits too, as in a stopped engine's backlog.
      for (const s of [client, upstream]) {
        this.sockets.add(s)
        s.on('close', () => this.sockets.delete(s))
        s.on('error', () => {})
        if (this.frozen) s.pause()
      }
    })
    await new Promise<void>((resolve) => this.server!.listen(this.path, resolve))
  }

  freeze(): void {
    this.frozen = true
    for (const s of this.sockets) s.pause()
  }

  thaw(): void {
    this.frozen = false
    for (const s of this.sockets) s.resume()
  }

  stop(): void {
    this.server?.close()
    for (const s of this.sockets) s.destroy()
    rmSync(this.path, {force: true})
  }
}

/**
 * mindbg with `args` through `engine`; once `command` runs in the target, the engine freezes and mindbg gets a
 * SIGINT: it must exit 130 within 13 s (a stop's 10 s bound, and a moment).
 */
async function ctrlCWhileFrozen(engine: FreezingEngine, args: string[], command: string): Promise<RunResult> {
  const child = startMindbg(args, {env: {DOCKER_HOST: `unix://${engine.path}`}})
  const done = collect(child, 60_000)
  await waitFor(`${command} in the target`, () => docker('run', '--rm', '--pid', `container:${web()}`, BUSYBOX, 'ps', '-o', 'args').includes(command), 20_000)
  engine.freeze()
  const signalled = Date.now()
  child.kill('SIGINT')
  const r = await done
  expect(r.code).toBe(130)
  expect(Date.now() - signalled).toBeLessThan(13_000)
  return r
}

describe('an engine that does not answer', () => {
  it('one that never answers: exit 115 once MINDBG_ENGINE_TIMEOUT has passed; Ctrl-C and SIGTERM end mindbg at once', {timeout: 60_000}, async () => {
    const path = join(tmpdir(), `mindbg-hung-${process.pid}.sock`)
    rmSync(path, {force: true})
    let connections = 0
    const hung = net.createServer((s) => {
      connections++
      s.resume()
    })
    await new Promise<void>((resolve) => hung.listen(path, resolve))
    try {
      const env = {DOCKER_HOST: `unix://${path}`, MINDBG_ENGINE_TIMEOUT: '1s'}
      for (const args of [['attach', web(), '--', 'true'], ['attach', '--session', 'mindbg-x-abcde', '--', 'true'], ['ls']]) {
        const started = Date.now()
        const r = await collect(startMindbg(args, {env}), 20_000)
        expect(r.code, args.join(' ')).toBe(115)
        expect(r.stderr).toContain(`unix://${path} did not answer within 1s`)
        expect(r.stderr).toMatch(/Hint: The engine may be stopped or overloaded/)
        expect(Date.now() - started).toBeLessThan(8000)
      }
      // No bound: only the person waiting ends it, and then at once (before, Ctrl-C did nothing here).
      const commands: Array<[string[], NodeJS.Signals, number]> = [
        [['attach', web(), '--', 'true'], 'SIGINT', 130],
        [['attach', web(), '--', 'true'], 'SIGTERM', 143],
        [['run', 'triage', web()], 'SIGINT', 130],
        [['cp', `${web()}:/etc/passwd`, join(tmpdir(), `mindbg-hung-cp-${process.pid}`)], 'SIGHUP', 129],
      ]
      // One at a time: each is signalled once it is waiting for the engine, and a moment later (an attach's first
      // look-ups leave before it takes over the signals), not while Node is still starting on a loaded machine.
      for (const [args, signal, code] of commands) {
        const before = connections
        const child = startMindbg(args, {env: {DOCKER_HOST: `unix://${path}`, MINDBG_ENGINE_TIMEOUT: '0'}})
        const done = collect(child, 20_000)
        await waitFor('a connection to the engine', () => connections > before, 15_000, 20)
        await new Promise((resolve) => setTimeout(resolve, 1000))
        const signalled = Date.now()
        child.kill(signal)
        const r = await done
        expect(r.code, args.join(' ')).toBe(code)
        expect(r.stderr).toBe('')
        expect(Date.now() - signalled).toBeLessThan(3000)
      }
    } finally {
      hung.close()
      rmSync(path, {force: true})
    }
  })

  it('one that freezes mid-session: Ctrl-C ends mindbg within 10 s; its watchdog ends the debugger once the engine answers, no zombie', {timeout: 90_000}, async () => {
    const engine = new FreezingEngine()
    await engine.start()
    try {
      const r = await ctrlCWhileFrozen(engine, ['attach', web(), '--', 'sleep', '60'], 'sleep 60')
      expect(r.stderr).toContain(`the engine did not confirm the end of`)
      // The command runs: a frozen engine does not stop what already runs.
      expect(runningSidecarsOf(web())).toHaveLength(1)
      engine.thaw()
      await waitFor('the sidecar removed by its watchdog', () => sidecarsOf(web()).length === 0, 20_000, 100)
      const ps = docker('run', '--rm', '--pid', `container:${web()}`, BUSYBOX, 'ps', '-o', 'stat,args')
      expect(ps).not.toContain('sleep 60')
      expect(ps.split('\n').slice(1).filter((line) => /^\s*Z/.test(line))).toEqual([])
    } finally {
      engine.stop()
    }
  })

  // It held Ctrl-C for as long as the engine stayed frozen: the run's end waited for the shared debugger's removal.
  it('one that freezes during a run --shared-debugger: Ctrl-C ends mindbg within 13 s; the watchdog removes the shared debugger once the engine answers', {timeout: 90_000}, async () => {
    const engine = new FreezingEngine()
    await engine.start()
    const runbook = join(tmpdir(), `mindbg-frozen-run-${process.pid}.yaml`)
    writeFileSync(runbook, 'name: nap\ntimeout: 60s\nsteps:\n  - name: nap\n    run: sleep 61\n')
    const shared = (): string => docker('ps', '-a', '-q', '--filter', 'label=org.mindbg.shared=1')
    try {
      const r = await ctrlCWhileFrozen(engine, ['run', runbook, web(), '--shared-debugger', '--bundle', join(tmpdir(), `mindbg-frozen-run-${process.pid}`)], 'sleep 61')
      expect(r.stderr).toMatch(/the engine did not confirm the end of mindbg-shared-\S+ within 5 s; its watchdog ends it/)
      expect(shared()).not.toBe('')
      engine.thaw()
      await waitFor('the shared debugger removed by its watchdog', () => shared() === '', 20_000, 100)
      const ps = docker('run', '--rm', '--pid', `container:${web()}`, BUSYBOX, 'ps', '-o', 'stat,args')
      expect(ps).not.toContain('sleep 61')
      expect(ps.split('\n').slice(1).filter((line) => /^\s*Z/.test(line))).toEqual([])
    } finally {
      engine.stop()
      rmSync(runbook, {force: true})
      rmSync(join(tmpdir(), `mindbg-frozen-run-${process.pid}`), {recursive: true, force: true})
    }
  })
})
