import type Dockerode from 'dockerode'

type DockerodeClass = typeof Dockerode

let loaded: Promise<DockerodeClass> | undefined

/**
 * dockerode is loaded on first use only (mindbg --help must not pay for it), from the single-file bundle that
 * build/vendor.mjs makes of it, with its idle ssh2 and gRPC dependencies replaced by stand-ins that load them on
 * first real use (src/runtime/lazy). That takes dockerode from ~140 ms to ~15 ms of start-up.
 */
export function loadDockerode(): Promise<DockerodeClass> {
  loaded ??= import('#dockerode').then((mod: {default: DockerodeClass}) => mod.default)
  return loaded
}
