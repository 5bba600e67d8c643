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

// The distribution reference grammar (github.com/distribution/reference, grammar.go), as regular expressions.
const ALNUM = '[a-z0-9]+'
const SEPARATOR = '(?:[._]|__|-+)'
const PATH_COMPONENT = `${ALNUM}(?:${SEPARATOR}${ALNUM})*`
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])'
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?`
const NAME = `(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`
const TAG = '[\\w][\\w.-]{0,127}'
const DIGEST = '([A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*):([0-9a-fA-F]{32,})'
const REFERENCE = new RegExp(`^(${NAME})(?::${TAG})?(?:@${DIGEST})?$`)
const MAX_NAME = 255

/** Why `ref` is not an image reference Docker would accept, or undefined when it is one. */
export function imageReferenceProblem(ref: string): string | undefined {
  if (ref.trim() === '') return 'it is empty'
  if (ref !== ref.trim() || /\s/.test(ref)) return 'it contains white space'
  const m = REFERENCE.exec(ref)
  if (!m) {
    if (/[A-Z]/.test(ref.split('@')[0]!.split('/').slice(-1)[0]!.split(':')[0]!)) return 'repository names are lower-case'
    if (ref.includes('@')) return 'the digest must be ALGORITHM:HEX, e.g. sha256: and 64 hex digits'
    return 'it is not [REGISTRY/]NAME[:TAG][@DIGEST]'
  }
  if (m[1]!.length > MAX_NAME) return `the name is longer than ${MAX_NAME} characters`
  if (m[2] === 'sha256' && m[3]!.length !== 64) return 'a sha256 digest has 64 hex digits'
  return undefined
}
