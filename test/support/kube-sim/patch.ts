/**
 * The three PATCH flavours the API server accepts for built-in types:
 * - application/json-patch+json (RFC 6902): add, remove, replace, move, copy, test;
 * - application/merge-patch+json (RFC 7386): maps merge, null deletes, lists are replaced whole;
 * - application/strategic-merge-patch+json: like merge patch, but lists with a patchMergeKey (containers by name,
 *   env by name, ports by containerPort, ...) merge element-wise. Directives: `$patch: replace|delete|merge`,
 *   `$retainKeys`, `$deleteFromPrimitiveList/<f>`, `$setElementOrder/<f>` (ordering only; never adds or removes).
 * Server-side apply (application/apply-patch+yaml) is not supported: 415, documented in the README.
 */
import {badRequest, patchRejected, unsupportedMediaType} from './status.ts'
import type {Obj} from './store.ts'

export const PATCH_TYPES = ['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json']

const isMap = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)
const clone = <T>(v: T): T => structuredClone(v)

/** patchMergeKey per list, addressed by the path of map keys (list indexes left out). Others are atomic. */
interface ListMeta {
  mergeKey?: string
  /** A list of primitives with patchStrategy=merge (set semantics). */
  primitiveMerge?: boolean
}

const CONTAINER_LISTS: Record<string, ListMeta> = {
  env: {mergeKey: 'name'},
  ports: {mergeKey: 'containerPort'},
  volumeMounts: {mergeKey: 'mountPath'},
  volumeDevices: {mergeKey: 'devicePath'},
}

function listMeta(kind: string, keys: string[]): ListMeta | undefined {
  const p = keys.join('.')
  if (p === 'metadata.finalizers') return {primitiveMerge: true}
  if (p === 'metadata.ownerReferences') return {mergeKey: 'uid'}
  if (kind === 'Pod') {
    if (p === 'spec.containers' || p === 'spec.initContainers' || p === 'spec.ephemeralContainers') return {mergeKey: 'name'}
    if (p === 'spec.volumes' || p === 'spec.imagePullSecrets') return {mergeKey: 'name'}
    if (p === 'spec.hostAliases') return {mergeKey: 'ip'}
    if (p === 'status.conditions') return {mergeKey: 'type'}
    if (p === 'status.podIPs' || p === 'status.hostIPs') return {mergeKey: 'ip'}
    const m = p.match(/^spec\.(containers|initContainers|ephemeralContainers)\.(\w+)$/)
    if (m) return CONTAINER_LISTS[m[2]!]
  }
  if (kind === 'Namespace' && p === 'spec.finalizers') return undefined
  return undefined
}

function stripDirectives(v: unknown): unknown {
  if (Array.isArray(v)) return v.filter((x) => !(isMap(x) && x.$patch !== undefined && Object.keys(x).length === 1)).map(stripDirectives)
  if (isMap(v)) {
    const o: Obj = {}
    for (const [k, x] of Object.entries(v)) if (!k.startsWith('$')) o[k] = stripDirectives(x)
    return o
  }
  return v
}

function smpMap(original: Obj, patch: Obj, kind: string, keys: string[]): Obj | undefined {
  if (patch.$patch === 'replace') return stripDirectives(patch) as Obj
  if (patch.$patch === 'delete') return undefined
  if (patch.$patch !== undefined && patch.$patch !== 'merge') throw badRequest(`Unknown patch type: ${String(patch.$patch)} in map: ${JSON.stringify(patch)}`)
  const result: Obj = clone(original)
  const orders: Array<[string, unknown[]]> = []
  const primitiveDeletes: Array<[string, unknown[]]> = []
  for (const [k, v] of Object.entries(patch)) {
    if (k === '$patch' || k === '$retainKeys') continue
    if (k.startsWith('$setElementOrder/')) {
      if (Array.isArray(v)) orders.push([k.slice('$setElementOrder/'.length), v])
      continue
    }
    if (k.startsWith('$deleteFromPrimitiveList/')) {
      if (Array.isArray(v)) primitiveDeletes.push([k.slice('$deleteFromPrimitiveList/'.length), v])
      continue
    }
    if (k.startsWith('$')) continue
    if (v === null) delete result[k]
    else if (isMap(v)) {
      const merged = smpMap(isMap(result[k]) ? result[k] : {}, v, kind, [...keys, k])
      if (merged === undefined) delete result[k]
      else result[k] = merged
    } else if (Array.isArray(v)) result[k] = smpList(Array.isArray(result[k]) ? result[k] : [], v, kind, [...keys, k])
    else result[k] = v
  }
  for (const [field, values] of primitiveDeletes) {
    if (Array.isArray(result[field])) result[field] = result[field].filter((x: unknown) => !values.includes(x))
  }
  for (const [field, order] of orders) {
    const meta = listMeta(kind, [...keys, field])
    if (Array.isArray(result[field])) result[field] = applyOrder(result[field], order, meta?.mergeKey)
  }
  if (Array.isArray(patch.$retainKeys)) {
    for (const k of Object.keys(result)) if (!patch.$retainKeys.includes(k)) delete result[k]
  }
  return result
}

/** $setElementOrder: listed elements first, in the given order; elements it does not list keep their order after. */
function applyOrder(list: unknown[], order: unknown[], mergeKey: string | undefined): unknown[] {
  const keyOf = (x: unknown): string => JSON.stringify(mergeKey && isMap(x) ? x[mergeKey] : x)
  const pos = new Map(order.map((o, i) => [keyOf(o), i]))
  const listed = list.filter((x) => pos.has(keyOf(x))).sort((a, b) => pos.get(keyOf(a))! - pos.get(keyOf(b))!)
  return [...listed, ...list.filter((x) => !pos.has(keyOf(x)))]
}

function smpList(original: unknown[], patch: unknown[], kind: string, keys: string[]): unknown[] {
  const meta = listMeta(kind, keys)
  if (patch.some((x) => isMap(x) && x.$patch === 'replace')) return stripDirectives(patch) as unknown[]
  if (!meta) return stripDirectives(patch) as unknown[]
  if (meta.primitiveMerge) {
    const out = [...original]
    for (const x of patch) if (!out.includes(x)) out.push(x)
    return out
  }
  const mk = meta.mergeKey!
  const out: unknown[] = clone(original)
  for (const item of patch) {
    if (!isMap(item)) throw badRequest(`unable to find api field in struct ${kind} for the json field "${keys[keys.length - 1]}"`)
    if (item[mk] === undefined && item.$patch === undefined) {
      throw badRequest(`map: ${JSON.stringify(item)} does not contain declared merge key: ${mk}`)
    }
    const idx = out.findIndex((o) => isMap(o) && o[mk] === item[mk])
    if (item.$patch === 'delete') {
      if (idx >= 0) out.splice(idx, 1)
      continue
    }
    if (idx >= 0) {
      const merged = smpMap(out[idx] as Obj, item, kind, keys)
      if (merged === undefined) out.splice(idx, 1)
      else out[idx] = merged
    } else out.push(stripDirectives(item))
  }
  return out
}

export function strategicMergePatch(original: Obj, patch: unknown): Obj {
  if (!isMap(patch)) throw badRequest('json: cannot unmarshal array into Go value of type map[string]interface {}')
  return smpMap(original, patch, String(original.kind ?? ''), []) ?? {}
}

export function mergePatch(original: unknown, patch: unknown): unknown {
  if (!isMap(patch)) return clone(patch)
  const result: Obj = isMap(original) ? clone(original) : {}
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete result[k]
    else result[k] = mergePatch(result[k], v)
  }
  return result
}

/** RFC 6901 pointer -> tokens. */
function tokens(pointer: string): string[] {
  if (pointer === '') return []
  if (!pointer.startsWith('/')) throw patchRejected(`JSON pointer must be empty or start with a "/": ${pointer}`)
  return pointer.slice(1).split('/').map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'))
}

function parentOf(doc: unknown, toks: string[], op: string, pointer: string): [any, string] {
  let cur: any = doc
  for (const t of toks.slice(0, -1)) {
    if (Array.isArray(cur)) cur = cur[Number(t)]
    else if (isMap(cur)) cur = cur[t]
    else cur = undefined
    if (cur === undefined) throw patchRejected(`${op} operation does not apply: doc is missing path: "${pointer}": missing value`)
  }
  return [cur, toks[toks.length - 1]!]
}

function getAt(doc: unknown, pointer: string, op: string): unknown {
  let cur: any = doc
  for (const t of tokens(pointer)) {
    if (Array.isArray(cur)) cur = /^\d+$/.test(t) ? cur[Number(t)] : undefined
    else if (isMap(cur)) cur = Object.hasOwn(cur, t) ? cur[t] : undefined
    else cur = undefined
    if (cur === undefined) throw patchRejected(`${op} operation does not apply: doc is missing path: "${pointer}": missing value`)
  }
  return cur
}

function removeAt(doc: any, pointer: string, op: string): unknown {
  const toks = tokens(pointer)
  if (toks.length === 0) throw patchRejected(`${op} operation does not apply: cannot remove the root`)
  const [parent, last] = parentOf(doc, toks, op, pointer)
  if (Array.isArray(parent)) {
    const i = Number(last)
    if (!/^\d+$/.test(last) || i >= parent.length) throw patchRejected(`Unable to remove nonexistent key: ${last}: missing value`)
    return parent.splice(i, 1)[0]
  }
  if (!isMap(parent) || !Object.hasOwn(parent, last)) throw patchRejected(`Unable to remove nonexistent key: ${last}: missing value`)
  const v = parent[last]
  delete parent[last]
  return v
}

function addAt(doc: any, pointer: string, value: unknown, op: string, replace: boolean): any {
  const toks = tokens(pointer)
  if (toks.length === 0) return clone(value)
  const [parent, last] = parentOf(doc, toks, op, pointer)
  if (Array.isArray(parent)) {
    if (last === '-' && !replace) parent.push(clone(value))
    else {
      const i = Number(last)
      if (!/^\d+$/.test(last) || i > parent.length || (replace && i >= parent.length)) {
        throw patchRejected(`${op} operation does not apply: doc is missing path: "${pointer}": missing value`)
      }
      if (replace) parent[i] = clone(value)
      else parent.splice(i, 0, clone(value))
    }
  } else if (isMap(parent)) {
    if (replace && !Object.hasOwn(parent, last)) {
      throw patchRejected(`replace operation does not apply: doc is missing key: ${pointer}: missing value`)
    }
    parent[last] = clone(value)
  } else throw patchRejected(`${op} operation does not apply: doc is missing path: "${pointer}": missing value`)
  return doc
}

const deepEqual = (a: unknown, b: unknown): boolean => JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b))
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys)
  if (isMap(v)) return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k])]))
  return v
}

export function jsonPatch(original: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw badRequest('json: cannot unmarshal object into Go value of type jsonpatch.Patch')
  let doc: any = clone(original)
  for (const op of ops) {
    if (!isMap(op) || typeof op.op !== 'string') throw badRequest(`Unexpected kind: ${JSON.stringify(op)}`)
    const p = op.path
    if (typeof p !== 'string') throw patchRejected(`${op.op} operation does not apply: missing path`)
    switch (op.op) {
      case 'add':
        if (!('value' in op)) throw patchRejected('add operation does not apply: missing value')
        doc = addAt(doc, p, op.value, 'add', false)
        break
      case 'remove':
        removeAt(doc, p, 'remove')
        break
      case 'replace':
        if (!('value' in op)) throw patchRejected('replace operation does not apply: missing value')
        doc = addAt(doc, p, op.value, 'replace', true)
        break
      case 'move': {
        if (typeof op.from !== 'string') throw patchRejected('move operation does not apply: missing from path')
        const v = removeAt(doc, op.from, 'move')
        doc = addAt(doc, p, v, 'move', false)
        break
      }
      case 'copy': {
        if (typeof op.from !== 'string') throw patchRejected('copy operation does not apply: missing from path')
        doc = addAt(doc, p, getAt(doc, op.from, 'copy'), 'copy', false)
        break
      }
      case 'test': {
        let actual: unknown
        try {
          actual = getAt(doc, p, 'test')
        } catch {
          actual = undefined
        }
        if (!deepEqual(actual ?? null, op.value ?? null)) throw patchRejected(`testing value ${p} failed: test failed`)
        break
      }
      default:
        throw badRequest(`Unexpected kind: ${op.op}`)
    }
  }
  return doc
}

/** Applies a PATCH body of the given content type to a JSON object (the stored wire form). */
export function applyPatch(contentType: string | undefined, original: Obj, body: Buffer): Obj {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase()
  if (!PATCH_TYPES.includes(type)) throw unsupportedMediaType(PATCH_TYPES)
  let patch: unknown
  try {
    patch = JSON.parse(body.toString('utf8'))
  } catch (err) {
    throw badRequest(`error decoding patch: ${(err as Error).message}`)
  }
  let result: unknown
  if (type === 'application/json-patch+json') result = jsonPatch(original, patch)
  else if (type === 'application/merge-patch+json') result = mergePatch(original, patch)
  else result = strategicMergePatch(original, patch)
  if (!isMap(result)) throw badRequest('the patched object is not a JSON object')
  return result
}
