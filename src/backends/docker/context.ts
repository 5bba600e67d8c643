import {createHash} from 'node:crypto'
import {existsSync, readFileSync} from 'node:fs'
import {homedir} from 'node:os'
import {join} from 'node:path'

import {MindbgError, usageError} from '../../domain/errors.js'

/** The docker CLI's configuration directory: DOCKER_CONFIG, else ~/.docker. */
export function dockerConfigDir(env: NodeJS.ProcessEnv): string {
  return env.DOCKER_CONFIG || join(env.HOME || homedir(), '.docker')
}

/**
 * The context the docker CLI would use (cli/command/cli.go resolveContextName, and checked against docker 28): its
 * --context flag (docker mindbg turns it into DOCKER_CONTEXT and drops DOCKER_HOST), else the default one when
 * DOCKER_HOST is set, else DOCKER_CONTEXT, else config.json's currentContext, else the default one.
 */
export function dockerContextName(env: NodeJS.ProcessEnv): string {
  if (env.DOCKER_HOST) return 'default'
  if (env.DOCKER_CONTEXT) return env.DOCKER_CONTEXT
  const file = join(dockerConfigDir(env), 'config.json')
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    return 'default'
  }
  let config: {currentContext?: unknown}
  try {
    config = JSON.parse(text) as {currentContext?: unknown}
  } catch (error) {
    throw usageError(`${file} is not JSON: ${(error as Error).message}`, 'Fix the file (the docker CLI reads it too), or point DOCKER_CONFIG elsewhere.')
  }
  return typeof config.currentContext === 'string' && config.currentContext !== '' ? config.currentContext : 'default'
}

/**
 * The environment that puts a context's endpoint where docker-modem, mindbg's error messages and its reaper read
 * the connection: DOCKER_HOST, and the TLS material as DOCKER_CERT_PATH and DOCKER_TLS_VERIFY. The default context
 * changes nothing (DOCKER_HOST or the local socket, as they are).
 */
export interface ContextEndpoint {
  context: string
  env: Record<string, string | undefined>
  /** The context asks for TLS without checking the engine's certificate (`docker context create --docker skip-tls-verify=true`). */
  skipTLSVerify: boolean
}

export function contextEndpoint(env: NodeJS.ProcessEnv): ContextEndpoint {
  const context = dockerContextName(env)
  if (context === 'default') return {context, env: {}, skipTLSVerify: false}
  const dir = dockerConfigDir(env)
  const id = createHash('sha256').update(context).digest('hex')
  const metaFile = join(dir, 'contexts', 'meta', id, 'meta.json')
  let text: string
  try {
    text = readFileSync(metaFile, 'utf8')
  } catch {
    throw usageError(`docker context "${context}" is not in ${join(dir, 'contexts')}${env.DOCKER_CONTEXT === context ? ' (DOCKER_CONTEXT)' : ''}`, 'List the contexts with: docker context ls (DOCKER_CONFIG chooses where they are).')
  }
  let endpoint: {Host?: unknown; SkipTLSVerify?: unknown} | undefined
  try {
    endpoint = (JSON.parse(text) as {Endpoints?: {docker?: {Host?: unknown; SkipTLSVerify?: unknown}}}).Endpoints?.docker
  } catch (error) {
    throw new MindbgError('usage', `docker context "${context}": ${metaFile} is not JSON: ${(error as Error).message}`, `Recreate it: docker context rm ${context}, then docker context create.`)
  }
  if (typeof endpoint?.Host !== 'string' || endpoint.Host === '') {
    throw usageError(`docker context "${context}" has no Docker endpoint`, `Give it one: docker context update ${context} --docker host=unix:///var/run/docker.sock`)
  }
  const tls = join(dir, 'contexts', 'tls', id, 'docker')
  const skipTLSVerify = endpoint.SkipTLSVerify === true
  const hasTLS = existsSync(join(tls, 'ca.pem')) || existsSync(join(tls, 'cert.pem'))
  return {
    context,
    skipTLSVerify,
    // The context's own TLS settings replace any of the environment's, as in the docker CLI.
    // DOCKER_TLS_VERIFY=1 is what makes docker-modem speak TLS; skipTLSVerify is for the connection to honour.
    env: {DOCKER_HOST: endpoint.Host, DOCKER_CERT_PATH: hasTLS ? tls : undefined, DOCKER_TLS_VERIFY: hasTLS || skipTLSVerify ? '1' : undefined},
  }
}
