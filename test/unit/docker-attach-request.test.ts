import {mkdtempSync} from 'node:fs'
import {createServer, type Server, type Socket} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {DockerEngine} from '../../src/backends/docker/engine.js'

/**
 * What the attach request looks like on the wire, against a stand-in engine on a Unix socket: Podman hands an
 * attach request's body to the container as stdin, so there must be none.
 */
describe('DockerEngine.attach', () => {
  const socketPath = join(mkdtempSync(join(tmpdir(), 'mindbg-attach-')), 'engine.sock')
  let server: Server
  let request = ''
  const saved = process.env.DOCKER_HOST

  beforeAll(async () => {
    server = createServer((conn: Socket) => {
      conn.on('data', (d: Buffer) => {
        request += d.toString('latin1')
        if (request.includes('\r\n\r\n')) {
          conn.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n')
        }
      })
    })
    await new Promise<void>((resolve) => server.listen(socketPath, resolve))
    process.env.DOCKER_HOST = `unix://${socketPath}`
  })
  afterAll(() => {
    server.close()
    if (saved === undefined) delete process.env.DOCKER_HOST
    else process.env.DOCKER_HOST = saved
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
