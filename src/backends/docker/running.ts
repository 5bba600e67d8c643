import {readFileSync} from 'node:fs'
import type http from 'node:http'
import type https from 'node:https'
import {createRequire} from 'node:module'
import {homedir} from 'node:os'
import {join} from 'node:path'

import {contextEndpoint} from './context.js'

import {LABEL} from './spec.js'

/** A running container as GET /containers/json lists it (the fields shell completion shows). */
export interface RunningContainer {
  name: string
  image: string
  status: string
  labels: Record<string, string>
}

// Through require(), not import: the ESM view of node:http loads Node's bundled undici (~40 ms) for nothing.
const nodeRequire = createRequire(import.meta.url)

/**
 * The running containers, in one plain GET to the engine named by the docker context or DOCKER_HOST (unix socket, tcp, TLS as
 * DOCKER_TLS_VERIFY/DOCKER_CERT_PATH say), without dockerode: ~60 ms less of start-up for shell completion, where
 * every millisecond is waited for. An engine it cannot reach this way (ssh://, npipe://) is an error. mindbg's
 * own sidecars are left out: they are never targets.
 */
export function runningContainers(env: NodeJS.ProcessEnv, signal: AbortSignal): Promise<RunningContainer[]> {
  const {lib, options} = endpoint(env)
  return new Promise((resolve, reject) => {
    const req = lib.request({...options, path: '/containers/json', signal}, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('error', reject)
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`GET /containers/json: HTTP ${res.statusCode}`))
        try {
          const list = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Array<{Names?: string[]; Image?: string; Status?: string; Labels?: Record<string, string> | null}>
          resolve(list.map((c) => ({name: (c.Names?.[0] ?? '').replace(/^\//, ''), image: c.Image ?? '', status: c.Status ?? '', labels: c.Labels ?? {}})).filter((c) => c.name && c.labels[LABEL.sidecar] === undefined))
        } catch (error) {
          reject(error as Error)
        }
      })
    })
    req.on('error', reject)
    req.end()
  })
}

function endpoint(processEnv: NodeJS.ProcessEnv): {lib: typeof http | typeof https; options: https.RequestOptions} {
  // The engine the docker CLI would use: a docker context's endpoint and TLS material, as DockerEngine.connect has it.
  const context = contextEndpoint(processEnv)
  const env: NodeJS.ProcessEnv = {...processEnv, ...context.env}
  const host = env.DOCKER_HOST || 'unix:///var/run/docker.sock'
  if (host.startsWith('unix://')) return {lib: nodeRequire('node:http') as typeof http, options: {socketPath: host.slice('unix://'.length)}}
  const url = /^(tcp|http|https):\/\/([^/]+)/.exec(host)
  if (!url) throw new Error(`DOCKER_HOST ${host}: not listed without dockerode`)
  const address = new URL(`http://${url[2]}`)
  const tls = url[1] === 'https' || Boolean(env.DOCKER_TLS_VERIFY)
  const options: https.RequestOptions = {host: address.hostname.replace(/^\[|\]$/g, ''), port: Number(address.port) || (tls ? 2376 : 2375)}
  if (!tls) return {lib: nodeRequire('node:http') as typeof http, options}
  const certs = env.DOCKER_CERT_PATH || join(homedir(), '.docker')
  const read = (file: string): Buffer => readFileSync(join(certs, file))
  return {lib: nodeRequire('node:https') as typeof https, options: {...options, ca: read('ca.pem'), cert: read('cert.pem'), key: read('key.pem'), rejectUnauthorized: !context.skipTLSVerify}}
}
