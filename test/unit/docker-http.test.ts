import {describe, expect, it} from 'vitest'

import {bodyDecoder, parseHead} from '../../src/backends/docker/http.js'

/** Feeds `wire` to the decoder in pieces of `size` bytes: what it passes on, and whether it saw the end. */
function decode(headers: Record<string, string>, wire: string, size: number, method = 'GET', status = 200): {body: string; ended: boolean; after: number} {
  const decoder = bodyDecoder({status, headers}, method)
  const bytes = Buffer.from(wire, 'latin1')
  let body = ''
  let ended = false
  let after = 0
  for (let i = 0; i < bytes.length; i += size) {
    if (ended) {
      after += Math.min(size, bytes.length - i)
      continue
    }
    const result = decoder(bytes.subarray(i, i + size))
    body += Buffer.concat(result.data).toString('latin1')
    ended = result.ended
  }
  return {body, ended: ended || decoder.empty, after}
}

describe("the engine's answers as SocketHttp reads them off the socket", () => {
  it.each([1, 2, 3, 7, 1000])('a chunked body cut every %i bytes', (size) => {
    const wire = '5\r\nhello\r\n1;ext=1\r\n \r\nc\r\n{"a":"b\r\nc"}\r\n0\r\nX-Trailer: 1\r\n\r\n'
    expect(decode({'transfer-encoding': 'chunked'}, wire, size)).toEqual({body: 'hello {"a":"b\r\nc"}', ended: true, after: 0})
  })

  it.each([
    {name: 'Content-Length: the bytes it says, not one more', headers: {'content-length': '5'}, wire: 'helloEXTRA', body: 'hello', ended: true},
    {name: 'Content-Length: 0', headers: {'content-length': '0'}, wire: '', body: '', ended: true},
    {name: 'neither: up to the close', headers: {}, wire: 'raw bytes', body: 'raw bytes', ended: false},
    {name: '204: no body', headers: {}, wire: '', body: '', ended: true, status: 204},
    {name: 'a chunked stream still open (events)', headers: {'transfer-encoding': 'chunked'}, wire: '3\r\n{}\n\r\n', body: '{}\n', ended: false},
  ])('$name', ({headers, wire, body, ended, status}) => {
    expect(decode(headers, wire, 4, 'GET', status ?? 200)).toMatchObject({body, ended})
  })

  it('refuses a malformed chunk size', () => {
    expect(() => decode({'transfer-encoding': 'chunked'}, 'zz\r\nhello\r\n', 100)).toThrow(/malformed chunk size/)
  })

  it.each([
    {text: 'HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nServer: Docker/20.10 (linux)\r\nContent-Length: 2', head: {status: 200, headers: {'api-version': '1.41', server: 'Docker/20.10 (linux)', 'content-length': '2'}}},
    {text: 'HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp', head: {status: 101, headers: {connection: 'Upgrade', upgrade: 'tcp'}}},
    {text: 'HTTP/1.0 404 Not Found\r\nA: 1\r\nA: 2', head: {status: 404, headers: {a: '1, 2'}}},
    {text: 'SSH-2.0-OpenSSH_9.2', head: undefined},
  ])('head: $text', ({text, head}) => {
    expect(parseHead(text)).toEqual(head)
  })
})

describe('prefetch: a GET sent before the command is loaded is the answer its first request gets', () => {
  it('one request on the wire, the answer read by the first stream() of that path; other paths ask anew', async () => {
    const {createServer} = await import('node:net')
    const {mkdtempSync} = await import('node:fs')
    const {tmpdir} = await import('node:os')
    const {join} = await import('node:path')
    const {prefetch, readJson, SocketHttp} = await import('../../src/backends/docker/http.js')
    const socketPath = join(mkdtempSync(join(tmpdir(), 'mindbg-prefetch-')), 'engine.sock')
    const lines: string[] = []
    const server = createServer((conn) => {
      let request = ''
      conn.on('data', (d: Buffer) => {
        request += d.toString('latin1')
        if (!request.includes('\r\n\r\n')) return
        const line = request.split('\r\n')[0]!
        lines.push(line)
        const body = JSON.stringify({line})
        // Chunked, in two writes, as Go's server sends a larger answer.
        conn.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${(3).toString(16)}\r\n${body.slice(0, 3)}\r\n`)
        setTimeout(() => conn.end(`${(body.length - 3).toString(16)}\r\n${body.slice(3)}\r\n0\r\n\r\n`), 5)
      })
    })
    await new Promise<void>((resolve) => server.listen(socketPath, resolve))
    try {
      prefetch(socketPath, ['/containers/web/json'])
      await new Promise((resolve) => setTimeout(resolve, 50))
      const http = new SocketHttp(socketPath)
      expect(await readJson(await http.stream('GET', '/containers/web/json'))).toEqual({line: 'GET /containers/web/json HTTP/1.1'})
      expect(await readJson(await http.stream('GET', '/containers/web/json'))).toEqual({line: 'GET /containers/web/json HTTP/1.1'})
      expect(lines).toEqual(['GET /containers/web/json HTTP/1.1', 'GET /containers/web/json HTTP/1.1'])
      // The prefetched answer was taken once: the second stream() asked again (the second line), not a third time.
      await readJson(await http.stream('GET', '/_ping'))
      expect(lines).toHaveLength(3)
    } finally {
      server.close()
    }
  })
})
