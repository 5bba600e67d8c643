import {mkdtempSync} from 'node:fs'
import {createServer, type Server, type Socket} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {DockerEngine} from '../../src/backends/docker/engine.js'
import {engineMessage, httpStatus} from '../../src/backends/docker/errors.js'
import {engineHttpError, queryString} from '../../src/backends/docker/http.js'

/** A stand-in engine on a Unix socket for the describe block it is called in, DOCKER_HOST pointing at it meanwhile. */
function fakeEngine(prefix: string, onConnection: (conn: Socket) => void): void {
  const socketPath = join(mkdtempSync(join(tmpdir(), prefix)), 'engine.sock')
  let server: Server
  const saved = process.env.DOCKER_HOST
  beforeAll(async () => {
    server = createServer(onConnection)
    await new Promise<void>((resolve) => server.listen(socketPath, resolve))
    process.env.DOCKER_HOST = `unix://${socketPath}`
  })
  afterAll(() => {
    server.close()
    if (saved === undefined) delete process.env.DOCKER_HOST
    else process.env.DOCKER_HOST = saved
  })
}

/**
 * What the attach request looks like on the wire, against a stand-in engine on a Unix socket: Podman hands an
 * attach request's body to the container as stdin, so there must be none.
 */
describe('DockerEngine.attach', () => {
  let request = ''
  fakeEngine('mindbg-attach-', (conn: Socket) => {
    let mine = ''
    conn.on('data', (d: Buffer) => {
      mine += d.toString('latin1')
      // Every request waits for the engine's first answer (DockerEngine.kind()), on a connection of its own.
      if (mine.startsWith('GET /_ping ')) {
        if (mine.includes('\r\n\r\n')) conn.end('HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Length: 2\r\n\r\nOK')
        return
      }
      request = mine
      if (request.includes('\r\n\r\n')) {
        conn.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n')
      }
    })
  })

  it('sends its options in the query and an empty body, then hands over the upgraded stream', async () => {
    const engine = await DockerEngine.connect()
    const stream = await engine.attach('abc123', {stdin: true, detachKeys: 'ctrl-p,ctrl-q'})
    stream.write('typed')
    for (let i = 0; i < 100 && !request.endsWith('typed'); i++) await new Promise((resolve) => setTimeout(resolve, 10))
    stream.destroy()
    const [head, after] = request.split('\r\n\r\n')
    const [line, ...headers] = head!.split('\r\n')
    expect(line).toBe('POST /containers/abc123/attach?stream=true&stdin=true&stdout=true&stderr=true&detachKeys=ctrl-p%2Cctrl-q HTTP/1.1')
    expect(headers.map((h) => h.toLowerCase())).toEqual(expect.arrayContaining(['content-length: 0', 'connection: upgrade', 'upgrade: tcp']))
    expect(headers.some((h) => /^transfer-encoding/i.test(h))).toBe(false)
    // Everything after the head is what was typed: nothing of the request itself.
    expect(after).toBe('typed')
  })
})

/** The rest of a session's hot path over the socket, as the engine gets it and as errors.ts reads its answers. */
describe('DockerEngine over a unix socket (no dockerode)', () => {
  const requests: string[] = []
  fakeEngine('mindbg-http-', (conn: Socket) => {
    let request = ''
    conn.on('data', (d: Buffer) => {
      request += d.toString('latin1')
      const end = request.indexOf('\r\n\r\n')
      if (end < 0) return
      const length = Number(/content-length: (\d+)/i.exec(request.slice(0, end))?.[1] ?? 0)
      if (request.length < end + 4 + length) return
      requests.push(request)
      const reply = (status: string, body: string): void => void conn.end(`HTTP/1.1 ${status}\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
      if (request.startsWith('POST /containers/create')) reply('201 Created', '{"Id":"f00d"}')
      else reply('409 Conflict', '{"message":"Conflict. The container name \\"/x\\" is already in use"}')
      request = ''
    })
  })

  it('create: name and platform in the query, the rest as the JSON body; the ID back', async () => {
    const engine = await DockerEngine.connect()
    const id = await engine.createContainer({name: 'mindbg-web-x', platform: 'linux/arm64', Image: 'busybox', Cmd: ['true']} as never)
    expect(id).toBe('f00d')
    const [head, body] = requests.at(-1)!.split('\r\n\r\n')
    expect(head!.split('\r\n')[0]).toBe('POST /containers/create?name=mindbg-web-x&platform=linux%2Farm64 HTTP/1.1')
    expect(JSON.parse(body!)).toEqual({Image: 'busybox', Cmd: ['true']})
  })

  it('an answer outside 2xx fails as docker-modem would have it: status, the engine\'s message', async () => {
    const engine = await DockerEngine.connect()
    const error = await engine.start('f00d').then(() => undefined, (e: unknown) => e)
    expect(httpStatus(error)).toBe(409)
    expect(engineMessage(error)).toBe('Conflict. The container name "/x" is already in use')
  })
})

describe('the raw requests\' pure parts', () => {
  it.each([
    {query: undefined, out: ''},
    {query: {}, out: ''},
    {query: {condition: 'next-exit'}, out: '?condition=next-exit'},
    {query: {t: 2, force: true, skipped: undefined}, out: '?t=2&force=true'},
    {query: {filters: '{"a":["b c"]}'}, out: '?filters=%7B%22a%22%3A%5B%22b+c%22%5D%7D'},
  ])('queryString($query)', ({query, out}) => expect(queryString(query)).toBe(out))

  it.each([
    {status: 404, body: '{"message":"No such container: x"}', message: 'No such container: x'},
    {status: 500, body: 'plain words', message: 'plain words'},
  ])('engineHttpError($status)', ({status, body, message}) => {
    const error = engineHttpError(status, body)
    expect(httpStatus(error)).toBe(status)
    expect(engineMessage(error)).toBe(message)
  })
})
