import {contextEndpoint} from '../backends/docker/context.js'
import {prefetch, unixSocket} from '../backends/docker/http.js'
import {defaultRuntime, parseTarget, type Runtime} from '../domain/target.js'
import {fastParse} from './fast-parse.js'
import {ATTACH_FLAGS, GLOBAL_FLAGS} from './flag-table.js'

/**
 * `mindbg attach T ...` on a local Docker or Podman socket: the look-ups the Docker backend makes first (/_ping, the
 * target's inspect, the debug image's when it is named by --image or MINDBG_IMAGE; for `--session S -- CMD`, the
 * sidecar's inspect) sent before the command's code
 * is loaded (bin/run.js), so that the engine answers meanwhile; SocketHttp takes those answers (prefetch() in
 * src/backends/docker/http.ts). Read-only requests: one nobody takes is dropped. Whatever goes wrong here goes
 * wrong again where the command does the same, with its message: here it is only not prefetched.
 * Returns the runtime the session will most likely use, when the words say (bin/run.js picks the code cache of
 * dist/attach.cjs made by a session of that runtime: build/code-cache-loader.mjs).
 */
export function prefetchAttach(argv: string[], env: NodeJS.ProcessEnv): Runtime | undefined {
  try {
    const parsed = fastParse({...ATTACH_FLAGS, ...GLOBAL_FLAGS}, argv)
    if (parsed === undefined) return undefined
    const session = parsed.flags.session as string | undefined
    // `--session S -- CMD` names no target (its first word is the command's): the sidecar S is looked up instead.
    const dashes = argv.indexOf('--')
    const named = parsed.argv.length > (dashes < 0 ? 0 : argv.length - dashes - 1)
    if (session !== undefined && (named || defaultRuntime(env) !== 'docker')) return undefined
    const ref = session === undefined ? parseTarget(parsed.target, defaultRuntime(env)) : undefined
    if (ref !== undefined && (ref.runtime !== 'docker' || ref.image)) return ref.runtime
    const endpoint = contextEndpoint(env)
    const host = 'DOCKER_HOST' in endpoint.env ? endpoint.env.DOCKER_HOST : env.DOCKER_HOST
    // unix:// without a path is refused by the command (checkDockerHost), not taken for the default socket.
    const socket = host === 'unix://' ? undefined : unixSocket(host)
    if (socket === undefined) return 'docker'
    if (ref === undefined) {
      prefetch(socket, ['/_ping', `/containers/${encodeURIComponent(session!)}/json`])
      return 'docker'
    }
    const image = parsed.flags.sibling ? undefined : ((parsed.flags.image as string | undefined) ?? env.MINDBG_IMAGE)
    prefetch(socket, ['/_ping', `/containers/${encodeURIComponent(ref.ref)}/json`, ...(image ? [`/images/${image}/json`] : [])])
    return 'docker'
  } catch {
    return undefined // not prefetched
  }
}
