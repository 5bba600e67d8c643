/**
 * Pod validation, following pkg/apis/core/validation/validation.go: the subset that matters for creating pods from
 * ordinary manifests and, exactly, the rules for ephemeral containers (validateEphemeralContainers and
 * ValidatePodEphemeralContainersUpdate), in the same order so multi-error messages match the real server.
 */
import {
  type FieldError, duplicate, forbiddenField, invalidField, notFoundField, notSupported, path, required,
  validateDNS1123Label, validateDNS1123Subdomain,
} from './field-errors.ts'
import type {Obj} from './store.ts'

const PULL_POLICIES = ['Always', 'IfNotPresent', 'Never']
const TERMINATION_POLICIES = ['File', 'FallbackToLogsOnError']
const RESTART_POLICIES = ['Always', 'OnFailure', 'Never']

/**
 * The fields of EphemeralContainerCommon in Go struct order (1.34), and whether an ephemeral container may set them.
 * validateFieldAllowList walks the struct in this order, so the Forbidden errors come out in this order too.
 */
const EC_FIELDS: Array<[string, boolean]> = [
  ['name', true], ['image', true], ['command', true], ['args', true], ['workingDir', true], ['ports', false],
  ['envFrom', true], ['env', true], ['resources', false], ['resizePolicy', false], ['restartPolicy', false],
  ['restartPolicyRules', false], ['volumeMounts', true], ['volumeDevices', true], ['livenessProbe', false],
  ['readinessProbe', false], ['startupProbe', false], ['lifecycle', false], ['terminationMessagePath', true],
  ['terminationMessagePolicy', true], ['imagePullPolicy', true], ['securityContext', true], ['stdin', true],
  ['stdinOnce', true], ['tty', true],
]
/** Every field an EphemeralContainer has: decoding drops anything else, as Go's JSON decoder does. */
export const EC_KNOWN_FIELDS = new Set([...EC_FIELDS.map(([f]) => f), 'targetContainerName'])

/** Whether a field holds a non-zero Go value. `resources: {}` is the zero struct; `ports: []` is not nil. */
function isSet(field: string, value: unknown): boolean {
  if (value === undefined || value === null) return false
  if (field === 'resources') {
    return typeof value === 'object' && Object.values(value as Obj).some((v) => v !== undefined && v !== null)
  }
  return true
}

/**
 * validateContainerCommon + validateContainerOnlyForPod: what every container kind must satisfy, in the Go order
 * (name, image, terminationMessagePolicy, env, volumeMounts, imagePullPolicy, then the image whitespace check).
 */
function validateContainerCommon(c: Obj, p: string, volumeNames: Set<string>): FieldError[] {
  const errs: FieldError[] = []
  if (typeof c.name !== 'string' || c.name === '') errs.push(required(path(p, 'name')))
  else errs.push(...validateDNS1123Label(c.name, path(p, 'name')))
  if (typeof c.image !== 'string' || c.image === '') errs.push(required(path(p, 'image')))
  if (c.terminationMessagePolicy !== undefined && !TERMINATION_POLICIES.includes(c.terminationMessagePolicy)) {
    errs.push(notSupported(path(p, 'terminationMessagePolicy'), c.terminationMessagePolicy, TERMINATION_POLICIES))
  }
  if (Array.isArray(c.env)) {
    c.env.forEach((e: Obj, i: number) => {
      if (!e || typeof e.name !== 'string' || e.name === '') errs.push(required(path(p, 'env', i, 'name')))
    })
  }
  if (Array.isArray(c.volumeMounts)) {
    c.volumeMounts.forEach((m: Obj, i: number) => {
      const mp = path(p, 'volumeMounts', i)
      if (!m || typeof m.name !== 'string' || m.name === '') errs.push(required(path(mp, 'name')))
      if (!m || typeof m.mountPath !== 'string' || m.mountPath === '') errs.push(required(path(mp, 'mountPath')))
      if (m && typeof m.name === 'string' && m.name !== '' && !volumeNames.has(m.name)) errs.push(notFoundField(path(mp, 'name'), m.name))
    })
  }
  if (c.imagePullPolicy !== undefined && !PULL_POLICIES.includes(c.imagePullPolicy)) {
    errs.push(notSupported(path(p, 'imagePullPolicy'), c.imagePullPolicy, PULL_POLICIES))
  }
  if (typeof c.image === 'string' && c.image !== '' && c.image.trim() !== c.image) {
    errs.push(invalidField(path(p, 'image'), c.image, 'must not have leading or trailing whitespace'))
  }
  return errs
}

const volumeNamesOf = (spec: Obj): Set<string> =>
  new Set((Array.isArray(spec.volumes) ? spec.volumes : []).map((v: Obj) => v?.name).filter(Boolean))

/** validateEphemeralContainers, in the order of the Go code. */
export function validateEphemeralContainers(spec: Obj): FieldError[] {
  const ecs: Obj[] = Array.isArray(spec.ephemeralContainers) ? spec.ephemeralContainers : []
  const errs: FieldError[] = []
  const other = new Set<string>()
  for (const c of [...(spec.containers ?? []), ...(spec.initContainers ?? [])]) if (c?.name) other.add(c.name)
  const all = new Set(other)
  const volumes = volumeNamesOf(spec)
  ecs.forEach((ec, i) => {
    const p = path('spec', 'ephemeralContainers', i)
    if (!ec || typeof ec !== 'object' || Array.isArray(ec)) {
      errs.push(invalidField(p, ec, 'must be an object'))
      return
    }
    errs.push(...validateContainerCommon(ec, p, volumes))
    if (typeof ec.name === 'string' && ec.name !== '') {
      if (all.has(ec.name)) errs.push(duplicate(path(p, 'name'), ec.name))
      else all.add(ec.name)
    }
    if (ec.targetContainerName && !other.has(ec.targetContainerName)) {
      errs.push(notFoundField(path(p, 'targetContainerName'), ec.targetContainerName))
    }
    for (const [field, allowed] of EC_FIELDS) {
      if (!allowed && isSet(field, ec[field])) errs.push(forbiddenField(path(p, field), 'cannot be set for an Ephemeral Container'))
    }
    if (Array.isArray(ec.volumeMounts)) {
      ec.volumeMounts.forEach((m: Obj, j: number) => {
        if (m?.subPath) errs.push(forbiddenField(path(p, 'volumeMounts', j, 'subPath'), 'cannot be set for an Ephemeral Container'))
        if (m?.subPathExpr) errs.push(forbiddenField(path(p, 'volumeMounts', j, 'subPathExpr'), 'cannot be set for an Ephemeral Container'))
      })
    }
  })
  return errs
}

/** What the Go decoder keeps of an EC, compared the way apiequality.Semantic.DeepEqual compares: zero = absent. */
export function normalizeEphemeralContainer(ec: Obj): Obj {
  const out: Obj = {}
  for (const [k, v] of Object.entries(ec)) {
    if (!EC_KNOWN_FIELDS.has(k)) continue
    const n = normalizeValue(v)
    if (n === undefined) continue
    // Plain (non-pointer) bool and string fields: false and "" are the zero value.
    if ((k === 'stdin' || k === 'stdinOnce' || k === 'tty') && n === false) continue
    if (typeof n === 'string' && n === '') continue
    if (k === 'resources' && !isSet('resources', n)) continue
    out[k] = n
  }
  return out
}

function normalizeValue(v: unknown): unknown {
  if (v === null || v === undefined) return undefined
  if (Array.isArray(v)) {
    // Semantic.DeepEqual treats empty and nil slices alike.
    return v.length === 0 ? undefined : v.map((x) => normalizeValue(x) ?? null)
  }
  if (typeof v === 'object') {
    const o: Obj = {}
    for (const key of Object.keys(v as Obj).sort()) {
      const n = normalizeValue((v as Obj)[key])
      if (n !== undefined) o[key] = n
    }
    return o
  }
  return v
}

/** A stand-in for cmp.Diff: which top-level fields differ, in cmp's -/+ style (the real text is not stable either). */
function diffText(oldEc: Obj, newEc: Obj): string {
  const keys = [...new Set([...Object.keys(oldEc), ...Object.keys(newEc)])]
  const lines = ['  core.EphemeralContainer{']
  for (const k of keys) {
    const a = JSON.stringify(oldEc[k])
    const b = JSON.stringify(newEc[k])
    if (a === b) continue
    const goName = k.charAt(0).toUpperCase() + k.slice(1)
    if (a !== undefined) lines.push(`- \t${goName}: ${a},`)
    if (b !== undefined) lines.push(`+ \t${goName}: ${b},`)
  }
  lines.push('  }')
  return lines.join('\n')
}

/**
 * ValidatePodEphemeralContainersUpdate: the new spec (whose non-EC part is the old one, see the subresource strategy)
 * must validate, and no existing EC may be removed or changed. Note the trailing "\n" of the Go format strings.
 */
export function validateEphemeralContainersUpdate(newPod: Obj, oldPod: Obj): FieldError[] {
  const errs: FieldError[] = []
  if (newPod.metadata?.uid !== oldPod.metadata?.uid) {
    errs.push(invalidField('metadata.uid', newPod.metadata?.uid ?? '', 'field is immutable'))
  }
  errs.push(...validateEphemeralContainers(newPod.spec ?? {}))
  if (oldPod.metadata?.annotations?.['kubernetes.io/config.mirror'] !== undefined) {
    return [forbiddenField('', 'static pods do not support ephemeral containers')]
  }
  const byName = new Map<string, Obj>()
  for (const ec of newPod.spec?.ephemeralContainers ?? []) if (ec && typeof ec === 'object') byName.set(ec.name, ec)
  for (const old of oldPod.spec?.ephemeralContainers ?? []) {
    const now = byName.get(old.name)
    if (!now) {
      errs.push(forbiddenField('spec.ephemeralContainers', `existing ephemeral containers ${JSON.stringify(old.name)} may not be removed\n`))
      continue
    }
    const a = normalizeEphemeralContainer(old)
    const b = normalizeEphemeralContainer(now)
    if (JSON.stringify(normalizeValue(a)) !== JSON.stringify(normalizeValue(b))) {
      errs.push(forbiddenField(`spec.ephemeralContainers[${old.name}]`,
        `existing ephemeral containers ${JSON.stringify(old.name)} may not be changed\n${diffText(a, b)}`))
    }
  }
  return errs
}

/** Create-time validation of a pod (metadata + spec), the subset ordinary manifests exercise. */
export function validatePodCreate(pod: Obj): FieldError[] {
  const errs: FieldError[] = []
  const name = pod.metadata?.name
  if (!name) errs.push(required('metadata.name', 'name or generateName is required'))
  else errs.push(...validateDNS1123Subdomain(name, 'metadata.name'))
  const spec: Obj = pod.spec ?? {}
  const volumes = volumeNamesOf(spec)
  if (!Array.isArray(spec.containers) || spec.containers.length === 0) errs.push(required('spec.containers'))
  const seen = new Set<string>()
  for (const list of ['containers', 'initContainers'] as const) {
    const items: Obj[] = Array.isArray(spec[list]) ? spec[list] : []
    items.forEach((c, i) => {
      const p = path('spec', list, i)
      errs.push(...validateContainerCommon(c ?? {}, p, volumes))
      if (typeof c?.name === 'string' && c.name) {
        if (seen.has(c.name)) errs.push(duplicate(path(p, 'name'), c.name))
        seen.add(c.name)
      }
    })
  }
  if (spec.restartPolicy !== undefined && !RESTART_POLICIES.includes(spec.restartPolicy)) {
    errs.push(notSupported('spec.restartPolicy', spec.restartPolicy, RESTART_POLICIES))
  }
  if (Array.isArray(spec.ephemeralContainers) && spec.ephemeralContainers.length > 0) {
    errs.push(forbiddenField('spec.ephemeralContainers', 'cannot be set on create'))
  }
  const deadline = spec.activeDeadlineSeconds
  if (deadline !== undefined && deadline !== null && (typeof deadline !== 'number' || deadline < 1 || deadline > MAX_INT32)) {
    errs.push(invalidField('spec.activeDeadlineSeconds', deadline, `must be between 1 and ${MAX_INT32}, inclusive`))
  }
  if (spec.shareProcessNamespace === true && spec.hostPID === true) {
    errs.push(invalidField('spec.securityContext.shareProcessNamespace', true, 'ShareProcessNamespace and HostPID cannot both be enabled'))
  }
  return errs
}

const UPDATABLE = '`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)'

const MAX_INT32 = 2147483647

/**
 * ValidatePodUpdate for the main resource. Of the fields a real server lets change, the simulator allows
 * activeDeadlineSeconds (set, or lowered: never raised nor removed); images stay immutable (it cannot swap the image of
 * a running container), so any other spec change is refused with the real server's message.
 */
export function validatePodUpdate(newPod: Obj, oldPod: Obj): FieldError[] {
  const errs: FieldError[] = []
  if (newPod.metadata?.uid !== oldPod.metadata?.uid) {
    errs.push(invalidField('metadata.uid', newPod.metadata?.uid ?? '', 'field is immutable'))
  }
  const next = newPod.spec?.activeDeadlineSeconds
  const before = oldPod.spec?.activeDeadlineSeconds
  if (next !== undefined && next !== null) {
    if (typeof next !== 'number' || next < 0 || next > MAX_INT32) {
      return [...errs, invalidField('spec.activeDeadlineSeconds', next, `must be between 0 and ${MAX_INT32}, inclusive`)]
    }
    if (typeof before === 'number' && before < next) {
      return [...errs, invalidField('spec.activeDeadlineSeconds', next, 'must be less than or equal to previous value')]
    }
  } else if (before !== undefined && before !== null) {
    errs.push(invalidField('spec.activeDeadlineSeconds', null, 'must not update from a positive integer to nil value'))
  }
  const unchangeable = (spec: Obj | undefined): string => {
    const {activeDeadlineSeconds: _a, ...rest} = spec ?? {}
    return JSON.stringify(normalizeValue(rest))
  }
  if (unchangeable(newPod.spec) !== unchangeable(oldPod.spec)) {
    errs.push(forbiddenField('spec', `pod updates may not change fields other than ${UPDATABLE}\n`))
  }
  return errs
}
