/**
 * Pod Security Admission (k8s.io/pod-security-admission), enforced from the namespace labels
 * `pod-security.kubernetes.io/enforce` (+ `-version`) and reported as warnings from `.../warn`.
 *
 * Checks implemented, with the policy package's exact reasons and details: baseline = non-default capabilities,
 * host namespaces, hostPath volumes, hostPort, privileged, seccompProfile (no Unconfined); restricted adds
 * allowPrivilegeEscalation, unrestricted capabilities (replaces the baseline capabilities check), restricted volume
 * types, runAsNonRoot, runAsUser=0, seccompProfile (RuntimeDefault/Localhost required; replaces the baseline one).
 * Left out: AppArmor, SELinux, sysctls, procMount, Windows host process (fixtures never set them).
 * Results are aggregated in check registration order (baseline checks, then restricted), like AggregateCheckResults.
 */
import type {Obj} from './store.ts'

export type Level = 'privileged' | 'baseline' | 'restricted'

interface Violation {
  reason: string
  detail: string
}

const DEFAULT_CAPS = new Set(['AUDIT_WRITE', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'MKNOD', 'NET_BIND_SERVICE',
  'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT'])
const RESTRICTED_VOLUME_TYPES = new Set(['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim',
  'projected', 'secret', 'image'])

const pluralize = (one: string, many: string, n: number): string => (n === 1 ? one : many)
const joinQuote = (items: string[]): string => items.map((i) => JSON.stringify(i)).join(', ')
const sorted = (s: Set<string>): string[] => [...s].sort()

/** visitContainers order: init containers, containers, ephemeral containers. */
function containersOf(spec: Obj): Obj[] {
  return [...(spec.initContainers ?? []), ...(spec.containers ?? []), ...(spec.ephemeralContainers ?? [])].filter((c) => c && typeof c === 'object')
}

function capabilitiesBaseline(spec: Obj): Violation | undefined {
  const bad: string[] = []
  const caps = new Set<string>()
  for (const c of containersOf(spec)) {
    let valid = true
    for (const cap of c.securityContext?.capabilities?.add ?? []) {
      if (!DEFAULT_CAPS.has(cap)) {
        valid = false
        caps.add(cap)
      }
    }
    if (!valid) bad.push(c.name)
  }
  if (bad.length === 0) return undefined
  return {
    reason: 'non-default capabilities',
    detail: `${pluralize('container', 'containers', bad.length)} ${joinQuote(bad)} must not include ${joinQuote(sorted(caps))} in securityContext.capabilities.add`,
  }
}

function hostNamespaces(spec: Obj): Violation | undefined {
  const ns: string[] = []
  if (spec.hostNetwork) ns.push('hostNetwork=true')
  if (spec.hostPID) ns.push('hostPID=true')
  if (spec.hostIPC) ns.push('hostIPC=true')
  return ns.length > 0 ? {reason: 'host namespaces', detail: ns.join(', ')} : undefined
}

function hostPathVolumes(spec: Obj): Violation | undefined {
  const bad = (spec.volumes ?? []).filter((v: Obj) => v?.hostPath).map((v: Obj) => v.name as string)
  return bad.length > 0 ? {reason: 'hostPath volumes', detail: `${pluralize('volume', 'volumes', bad.length)} ${joinQuote(bad)}`} : undefined
}

function hostPorts(spec: Obj): Violation | undefined {
  const bad: string[] = []
  const ports = new Set<string>()
  for (const c of containersOf(spec)) {
    let found = false
    for (const p of c.ports ?? []) {
      if (p?.hostPort) {
        found = true
        ports.add(String(p.hostPort))
      }
    }
    if (found) bad.push(c.name)
  }
  if (bad.length === 0) return undefined
  return {
    reason: 'hostPort',
    detail: `${pluralize('container', 'containers', bad.length)} ${joinQuote(bad)} ${pluralize('uses', 'use', bad.length)} ${pluralize('hostPort', 'hostPorts', ports.size)} ${sorted(ports).join(', ')}`,
  }
}

function privileged(spec: Obj): Violation | undefined {
  const bad = containersOf(spec).filter((c) => c.securityContext?.privileged === true).map((c) => c.name as string)
  if (bad.length === 0) return undefined
  return {reason: 'privileged', detail: `${pluralize('container', 'containers', bad.length)} ${joinQuote(bad)} must not set securityContext.privileged=true`}
}

function seccompBaseline(spec: Obj): Violation | undefined {
  const forbidden: string[] = []
  const podType = spec.securityContext?.seccompProfile?.type
  if (podType === 'Unconfined') forbidden.push(`pod must not set securityContext.seccompProfile.type to ${JSON.stringify(podType)}`)
  const bad: string[] = []
  const types = new Set<string>()
  for (const c of containersOf(spec)) {
    const t = c.securityContext?.seccompProfile?.type
    if (t === 'Unconfined') {
      bad.push(c.name)
      types.add(t)
    }
  }
  if (bad.length > 0) {
    forbidden.push(`${pluralize('container', 'containers', bad.length)} ${joinQuote(bad)} must not set securityContext.seccompProfile.type to ${joinQuote(sorted(types))}`)
  }
  return forbidden.length > 0 ? {reason: 'seccompProfile', detail: forbidden.join('; ')} : undefined
}

function allowPrivilegeEscalation(spec: Obj): Violation | undefined {
  const bad = containersOf(spec).filter((c) => c.securityContext?.allowPrivilegeEscalation !== false).map((c) => c.name as string)
  if (bad.length === 0) return undefined
  return {
    reason: 'allowPrivilegeEscalation != false',
    detail: `${pluralize('container', 'containers', bad.length)} ${joinQuote(bad)} must set securityContext.allowPrivilegeEscalation=false`,
  }
}

function capabilitiesRestricted(spec: Obj): Violation | undefined {
  const missingDrop: string[] = []
  const adding: string[] = []
  const caps = new Set<string>()
  for (const c of containersOf(spec)) {
    const capsSpec = c.securityContext?.capabilities
    if (!capsSpec) {
      missingDrop.push(c.name)
      continue
    }
    if (!(capsSpec.drop ?? []).includes('ALL')) missingDrop.push(c.name)
    let added = false
    for (const cap of capsSpec.add ?? []) {
      if (cap !== 'NET_BIND_SERVICE') {
        added = true
        caps.add(cap)
      }
    }
    if (added) adding.push(c.name)
  }
  const details: string[] = []
  if (missingDrop.length > 0) {
    details.push(`${pluralize('container', 'containers', missingDrop.length)} ${joinQuote(missingDrop)} must set securityContext.capabilities.drop=["ALL"]`)
  }
  if (adding.length > 0) {
    details.push(`${pluralize('container', 'containers', adding.length)} ${joinQuote(adding)} must not include ${joinQuote(sorted(caps))} in securityContext.capabilities.add`)
  }
  return details.length > 0 ? {reason: 'unrestricted capabilities', detail: details.join('; ')} : undefined
}

function restrictedVolumes(spec: Obj): Violation | undefined {
  const bad: string[] = []
  const types = new Set<string>()
  for (const v of spec.volumes ?? []) {
    const type = Object.keys(v ?? {}).find((k) => k !== 'name')
    if (type && !RESTRICTED_VOLUME_TYPES.has(type)) {
      bad.push(v.name)
      types.add(type)
    }
  }
  if (bad.length === 0) return undefined
  return {
    reason: 'restricted volume types',
    detail: `${pluralize('volume', 'volumes', bad.length)} ${joinQuote(bad)} ${pluralize('uses', 'use', bad.length)} restricted volume ${pluralize('type', 'types', types.size)} ${joinQuote(sorted(types))}`,
  }
}

function runAsNonRoot(spec: Obj): Violation | undefined {
  const badSetters: string[] = []
  let podNonRoot = false
  const podValue = spec.securityContext?.runAsNonRoot
  if (podValue === false) badSetters.push('pod')
  else if (podValue === true) podNonRoot = true
  const explicit: string[] = []
  const implicit: string[] = []
  for (const c of containersOf(spec)) {
    const v = c.securityContext?.runAsNonRoot
    if (v === true || v === false) {
      if (v === false) explicit.push(c.name)
    } else if (!podNonRoot) implicit.push(c.name)
  }
  if (explicit.length > 0) badSetters.push(`${pluralize('container', 'containers', explicit.length)} ${joinQuote(explicit)}`)
  if (badSetters.length > 0) {
    return {reason: 'runAsNonRoot != true', detail: `${badSetters.join(' and ')} must not set securityContext.runAsNonRoot=false`}
  }
  if (implicit.length > 0) {
    return {
      reason: 'runAsNonRoot != true',
      detail: `pod or ${pluralize('container', 'containers', implicit.length)} ${joinQuote(implicit)} must set securityContext.runAsNonRoot=true`,
    }
  }
  return undefined
}

function runAsUser(spec: Obj): Violation | undefined {
  const badSetters: string[] = []
  if (spec.securityContext?.runAsUser === 0) badSetters.push('pod')
  const bad = containersOf(spec).filter((c) => c.securityContext?.runAsUser === 0).map((c) => c.name as string)
  if (bad.length > 0) badSetters.push(`${pluralize('container', 'containers', bad.length)} ${joinQuote(bad)}`)
  return badSetters.length > 0 ? {reason: 'runAsUser=0', detail: `${badSetters.join(' and ')} must not set runAsUser=0`} : undefined
}

function seccompRestricted(spec: Obj): Violation | undefined {
  const valid = (t: unknown): boolean => t === 'RuntimeDefault' || t === 'Localhost'
  const badSetters: string[] = []
  const badValues = new Set<string>()
  let podSet = false
  const podProfile = spec.securityContext?.seccompProfile
  if (podProfile) {
    if (!valid(podProfile.type)) {
      badSetters.push('pod')
      badValues.add(String(podProfile.type ?? ''))
    } else podSet = true
  }
  const explicit: string[] = []
  const implicit: string[] = []
  for (const c of containersOf(spec)) {
    const profile = c.securityContext?.seccompProfile
    if (profile) {
      if (!valid(profile.type)) {
        explicit.push(c.name)
        badValues.add(String(profile.type ?? ''))
      }
    } else if (!podSet) implicit.push(c.name)
  }
  if (explicit.length > 0) badSetters.push(`${pluralize('container', 'containers', explicit.length)} ${joinQuote(explicit)}`)
  if (badSetters.length > 0) {
    return {reason: 'seccompProfile', detail: `${badSetters.join(' and ')} must not set securityContext.seccompProfile.type to ${joinQuote(sorted(badValues))}`}
  }
  if (implicit.length > 0) {
    return {
      reason: 'seccompProfile',
      detail: `pod or ${pluralize('container', 'containers', implicit.length)} ${joinQuote(implicit)} must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"`,
    }
  }
  return undefined
}

const BASELINE = [capabilitiesBaseline, hostNamespaces, hostPathVolumes, hostPorts, privileged, seccompBaseline]
/** Restricted replaces the baseline capabilities and seccomp checks with stricter versions (OverrideCheckIDs). */
const RESTRICTED = [hostNamespaces, hostPathVolumes, hostPorts, privileged, allowPrivilegeEscalation, capabilitiesRestricted,
  restrictedVolumes, runAsNonRoot, runAsUser, seccompRestricted]

/** The "violates PodSecurity" detail for a spec at a level, or undefined when it passes. */
export function evaluate(level: Level, spec: Obj): string | undefined {
  if (level === 'privileged') return undefined
  const checks = level === 'restricted' ? RESTRICTED : BASELINE
  const violations = checks.map((c) => c(spec)).filter((v): v is Violation => v !== undefined)
  if (violations.length === 0) return undefined
  return violations.map((v) => (v.detail ? `${v.reason} (${v.detail})` : v.reason)).join(', ')
}

function levelOf(labels: Record<string, string>, mode: 'enforce' | 'warn'): {level: Level; version: string} | undefined {
  const level = labels[`pod-security.kubernetes.io/${mode}`]
  if (level !== 'baseline' && level !== 'restricted' && level !== 'privileged') return undefined
  return {level, version: labels[`pod-security.kubernetes.io/${mode}-version`] || 'latest'}
}

export interface PodSecurityResult {
  /** Set when the enforce level rejects the pod: the text after `pods "x" is forbidden: `. */
  forbidden?: string
  /** Warning header values (warn level). */
  warnings: string[]
}

export function admitPod(namespace: Obj | undefined, spec: Obj): PodSecurityResult {
  const labels: Record<string, string> = namespace?.metadata?.labels ?? {}
  const result: PodSecurityResult = {warnings: []}
  const enforce = levelOf(labels, 'enforce')
  if (enforce) {
    const detail = evaluate(enforce.level, spec)
    if (detail) result.forbidden = `violates PodSecurity "${enforce.level}:${enforce.version}": ${detail}`
  }
  const warn = levelOf(labels, 'warn')
  if (warn && !result.forbidden) {
    const detail = evaluate(warn.level, spec)
    if (detail) result.warnings.push(`would violate PodSecurity "${warn.level}:${warn.version}": ${detail}`)
  }
  return result
}
