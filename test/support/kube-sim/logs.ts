/**
 * GET pods/{name}/log: plain text from `docker logs`, stdout and stderr merged (as the kubelet's CRI log files are).
 * Parameters: container, follow, tailLines, timestamps, sinceSeconds, sinceTime, limitBytes, previous (the
 * restarted container's previous instance; 400 when it has none). With follow the response streams until the
 * container exits or the client goes away.
 */
import type {IncomingMessage, ServerResponse} from 'node:http'
import type Docker from 'dockerode'
import {logsUnavailable, resolveContainerName} from './container-lookup.ts'
import {Demuxer} from './demux.ts'
import {boolParam} from './http-util.ts'
import {badRequest} from './status.ts'
import type {Obj} from './store.ts'

export async function serveLogs(req: IncomingMessage, res: ServerResponse, docker: Docker, pod: Obj,
  dockerIdOf: (container: string, previous: boolean) => string | undefined,
  params: URLSearchParams): Promise<void> {
  const container = resolveContainerName(pod, params.get('container'))
  const previous = boolParam(params.get('previous'))
  const why = logsUnavailable(pod, container, previous)
  if (why) throw badRequest(why)
  const id = dockerIdOf(container, previous)
  if (!id && previous) throw badRequest(`previous terminated container "${container}" in pod "${pod.metadata.name}" not found`)
  if (!id) throw badRequest(`container "${container}" in pod "${pod.metadata.name}" is waiting to start: ContainerCreating`)
  const follow = boolParam(params.get('follow'))
  const opts: Obj = {stdout: true, stderr: true, follow, timestamps: boolParam(params.get('timestamps'))}
  const tail = params.get('tailLines')
  if (tail !== null) {
    if (!/^\d+$/.test(tail)) throw badRequest(`tailLines: Invalid value: "${tail}": must be greater than or equal to 0`)
    opts.tail = Number(tail)
  }
  const sinceSeconds = params.get('sinceSeconds')
  const sinceTime = params.get('sinceTime')
  if (sinceSeconds !== null) opts.since = Math.floor(Date.now() / 1000) - Number(sinceSeconds)
  else if (sinceTime !== null) opts.since = Math.floor(Date.parse(sinceTime) / 1000)
  let remaining = params.get('limitBytes') !== null ? Number(params.get('limitBytes')) : Infinity

  const c = docker.getContainer(id)
  const tty = (await c.inspect()).Config.Tty
  res.writeHead(200, {'Content-Type': 'text/plain', 'Cache-Control': 'no-cache, private', ...(follow ? {'Transfer-Encoding': 'chunked'} : {})})
  const write = (data: Buffer): void => {
    if (remaining <= 0) return
    const part = data.length > remaining ? data.subarray(0, remaining) : data
    remaining -= part.length
    res.write(part)
  }
  const demux = new Demuxer((_stream, data) => write(data))
  const feed = (chunk: Buffer): void => (tty ? write(chunk) : demux.push(chunk))
  if (!follow) {
    const buf = await c.logs({...opts, follow: false} as Docker.ContainerLogsOptions & {follow?: false})
    feed(Buffer.isBuffer(buf) ? buf : Buffer.from(String(buf)))
    res.end()
    return
  }
  const stream = (await c.logs({...opts, follow: true} as Docker.ContainerLogsOptions & {follow: true})) as NodeJS.ReadableStream & {destroy: () => void}
  await new Promise<void>((resolve) => {
    stream.on('data', (chunk: Buffer) => feed(chunk))
    stream.on('end', resolve)
    stream.on('error', resolve)
    req.on('close', () => {
      stream.destroy()
      resolve()
    })
  })
  res.end()
}
