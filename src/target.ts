import {usageError} from './errors.js'

/** Where the target lives, decided from its syntax alone (no engine is contacted to parse). */
export type TargetRef =
  | {runtime: 'docker'; ref: string}
  | {runtime: 'kubernetes'; pod: string; namespace?: string; container?: string}

// Docker accepts names like these and full or abbreviated hex IDs; a leading "/" is how the engine prints names.
const DOCKER_REF = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]*$/
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/

export function parseTarget(input: string): TargetRef {
  const raw = input.trim()
  if (!raw) throw usageError('empty target', 'Name a container: mindbg attach <name|id|id-prefix>.')

  if (raw.startsWith('docker://')) return dockerRef(raw.slice('docker://'.length), input)

  for (const scheme of ['k8s://', 'kubernetes://']) {
    if (raw.startsWith(scheme)) {
      const [namespace, pod, container, ...rest] = raw.slice(scheme.length).split('/')
      if (!namespace || !pod || rest.length > 0) {
        throw usageError(`bad Kubernetes target "${input}"`, 'Use k8s://NAMESPACE/POD or k8s://NAMESPACE/POD/CONTAINER.')
      }
      return kubernetesRef(input, pod, namespace, container)
    }
  }
  if (raw.startsWith('pod/') || raw.startsWith('pods/')) {
    const [, pod, container, ...rest] = raw.split('/')
    if (!pod || rest.length > 0) throw usageError(`bad Kubernetes target "${input}"`, 'Use pod/NAME or pod/NAME/CONTAINER.')
    return kubernetesRef(input, pod, undefined, container)
  }
  return dockerRef(raw, input)
}

function dockerRef(ref: string, input: string): TargetRef {
  if (!DOCKER_REF.test(ref)) {
    throw usageError(
      `bad container reference "${input}"`,
      'A Docker target is a container name, a full ID or a unique ID prefix, optionally written docker://NAME.',
    )
  }
  return {runtime: 'docker', ref: ref.replace(/^\//, '')}
}

function kubernetesRef(input: string, pod: string, namespace: string | undefined, container: string | undefined): TargetRef {
  if (!DNS_SUBDOMAIN.test(pod) || (namespace !== undefined && !DNS_LABEL.test(namespace)) || (container !== undefined && !DNS_LABEL.test(container))) {
    throw usageError(`bad Kubernetes target "${input}"`, 'Pod, namespace and container names are lowercase DNS names.')
  }
  const ref: TargetRef = {runtime: 'kubernetes', pod}
  if (namespace !== undefined) ref.namespace = namespace
  if (container) ref.container = container
  return ref
}
