/**
 * Image references as Docker parses them: [registry[:port]/]path[:tag][@digest]. Docker Hub short names are
 * kept short (busybox stays busybox) so that messages show what the user typed.
 */
export interface ImageReference {
  /** Registry host (with port), or undefined for Docker Hub. */
  registry: string | undefined
  /** Repository path without registry: "distroless/static-debian12", "library/busybox" is kept as "busybox". */
  path: string
  tag: string | undefined
  digest: string | undefined
}

export function parseImageReference(ref: string): ImageReference {
  let rest = ref.trim()
  let digest: string | undefined
  const at = rest.indexOf('@')
  if (at >= 0) {
    digest = rest.slice(at + 1)
    rest = rest.slice(0, at)
  }
  let tag: string | undefined
  const colon = rest.lastIndexOf(':')
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1)
    rest = rest.slice(0, colon)
  }
  let registry: string | undefined
  const slash = rest.indexOf('/')
  if (slash > 0) {
    const first = rest.slice(0, slash)
    // Docker's rule: the first component is a registry if it has a dot or a port, or is "localhost".
    if (first.includes('.') || first.includes(':') || first === 'localhost') {
      registry = first
      rest = rest.slice(slash + 1)
    }
  }
  return {registry, path: rest, tag, digest}
}

export function formatImageReference({registry, path, tag, digest}: ImageReference): string {
  return `${registry ? `${registry}/` : ''}${path}${tag ? `:${tag}` : ''}${digest ? `@${digest}` : ''}`
}

/** The registry host Docker's credential store is keyed by. */
export function registryHost(ref: ImageReference): string {
  return ref.registry ?? 'https://index.docker.io/v1/'
}
