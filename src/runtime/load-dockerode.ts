import {registerHooks} from 'node:module'

import type Dockerode from 'dockerode'

type DockerodeClass = typeof Dockerode

let loaded: Promise<DockerodeClass> | undefined

const shim = (file: string): string => new URL(`./lazy/${file}`, import.meta.url).href

/**
 * dockerode is loaded on first use only (mindbg --help must not pay for it), and when it is, its two heavy and,
 * for mindbg, idle dependencies (ssh2 for ssh:// engines, gRPC for BuildKit sessions) are swapped for stand-ins
 * that load them on first real use. That takes dockerode from ~140 ms to ~20 ms of start-up.
 */
export function loadDockerode(): Promise<DockerodeClass> {
  loaded ??= (async () => {
    registerHooks({
      resolve(specifier, context, nextResolve) {
        const parent = context.parentURL ?? ''
        if (specifier === 'ssh2' && parent.includes('/docker-modem/')) return {url: shim('ssh2.cjs'), shortCircuit: true}
        if (specifier === './session' && parent.includes('/dockerode/lib/')) return {url: shim('dockerode-session.cjs'), shortCircuit: true}
        return nextResolve(specifier, context)
      },
    })
    const mod = await import('dockerode')
    return mod.default
  })()
  return loaded
}
