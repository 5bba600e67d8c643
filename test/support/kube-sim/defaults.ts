/**
 * Defaulting, as pkg/apis/core/v1/defaults.go and the default admission plugins do it. It runs before validation,
 * on create and on every update (so an ephemeral container sent without imagePullPolicy compares equal to the
 * stored, defaulted one).
 */
import type {Obj} from './store.ts'

/** Splits an image reference into repository, tag and digest (the tag is undefined when absent). */
export function parseImage(image: string): {repo: string; tag?: string; digest?: string} {
  let rest = image
  let digest: string | undefined
  const at = rest.indexOf('@')
  if (at >= 0) {
    digest = rest.slice(at + 1)
    rest = rest.slice(0, at)
  }
  const slash = rest.lastIndexOf('/')
  const colon = rest.lastIndexOf(':')
  let tag: string | undefined
  if (colon > slash) {
    tag = rest.slice(colon + 1)
    rest = rest.slice(0, colon)
  }
  const out: {repo: string; tag?: string; digest?: string} = {repo: rest}
  if (tag !== undefined) out.tag = tag
  if (digest !== undefined) out.digest = digest
  return out
}

/** The fully qualified name containerd reports (docker.io/library/busybox:latest). */
export function normalizeImage(image: string): string {
  const {repo, tag, digest} = parseImage(image)
  const first = repo.split('/')[0]!
  const hasDomain = repo.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost')
  let full = hasDomain ? repo : `docker.io/${repo.includes('/') ? repo : `library/${repo}`}`
  if (tag !== undefined) full += `:${tag}`
  else if (digest === undefined) full += ':latest'
  if (digest !== undefined) full += `@${digest}`
  return full
}

/** SetDefaults_Container: Always for :latest or no tag (unless pinned by digest), else IfNotPresent. */
export function defaultPullPolicy(image: string): string {
  const {tag, digest} = parseImage(image)
  if (digest !== undefined) return 'IfNotPresent'
  return tag === undefined || tag === 'latest' ? 'Always' : 'IfNotPresent'
}

/** Fields every container kind gets (containers, initContainers, ephemeralContainers). */
export function defaultContainerCommon(c: Obj): void {
  if (typeof c.image === 'string' && c.image && !c.imagePullPolicy) c.imagePullPolicy = defaultPullPolicy(c.image)
  if (!c.terminationMessagePath) c.terminationMessagePath = '/dev/termination-log'
  if (!c.terminationMessagePolicy) c.terminationMessagePolicy = 'File'
  if (Array.isArray(c.ports)) for (const p of c.ports) if (p && typeof p === 'object' && !p.protocol) p.protocol = 'TCP'
  if (Array.isArray(c.env)) {
    for (const e of c.env) {
      const f = e?.valueFrom?.fieldRef
      if (f && !f.apiVersion) f.apiVersion = 'v1'
    }
  }
}

export function defaultEphemeralContainers(spec: Obj): void {
  if (Array.isArray(spec.ephemeralContainers)) {
    for (const ec of spec.ephemeralContainers) if (ec && typeof ec === 'object') defaultContainerCommon(ec)
  }
}

/** Defaults of a new pod: API defaults plus what the ServiceAccount and DefaultTolerationSeconds admission add. */
export function defaultPod(pod: Obj, nodeName: string): void {
  pod.metadata ??= {}
  const spec: Obj = (pod.spec ??= {})
  for (const list of ['containers', 'initContainers'] as const) {
    if (Array.isArray(spec[list])) {
      for (const c of spec[list]) {
        if (!c || typeof c !== 'object') continue
        defaultContainerCommon(c)
        c.resources ??= {}
      }
    }
  }
  defaultEphemeralContainers(spec)
  spec.restartPolicy ??= 'Always'
  spec.terminationGracePeriodSeconds ??= 30
  spec.dnsPolicy ??= 'ClusterFirst'
  spec.securityContext ??= {}
  spec.schedulerName ??= 'default-scheduler'
  spec.serviceAccountName ??= spec.serviceAccount ?? 'default'
  spec.serviceAccount ??= spec.serviceAccountName
  spec.enableServiceLinks ??= true
  spec.preemptionPolicy ??= 'PreemptLowerPriority'
  spec.priority ??= 0
  // No scheduler: every pod is bound to the single simulated node at creation.
  spec.nodeName ??= nodeName
  spec.tolerations ??= [
    {key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300},
    {key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300},
  ]
}

/** status.qosClass, the way GetPodQOS computes it (requests/limits of cpu and memory). */
export function qosClass(spec: Obj): string {
  const all = [...(spec.containers ?? []), ...(spec.initContainers ?? [])]
  let any = false
  let guaranteed = true
  for (const c of all) {
    const req = c?.resources?.requests ?? {}
    const lim = c?.resources?.limits ?? {}
    for (const r of ['cpu', 'memory']) {
      if (req[r] !== undefined || lim[r] !== undefined) any = true
      const request = req[r] ?? lim[r]
      if (lim[r] === undefined || String(request) !== String(lim[r])) guaranteed = false
    }
  }
  if (!any) return 'BestEffort'
  return guaranteed ? 'Guaranteed' : 'Burstable'
}
