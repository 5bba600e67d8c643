import {execFile} from 'node:child_process'
import {readFile} from 'node:fs/promises'
import {homedir} from 'node:os'
import {join} from 'node:path'

import {type ImageReference, registryHost} from './reference.js'

/** What the Docker Engine accepts as X-Registry-Auth for a pull. */
export type RegistryAuth = {username: string; password: string; serveraddress: string} | {identitytoken: string; serveraddress: string}

interface DockerConfigFile {
  auths?: Record<string, {auth?: string; username?: string; password?: string; identitytoken?: string}>
  credHelpers?: Record<string, string>
  credsStore?: string
}

export function dockerConfigPath(env: NodeJS.ProcessEnv): string {
  return join(env.DOCKER_CONFIG || join(env.HOME || homedir(), '.docker'), 'config.json')
}

/** Docker Hub is keyed by its legacy URL; other registries by host[:port], sometimes written as a URL. */
function keysFor(host: string): string[] {
  if (host === 'https://index.docker.io/v1/') return [host, 'index.docker.io', 'docker.io', 'registry-1.docker.io']
  return [host, `https://${host}`, `http://${host}`, `https://${host}/v1/`, `https://${host}/v2/`]
}

/**
 * Credentials for `ref`'s registry, found the way the docker CLI finds them: a credential helper for that registry,
 * else the `auths` entry, else the default credential store. Undefined when there are none (anonymous pull).
 */
export async function registryAuth(ref: ImageReference, env: NodeJS.ProcessEnv = process.env): Promise<RegistryAuth | undefined> {
  let config: DockerConfigFile
  try {
    config = JSON.parse(await readFile(dockerConfigPath(env), 'utf8')) as DockerConfigFile
  } catch {
    return undefined
  }
  const host = registryHost(ref)
  const keys = keysFor(host)
  const helper = keys.map((k) => config.credHelpers?.[k]).find(Boolean)
  if (helper) return fromHelper(helper, host, env)

  const entry = keys.map((k) => config.auths?.[k]).find(Boolean)
  if (entry) {
    if (entry.identitytoken) return {identitytoken: entry.identitytoken, serveraddress: host}
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8')
      const colon = decoded.indexOf(':')
      if (colon > 0) return {username: decoded.slice(0, colon), password: decoded.slice(colon + 1), serveraddress: host}
    }
    if (entry.username && entry.password) return {username: entry.username, password: entry.password, serveraddress: host}
  }
  // An "auths" entry without secrets means "stored in credsStore".
  if (config.credsStore) return fromHelper(config.credsStore, host, env)
  return undefined
}

/** Runs docker-credential-<helper> get, the protocol every Docker credential helper speaks. */
function fromHelper(helper: string, host: string, env: NodeJS.ProcessEnv): Promise<RegistryAuth | undefined> {
  return new Promise((resolve) => {
    const child = execFile(`docker-credential-${helper}`, ['get'], {env, timeout: 10_000}, (error, stdout) => {
      if (error) return resolve(undefined) // no credentials for this registry: pull anonymously
      try {
        const {Username, Secret} = JSON.parse(stdout) as {Username?: string; Secret?: string}
        if (!Secret) return resolve(undefined)
        if (Username === '<token>') return resolve({identitytoken: Secret, serveraddress: host})
        resolve({username: Username ?? '', password: Secret, serveraddress: host})
      } catch {
        resolve(undefined)
      }
    })
    // A helper that exits without reading (no credentials for this host) must not crash us with EPIPE.
    child.stdin?.on('error', () => {})
    child.stdin?.end(host)
  })
}
