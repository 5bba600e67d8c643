import {firstLine, MindbgError} from '../../domain/errors.js'

interface EngineErrorLike {
  code?: unknown
  statusCode?: unknown
  json?: unknown
  reason?: unknown
  message?: string
}

export function engineAddress(): string {
  return process.env.DOCKER_HOST || 'unix:///var/run/docker.sock'
}

const UNREACHABLE = new Set(['ENOENT', 'ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ETIMEDOUT', 'ENOTFOUND'])

/** Docker's (and Podman's) failures in words: the socket's errors, then the engine's HTTP answers. */
export function dockerError(error: unknown): MindbgError {
  if (error instanceof MindbgError) return error
  const err = (error ?? {}) as EngineErrorLike
  const code = typeof err.code === 'string' ? err.code : undefined
  if (code !== undefined && UNREACHABLE.has(code)) {
    return new MindbgError(
      'engineUnreachable',
      `cannot reach the Docker engine at ${engineAddress()} (${code})`,
      'Start the Docker daemon, or point DOCKER_HOST at a running engine (e.g. unix:///run/podman/podman.sock).',
      {cause: error},
    )
  }
  const ssh = sshError(err)
  if (ssh) return ssh
  if (code === 'EACCES' || code === 'EPERM') {
    return new MindbgError(
      'permissionDenied',
      `permission denied while connecting to the Docker engine at ${engineAddress()}`,
      'Add your user to the "docker" group (then log in again), or run mindbg with sudo.',
      {cause: error},
    )
  }
  // Something answers HTTP there, but not the Engine API (a web server, a proxy's error page).
  if (typeof err.statusCode === 'number' && /<(!doctype|html|head|body)\b/i.test(`${typeof err.json === 'string' ? err.json : ''} ${err.message ?? ''}`)) {
    return new MindbgError(
      'engineUnreachable',
      `${engineAddress()} does not answer like a Docker engine (HTTP ${err.statusCode} with a web page)`,
      'Point DOCKER_HOST at the engine\'s API (e.g. unix:///var/run/docker.sock or tcp://HOST:2375), not at a web server.',
      {cause: error},
    )
  }
  if (typeof err.statusCode === 'number') {
    return new MindbgError('internal', `the Docker engine answered ${err.statusCode}: ${engineMessage(err)}`, 'Rerun with --debug to see the full request and answer.', {cause: error})
  }
  return new MindbgError('internal', firstLine(err.message ?? String(error)) || 'unexpected error', 'This is a bug in mindbg; rerun with --debug and report the output.', {cause: error})
}

/**
 * ssh:// engines: docker-modem authenticates through the ssh agent only (SSH_AUTH_SOCK), and ssh2's failures carry a
 * `level` (client-authentication, client-timeout, protocol, ...) or name the agent.
 */
function sshError(err: EngineErrorLike & {level?: unknown}): MindbgError | undefined {
  if (!engineAddress().startsWith('ssh://')) return undefined
  const message = firstLine(err.message ?? '')
  if (err.level === 'client-authentication' || /agent/i.test(message)) {
    const agent = process.env.SSH_AUTH_SOCK
    return new MindbgError(
      'permissionDenied',
      `ssh to ${engineAddress()} failed: ${message}`,
      agent
        ? `mindbg logs in with the keys of the ssh agent at SSH_AUTH_SOCK (${agent}): add yours with ssh-add, and check the user in DOCKER_HOST.`
        : 'mindbg logs in with the keys of an ssh agent: start one (eval $(ssh-agent)) and add your key with ssh-add.',
      {cause: err},
    )
  }
  if (typeof err.level === 'string') {
    return new MindbgError('engineUnreachable', `cannot reach the Docker engine at ${engineAddress()} over ssh: ${message}`, 'Check that "ssh HOST docker version" works from this machine.', {cause: err})
  }
  return undefined
}

/** The engine's own message out of a docker-modem error, without the HTTP noise. */
export function engineMessage(err: unknown): string {
  const e = err as EngineErrorLike
  const json = e.json as {message?: unknown} | string | undefined
  if (json && typeof json === 'object' && typeof json.message === 'string') return json.message
  if (typeof json === 'string' && json.trim()) return json.trim()
  // Streamed calls (pull) carry the daemon's text only inside the message: "(HTTP code N) reason - text".
  const modem = /^\(HTTP code \d+\) .*? - (.+)$/s.exec(e.message ?? '')
  if (modem?.[1]?.trim()) return firstLine(modem[1])
  if (typeof e.reason === 'string') return e.reason
  return firstLine(e.message ?? String(err))
}

/** An HTTP status out of a docker-modem error. */
export const httpStatus = (e: unknown): number | undefined => (e as {statusCode?: number} | undefined)?.statusCode

/** A call to the engine whose failure reaches the user in Docker's words (dockerError). */
export async function guard<T>(call: Promise<T>): Promise<T> {
  try {
    return await call
  } catch (error) {
    throw dockerError(error)
  }
}
