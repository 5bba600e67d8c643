/**
 * Known fields of Pod and Namespace, for decoding the way Go's decoder does: unknown fields are dropped and reported
 * according to ?fieldValidation= (Strict: 400 "strict decoding error: unknown field ..."; Warn, the default: a
 * Warning header per field; Ignore). Only the structures manifests commonly carry are described; deeper objects
 * (volumes' sources, probes, affinity, ...) are accepted as they are.
 */
import {ApiError, makeStatus} from './status.ts'
import type {Obj} from './store.ts'

/** A field set: name -> nested field set, a list item set (['item', set]), or true (opaque). */
type FieldSet = {[field: string]: FieldSet | ['item', FieldSet] | true}

const list = (s: FieldSet): ['item', FieldSet] => ['item', s]
const opaque = (...names: string[]): FieldSet => Object.fromEntries(names.map((n) => [n, true]))

const metadata: FieldSet = opaque('name', 'generateName', 'namespace', 'selfLink', 'uid', 'resourceVersion', 'generation',
  'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'labels', 'annotations', 'ownerReferences',
  'finalizers', 'managedFields')

const seccompProfile = opaque('type', 'localhostProfile')
const containerSecurityContext: FieldSet = {
  ...opaque('privileged', 'seLinuxOptions', 'windowsOptions', 'runAsUser', 'runAsGroup', 'runAsNonRoot',
    'readOnlyRootFilesystem', 'allowPrivilegeEscalation', 'procMount', 'appArmorProfile'),
  capabilities: opaque('add', 'drop'),
  seccompProfile,
}
const podSecurityContext: FieldSet = {
  ...opaque('seLinuxOptions', 'windowsOptions', 'runAsUser', 'runAsGroup', 'runAsNonRoot', 'supplementalGroups',
    'supplementalGroupsPolicy', 'fsGroup', 'sysctls', 'fsGroupChangePolicy', 'appArmorProfile', 'seLinuxChangePolicy'),
  seccompProfile,
}
const container: FieldSet = {
  ...opaque('name', 'image', 'command', 'args', 'workingDir', 'ports', 'envFrom', 'resources', 'resizePolicy',
    'restartPolicy', 'restartPolicyRules', 'volumeMounts', 'volumeDevices', 'livenessProbe', 'readinessProbe',
    'startupProbe', 'lifecycle', 'terminationMessagePath', 'terminationMessagePolicy', 'imagePullPolicy', 'stdin',
    'stdinOnce', 'tty'),
  env: list(opaque('name', 'value', 'valueFrom')),
  securityContext: containerSecurityContext,
}
const podSpec: FieldSet = {
  ...opaque('volumes', 'restartPolicy', 'terminationGracePeriodSeconds', 'activeDeadlineSeconds', 'dnsPolicy',
    'nodeSelector', 'serviceAccountName', 'serviceAccount', 'automountServiceAccountToken', 'nodeName', 'hostNetwork',
    'hostPID', 'hostIPC', 'shareProcessNamespace', 'imagePullSecrets', 'hostname', 'subdomain', 'affinity',
    'schedulerName', 'tolerations', 'hostAliases', 'priorityClassName', 'priority', 'dnsConfig', 'readinessGates',
    'runtimeClassName', 'enableServiceLinks', 'preemptionPolicy', 'overhead', 'topologySpreadConstraints',
    'setHostnameAsFQDN', 'os', 'hostUsers', 'schedulingGates', 'resourceClaims', 'resources', 'hostnameOverride'),
  containers: list(container),
  initContainers: list(container),
  ephemeralContainers: list({...container, targetContainerName: true}),
  securityContext: podSecurityContext,
}

export const SCHEMAS: Record<string, FieldSet> = {
  Pod: {...opaque('apiVersion', 'kind', 'status'), metadata, spec: podSpec},
  Namespace: {...opaque('apiVersion', 'kind'), metadata, spec: opaque('finalizers'), status: opaque('phase', 'conditions')},
}

/** Deletes unknown fields in place and returns their paths (Go's json field path syntax). */
export function pruneUnknown(obj: Obj, set: FieldSet, prefix = ''): string[] {
  const unknown: string[] = []
  for (const key of Object.keys(obj)) {
    const where = prefix ? `${prefix}.${key}` : key
    const spec = set[key]
    if (spec === undefined) {
      unknown.push(where)
      delete obj[key]
    } else if (spec === true) continue
    else if (Array.isArray(spec)) {
      const items = obj[key]
      if (Array.isArray(items)) {
        items.forEach((item, i) => {
          if (item && typeof item === 'object' && !Array.isArray(item)) unknown.push(...pruneUnknown(item, spec[1], `${where}[${i}]`))
        })
      }
    } else if (obj[key] && typeof obj[key] === 'object' && !Array.isArray(obj[key])) {
      unknown.push(...pruneUnknown(obj[key], spec, where))
    }
  }
  return unknown
}

/**
 * Applies ?fieldValidation= to a decoded body: throws the strict decoding error, or returns Warning texts.
 */
export function fieldValidation(kind: string, obj: Obj, params: URLSearchParams): string[] {
  const set = SCHEMAS[kind]
  if (!set) return []
  const unknown = pruneUnknown(obj, set)
  if (unknown.length === 0) return []
  const mode = params.get('fieldValidation') ?? 'Warn'
  if (mode === 'Strict') {
    const detail = unknown.map((u) => `unknown field "${u}"`).join(', ')
    throw new ApiError(makeStatus(400, 'BadRequest', `${kind} in version "v1" cannot be handled as a ${kind}: strict decoding error: ${detail}`))
  }
  if (mode === 'Ignore') return []
  return unknown.map((u) => `unknown field "${u}"`)
}
