/**
 * Request bodies in Kubernetes protobuf (Content-Type: application/vnd.kubernetes.protobuf).
 *
 * Why: kubectl's typed clients send protobuf for built-in types: `kubectl create namespace`, `kubectl auth can-i`
 * (SelfSubjectAccessReview) and `kubectl debug --copy-to` (Pod) do, while apply/patch/label/run/debug send JSON. The simulator decodes the few messages those
 * commands send into the JSON wire form; everything else gets 415. Responses are always JSON (clients accept it:
 * they decode by the response's Content-Type).
 *
 * Envelope: the 4 bytes "k8s\0", then runtime.Unknown {1 typeMeta {1 apiVersion, 2 kind}, 2 raw, 3 contentEncoding,
 * 4 contentType}; raw is the message itself (field numbers from k8s.io/api generated.proto).
 */
import {unsupportedMediaType} from './status.ts'
import type {Obj} from './store.ts'

type Field = {n: number; wire: number; value: bigint | Buffer}

function varint(buf: Buffer, pos: number): [bigint, number] {
  let result = 0n
  let shift = 0n
  for (;;) {
    const b = buf[pos++]
    if (b === undefined) throw new Error('truncated varint')
    result |= BigInt(b & 0x7f) << shift
    if ((b & 0x80) === 0) return [result, pos]
    shift += 7n
  }
}

function fields(buf: Buffer): Field[] {
  const out: Field[] = []
  let pos = 0
  while (pos < buf.length) {
    const [tag, p1] = varint(buf, pos)
    pos = p1
    const n = Number(tag >> 3n)
    const wire = Number(tag & 7n)
    if (wire === 0) {
      const [v, p2] = varint(buf, pos)
      out.push({n, wire, value: v})
      pos = p2
    } else if (wire === 2) {
      const [len, p2] = varint(buf, pos)
      const end = p2 + Number(len)
      out.push({n, wire, value: buf.subarray(p2, end)})
      pos = end
    } else if (wire === 1) {
      out.push({n, wire, value: buf.subarray(pos, pos + 8)})
      pos += 8
    } else if (wire === 5) {
      out.push({n, wire, value: buf.subarray(pos, pos + 4)})
      pos += 4
    } else throw new Error(`unsupported wire type ${wire}`)
  }
  return out
}

/**
 * A message schema: field number -> [json name, kind]. An empty json name embeds the message's fields in the parent
 * (Go struct embedding: EphemeralContainer.ephemeralContainerCommon, Volume.volumeSource, *.localObjectReference).
 * gogo-protobuf writes non-pointer scalars even when zero, so 'string', 'bool' and 'int' drop "", false and 0 the
 * way JSON's omitempty would; 'optbool'/'optint' are pointer fields whose zero is meaningful (runAsUser: 0).
 */
type Kind = 'string' | 'int' | 'optint' | 'bool' | 'optbool' | 'strings' | 'ints' | 'map' | 'quantity' | 'quantities' | Schema
interface Schema {
  [n: number]: [string, Kind]
}

const TYPE_META: Schema = {1: ['apiVersion', 'string'], 2: ['kind', 'string']}
const UNKNOWN: Schema = {1: ['typeMeta', TYPE_META], 2: ['raw', 'string'], 3: ['contentEncoding', 'string'], 4: ['contentType', 'string']}
const OBJECT_META: Schema = {1: ['name', 'string'], 2: ['generateName', 'string'], 3: ['namespace', 'string'],
  5: ['uid', 'string'], 6: ['resourceVersion', 'string'], 7: ['generation', 'int'], 11: ['labels', 'map'],
  12: ['annotations', 'map'], 14: ['finalizers', 'strings']}
const LOCAL_REF: Schema = {1: ['name', 'string']}
const SECURITY_CONTEXT: Schema = {1: ['capabilities', {1: ['add', 'strings'], 2: ['drop', 'strings']}], 2: ['privileged', 'optbool'],
  4: ['runAsUser', 'optint'], 8: ['runAsGroup', 'optint'], 5: ['runAsNonRoot', 'optbool'], 6: ['readOnlyRootFilesystem', 'optbool'],
  7: ['allowPrivilegeEscalation', 'optbool'], 9: ['procMount', 'string'], 11: ['seccompProfile', {1: ['type', 'string'], 2: ['localhostProfile', 'string']}]}
const POD_SECURITY_CONTEXT: Schema = {2: ['runAsUser', 'optint'], 6: ['runAsGroup', 'optint'], 3: ['runAsNonRoot', 'optbool'],
  4: ['supplementalGroups', 'ints'], 5: ['fsGroup', 'optint'], 7: ['sysctls', {1: ['name', 'string'], 2: ['value', 'string']}],
  10: ['seccompProfile', {1: ['type', 'string'], 2: ['localhostProfile', 'string']}]}
const KEY_SELECTOR: Schema = {1: ['', LOCAL_REF], 2: ['key', 'string'], 3: ['optional', 'optbool']}
const CONTAINER: Schema = {1: ['name', 'string'], 2: ['image', 'string'], 3: ['command', 'strings'], 4: ['args', 'strings'],
  5: ['workingDir', 'string'],
  6: ['ports', {1: ['name', 'string'], 2: ['hostPort', 'int'], 3: ['containerPort', 'int'], 4: ['protocol', 'string'], 5: ['hostIP', 'string']}],
  19: ['envFrom', {1: ['prefix', 'string'], 2: ['configMapRef', {1: ['', LOCAL_REF], 2: ['optional', 'optbool']}],
    3: ['secretRef', {1: ['', LOCAL_REF], 2: ['optional', 'optbool']}]}],
  7: ['env', {1: ['name', 'string'], 2: ['value', 'string'], 3: ['valueFrom', {
    1: ['fieldRef', {1: ['apiVersion', 'string'], 2: ['fieldPath', 'string']}],
    2: ['resourceFieldRef', {1: ['containerName', 'string'], 2: ['resource', 'string'], 3: ['divisor', 'quantity']}],
    3: ['configMapKeyRef', KEY_SELECTOR], 4: ['secretKeyRef', KEY_SELECTOR]}]}],
  8: ['resources', {1: ['limits', 'quantities'], 2: ['requests', 'quantities']}],
  9: ['volumeMounts', {1: ['name', 'string'], 2: ['readOnly', 'bool'], 3: ['mountPath', 'string'], 4: ['subPath', 'string'],
    5: ['mountPropagation', 'string'], 6: ['subPathExpr', 'string']}],
  13: ['terminationMessagePath', 'string'], 20: ['terminationMessagePolicy', 'string'], 14: ['imagePullPolicy', 'string'],
  15: ['securityContext', SECURITY_CONTEXT], 16: ['stdin', 'bool'], 17: ['stdinOnce', 'bool'], 18: ['tty', 'bool']}
const VOLUME: Schema = {1: ['name', 'string'], 2: ['', {
  1: ['hostPath', {1: ['path', 'string'], 2: ['type', 'string']}],
  2: ['emptyDir', {1: ['medium', 'string'], 2: ['sizeLimit', 'quantity']}],
  6: ['secret', {1: ['secretName', 'string'], 3: ['defaultMode', 'optint'], 4: ['optional', 'optbool']}],
  10: ['persistentVolumeClaim', {1: ['claimName', 'string'], 2: ['readOnly', 'bool']}],
  19: ['configMap', {1: ['', LOCAL_REF], 3: ['defaultMode', 'optint'], 4: ['optional', 'optbool']}]}]}
const POD_SPEC: Schema = {1: ['volumes', VOLUME], 20: ['initContainers', CONTAINER], 2: ['containers', CONTAINER],
  34: ['ephemeralContainers', {1: ['', CONTAINER], 2: ['targetContainerName', 'string']}],
  3: ['restartPolicy', 'string'], 4: ['terminationGracePeriodSeconds', 'optint'], 5: ['activeDeadlineSeconds', 'optint'],
  6: ['dnsPolicy', 'string'], 7: ['nodeSelector', 'map'], 8: ['serviceAccountName', 'string'], 9: ['serviceAccount', 'string'],
  21: ['automountServiceAccountToken', 'optbool'], 10: ['nodeName', 'string'], 11: ['hostNetwork', 'bool'], 12: ['hostPID', 'bool'],
  13: ['hostIPC', 'bool'], 27: ['shareProcessNamespace', 'optbool'], 14: ['securityContext', POD_SECURITY_CONTEXT],
  15: ['imagePullSecrets', LOCAL_REF], 16: ['hostname', 'string'], 17: ['subdomain', 'string'], 19: ['schedulerName', 'string'],
  22: ['tolerations', {1: ['key', 'string'], 2: ['operator', 'string'], 3: ['value', 'string'], 4: ['effect', 'string'],
    5: ['tolerationSeconds', 'optint']}],
  24: ['priorityClassName', 'string'], 25: ['priority', 'optint'], 29: ['runtimeClassName', 'string'],
  30: ['enableServiceLinks', 'optbool'], 31: ['preemptionPolicy', 'string'], 37: ['hostUsers', 'optbool']}
/** Fields whose protobuf form is a list (repeated messages): everything else is a single message. */
const REPEATED = new Set(['volumes', 'initContainers', 'containers', 'ephemeralContainers', 'ports', 'envFrom', 'env', 'volumeMounts',
  'imagePullSecrets', 'tolerations', 'sysctls'])
const SCHEMAS: Record<string, Schema> = {
  Namespace: {1: ['metadata', OBJECT_META], 2: ['spec', {1: ['finalizers', 'strings']}]},
  SelfSubjectAccessReview: {1: ['metadata', OBJECT_META], 2: ['spec', {
    1: ['resourceAttributes', {1: ['namespace', 'string'], 2: ['verb', 'string'], 3: ['group', 'string'], 4: ['version', 'string'],
      5: ['resource', 'string'], 6: ['subresource', 'string'], 7: ['name', 'string']}],
    2: ['nonResourceAttributes', {1: ['path', 'string'], 2: ['verb', 'string']}],
  }]},
  DeleteOptions: {1: ['gracePeriodSeconds', 'optint'], 2: ['preconditions', {1: ['uid', 'string'], 2: ['resourceVersion', 'string']}],
    3: ['orphanDependents', 'optbool'], 4: ['propagationPolicy', 'string'], 5: ['dryRun', 'strings']},
  // What `kubectl debug --copy-to` POSTs. Probes, lifecycle, affinity and other deep structures are not decoded.
  Pod: {1: ['metadata', OBJECT_META], 2: ['spec', POD_SPEC]},
}

/** Reads a (possibly packed) repeated varint field. */
function varints(f: Field): number[] {
  if (f.wire === 0) return [Number(f.value as bigint)]
  const out: number[] = []
  const buf = f.value as Buffer
  let pos = 0
  while (pos < buf.length) {
    const [v, p] = varint(buf, pos)
    out.push(Number(BigInt.asIntN(64, v)))
    pos = p
  }
  return out
}

function decode(buf: Buffer, schema: Schema, rawBytes = false): Obj {
  const out: Obj = {}
  for (const f of fields(buf)) {
    const spec = schema[f.n]
    if (!spec) continue
    const [name, kind] = spec
    const text = (): string => (f.value as Buffer).toString('utf8')
    const int = (): number => Number(BigInt.asIntN(64, f.value as bigint))
    if (kind === 'string') {
      if (rawBytes && name === 'raw') out[name] = f.value
      else if (text() !== '') out[name] = text()
    } else if (kind === 'int') {
      if (int() !== 0) out[name] = int()
    } else if (kind === 'optint') out[name] = int()
    else if (kind === 'bool') {
      if ((f.value as bigint) !== 0n) out[name] = true
    } else if (kind === 'optbool') out[name] = (f.value as bigint) !== 0n
    else if (kind === 'strings') (out[name] ??= []).push(text())
    else if (kind === 'ints') (out[name] ??= []).push(...varints(f))
    else if (kind === 'quantity') out[name] = decode(f.value as Buffer, {1: ['s', 'string']}).s ?? '0'
    else if (kind === 'map' || kind === 'quantities') {
      const entry = fields(f.value as Buffer)
      const key = (entry.find((e) => e.n === 1)?.value as Buffer | undefined)?.toString('utf8') ?? ''
      const raw = entry.find((e) => e.n === 2)?.value as Buffer | undefined
      const value = kind === 'map' ? raw?.toString('utf8') ?? '' : raw ? decode(raw, {1: ['s', 'string']}).s ?? '0' : '0'
      ;(out[name] ??= {})[key] = value
    } else if (name === '') Object.assign(out, decode(f.value as Buffer, kind))
    else if (REPEATED.has(name)) (out[name] ??= []).push(decode(f.value as Buffer, kind))
    else out[name] = decode(f.value as Buffer, kind)
  }
  return out
}

export const PROTOBUF = 'application/vnd.kubernetes.protobuf'

/** Decodes a protobuf request body into JSON, or throws 415 for a message the simulator does not know. */
export function decodeProtobuf(body: Buffer): Obj {
  const unsupported = unsupportedMediaType(['application/json', 'application/yaml'])
  if (body.length < 4 || body.subarray(0, 4).toString('latin1') !== 'k8s\0') throw unsupported
  let envelope: Obj
  try {
    envelope = decode(body.subarray(4), UNKNOWN, true)
  } catch {
    throw unsupported
  }
  const kind: string = envelope.typeMeta?.kind ?? ''
  const schema = SCHEMAS[kind]
  if (!schema || !Buffer.isBuffer(envelope.raw)) throw unsupported
  return {apiVersion: envelope.typeMeta.apiVersion, kind, ...decode(envelope.raw, schema)}
}
