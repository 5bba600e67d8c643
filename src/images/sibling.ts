import {MindbgError} from '../domain/errors.js'
import type {SiblingMapping} from '../domain/request.js'
import {formatImageReference, type ImageReference, parseImageReference} from './reference.js'

export interface SiblingChoice {
  image: string
  /** Why this image: shown by --dry-run. */
  rule: string
  /** The twin is a non-root variant: the sidecar should run as the target's user. */
  nonRoot: boolean
}

const ARCH_SUFFIX = /^(.*?)(-(?:amd64|arm64|arm|s390x|ppc64le|riscv64|386))?$/

/**
 * Derives the debug twin of a runtime image, or explains why there is none. `image` must carry a tag (a
 * digest-pinned reference is resolved to a tag by the caller first). User mappings are tried first.
 */
export function siblingImage(image: string, userMappings: SiblingMapping[] = []): SiblingChoice {
  for (const m of userMappings) {
    const re = new RegExp(`^(?:${m.match})$`)
    if (re.test(image)) {
      const twin = image.replace(re, m.replace)
      return {image: twin, rule: `config mapping ${m.match} -> ${m.replace}`, nonRoot: /nonroot/.test(twin)}
    }
  }
  const ref = parseImageReference(image)
  if (ref.digest && !ref.tag) {
    throw new MindbgError('imageUnavailable', `${image} is pinned by digest and has no tag to derive a debug twin from`, 'Pass the debug image with --image.')
  }
  const tag = ref.tag ?? 'latest'
  const twin = (t: string): string => formatImageReference({...ref, tag: t, digest: undefined})

  if (ref.registry === 'gcr.io' && ref.path.startsWith('distroless/')) {
    if (/^debug(-|$)/.test(tag)) return {image: twin(tag), rule: 'distroless: already a debug variant', nonRoot: tag.includes('nonroot')}
    const [, base = tag, arch = ''] = ARCH_SUFFIX.exec(tag) ?? []
    const debugTag = base === 'latest' ? `debug${arch}` : `debug-${base}${arch}`
    return {image: twin(debugTag), rule: `distroless: ${tag} -> ${debugTag}`, nonRoot: base === 'nonroot'}
  }
  const chainguard = ref.registry === 'cgr.dev' || (!ref.registry && ref.path.startsWith('chainguard/'))
  if (chainguard) {
    if (tag.endsWith('-dev')) return {image: twin(tag), rule: 'chainguard: already a -dev variant', nonRoot: false}
    return {image: twin(`${tag}-dev`), rule: `chainguard/wolfi: ${tag} -> ${tag}-dev`, nonRoot: false}
  }
  throw new MindbgError('imageUnavailable', `no known debug twin for ${image}`, 'Pass a debug image with --image, or add a sibling mapping to the config file.')
}
