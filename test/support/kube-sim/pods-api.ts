/**
 * The pods resource and its subresources: create, get, list/watch, update/patch (metadata only), delete,
 * deletecollection, status (get), ephemeralcontainers (get, update, patch) and log. exec/attach are upgrades and
 * live in router.ts/streams.ts.
 *
 * Write path order, as in the API server: decode -> (patch) -> defaulting -> validation (422) -> admission
 * (PodSecurity, 403) -> precondition/conflict checks -> store -> kubelet (Docker backing).
 */
import {randomUUID} from 'node:crypto'
import {listOrWatch, respondObject} from './collection.ts'
import {type Call, type SimContext, warningHeaders, withKind, withoutKind} from './context.ts'
import {defaultEphemeralContainers, defaultPod} from './defaults.ts'
import {parseBody, readBody, readJSON, readOptionalJSON, sendJSON} from './http-util.ts'
import {serveLogs} from './logs.ts'
import {applyPatch} from './patch.ts'
import {admitPod} from './pod-security.ts'
import {initialStatus, timestamp} from './pod-status.ts'
import {fieldValidation} from './schema.ts'
import {parseFieldSelector, parseLabelSelector} from './selectors.ts'
import {
  ApiError, alreadyExists, badRequest, conflict, forbidden, invalid, makeStatus, methodNotAllowed, notFound, pathNotFound,
} from './status.ts'
import type {Obj} from './store.ts'
import {EC_KNOWN_FIELDS, validateEphemeralContainersUpdate, validatePodCreate, validatePodUpdate} from './validation.ts'

const NAME_CHARS = 'bcdfghjklmnpqrstvwxz2456789' // utilrand.String's alphabet (no vowels, no confusables)
const randomSuffix = (n: number): string => Array.from({length: n}, () => NAME_CHARS[Math.floor(Math.random() * NAME_CHARS.length)]).join('')

export function getPod(ctx: SimContext, namespace: string, name: string): Obj {
  const pod = ctx.store.get('pods', namespace, name)
  if (!pod) throw notFound('pods', name)
  return pod
}

const isDryRun = (call: Call): boolean => call.params.getAll('dryRun').includes('All')

function checkKind(body: Obj, kind: string): void {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest(`the object provided is unrecognized (must be of type ${kind})`)
  if (body.kind !== undefined && body.kind !== kind) {
    throw badRequest(`the kind of the object (${String(body.kind)}) does not match the kind on the URL (${kind})`)
  }
}

export async function handlePods(ctx: SimContext, call: Call): Promise<void> {
  const ns = call.namespace
  if (call.subresource === 'log') {
    if (call.req.method !== 'GET') throw methodNotAllowed()
    const pod = getPod(ctx, ns!, call.name!)
    await serveLogs(call.req, call.res, ctx.docker, pod,
      (c, previous) => (previous ? ctx.backend.previousDockerIdOf(ns!, call.name!, c) : ctx.backend.dockerIdOf(ns!, call.name!, c)), call.params)
    return
  }
  if (call.subresource === 'status') {
    if (call.req.method !== 'GET') throw methodNotAllowed()
    respondObject(call, 200, getPod(ctx, ns!, call.name!))
    return
  }
  if (call.subresource === 'ephemeralcontainers') return ephemeralContainers(ctx, call)
  if (call.subresource !== undefined) throw pathNotFound()

  switch (call.verb) {
    case 'get':
      return respondObject(call, 200, getPod(ctx, ns!, call.name!))
    case 'list':
    case 'watch':
      return listOrWatch(ctx, call)
    case 'create':
      return createPod(ctx, call)
    case 'update':
    case 'patch':
      return updatePod(ctx, call)
    case 'delete': {
      const opts = (await readOptionalJSON(call.req)) as Obj
      const pod = getPod(ctx, ns!, call.name!)
      const out = deletePod(ctx, pod, opts, call.params, isDryRun(call))
      return respondObject(call, 200, out)
    }
    case 'deletecollection': {
      const labels = parseLabelSelector(call.params.get('labelSelector'))
      const fields = parseFieldSelector('pods', call.params.get('fieldSelector'))
      const deleted = ctx.store.list('pods', ns).filter((p) => labels(p) && fields(p))
        .map((p) => withoutKind(deletePod(ctx, p, {}, call.params, isDryRun(call))))
      return sendJSON(call.res, 200, {kind: 'PodList', apiVersion: 'v1', metadata: {resourceVersion: String(ctx.store.rv)}, items: deleted})
    }
    default:
      throw methodNotAllowed()
  }
}

async function createPod(ctx: SimContext, call: Call): Promise<void> {
  const ns = call.namespace!
  const body = (await readJSON(call.req)) as Obj
  checkKind(body, 'Pod')
  const pod: Obj = structuredClone(body)
  const fieldWarnings = fieldValidation('Pod', pod, call.params)
  pod.metadata ??= {}
  if (pod.metadata.namespace && pod.metadata.namespace !== ns) {
    throw badRequest('the namespace of the provided object does not match the namespace sent on the request')
  }
  pod.metadata.namespace = ns
  if (!pod.metadata.name && pod.metadata.generateName) pod.metadata.name = `${pod.metadata.generateName}${randomSuffix(5)}`
  const name: string = pod.metadata.name ?? ''
  const namespace = ctx.store.get('namespaces', undefined, ns)
  if (!namespace) throw notFound('namespaces', ns)
  if (namespace.status?.phase === 'Terminating') {
    throw forbidden('pods', name, `unable to create new content in namespace ${ns} because it is being terminated`)
  }
  defaultPod(pod, ctx.nodeName)
  const errs = validatePodCreate(pod)
  if (errs.length > 0) throw invalid('Pod', name, errs)
  const psa = admitPod(namespace, pod.spec)
  if (psa.forbidden) throw new ApiError(forbidden('pods', name, psa.forbidden).status, warningHeaders(psa.warnings))
  if (ctx.store.get('pods', ns, name)) throw alreadyExists('pods', name)
  delete pod.kind
  delete pod.apiVersion
  Object.assign(pod.metadata, {uid: randomUUID(), creationTimestamp: timestamp(new Date()), generation: 1})
  delete pod.metadata.resourceVersion
  delete pod.metadata.deletionTimestamp
  pod.status = initialStatus(pod)
  const headers = warningHeaders([...fieldWarnings, ...psa.warnings])
  if (isDryRun(call)) return respondObject(call, 201, {...pod, metadata: {...pod.metadata, resourceVersion: ''}}, headers)
  const stored = ctx.store.create('pods', withKind(pod, 'Pod'))
  ctx.backend.addPod(stored)
  respondObject(call, 201, stored, headers)
}

/**
 * Reads the request body first, then the current pod, then computes the new object (the PUT body, or the PATCH
 * applied to the current pod) synchronously: from here to the store write nothing else runs, so a status update
 * or a concurrent ephemeral-container patch that landed while the body was in flight is never overwritten.
 */
async function readCandidate(ctx: SimContext, call: Call): Promise<{current: Obj; next: Obj}> {
  const body = await readBody(call.req)
  const current = getPod(ctx, call.namespace!, call.name!)
  if (call.verb === 'patch') return {current, next: applyPatch(call.req.headers['content-type'], withKind(current, 'Pod'), body)}
  const next = parseBody(call, body)
  checkKind(next, 'Pod')
  return {current, next}
}

function checkNameAndVersion(next: Obj, current: Obj, urlName: string): void {
  const name = next.metadata?.name
  if (name !== undefined && name !== urlName) {
    throw badRequest(`the name of the object (${String(name)}) does not match the name on the URL (${urlName})`)
  }
  const rv = next.metadata?.resourceVersion
  if (rv !== undefined && rv !== '' && rv !== current.metadata.resourceVersion) throw conflict('pods', urlName)
}

/** update/patch of the main resource: metadata (labels, annotations, ...) may change, the spec may not (see validation). */
async function updatePod(ctx: SimContext, call: Call): Promise<void> {
  const {current, next} = await readCandidate(ctx, call)
  const headers = warningHeaders(fieldValidation('Pod', next, call.params))
  checkNameAndVersion(next, current, call.name!)
  const pod: Obj = structuredClone(current)
  const meta: Obj = next.metadata ?? {}
  for (const k of ['labels', 'annotations', 'finalizers', 'ownerReferences']) {
    if (meta[k] === undefined || meta[k] === null) delete pod.metadata[k]
    else pod.metadata[k] = meta[k]
  }
  if (meta.uid) pod.metadata.uid = meta.uid
  pod.spec = structuredClone(next.spec ?? {})
  defaultPod(pod, ctx.nodeName)
  const errs = validatePodUpdate(pod, current)
  if (errs.length > 0) throw invalid('Pod', call.name!, errs)
  if (JSON.stringify(pod) === JSON.stringify(current) || isDryRun(call)) return respondObject(call, 200, current, headers)
  const stored = ctx.store.update('pods', pod)
  if (pod.spec.activeDeadlineSeconds !== current.spec.activeDeadlineSeconds) ctx.backend.podUpdated(stored)
  respondObject(call, 200, stored, headers)
}

function ecList(value: unknown): Obj[] {
  if (value === undefined || value === null) return []
  if (!Array.isArray(value)) {
    throw badRequest(`json: cannot unmarshal ${typeof value} into Go struct field PodSpec.spec.ephemeralContainers of type []v1.EphemeralContainer`)
  }
  return value.map((ec) => {
    if (typeof ec !== 'object' || ec === null || Array.isArray(ec)) {
      throw badRequest(`json: cannot unmarshal ${Array.isArray(ec) ? 'array' : typeof ec} into Go struct field PodSpec.spec.ephemeralContainers of type v1.EphemeralContainer`)
    }
    // Go's decoder drops unknown fields (they come back as warnings with fieldValidation=Warn).
    return Object.fromEntries(Object.entries(ec as Obj).filter(([k]) => EC_KNOWN_FIELDS.has(k)))
  })
}

/**
 * The ephemeralcontainers subresource. Its strategy keeps everything of the stored pod except
 * spec.ephemeralContainers (dropNonEphemeralContainerUpdates), so other changes in the body are silently ignored.
 */
async function ephemeralContainers(ctx: SimContext, call: Call): Promise<void> {
  // With the feature off the subresource does not exist: a bare 404 whose details carry no name (kubectl checks).
  if (!ctx.ephemeralContainers) throw pathNotFound()
  if (call.verb === 'get') return respondObject(call, 200, getPod(ctx, call.namespace!, call.name!))
  if (call.verb !== 'update' && call.verb !== 'patch') throw methodNotAllowed()
  const {current, next} = await readCandidate(ctx, call)
  const fieldWarnings = fieldValidation('Pod', next, call.params)
  checkNameAndVersion(next, current, call.name!)
  const pod: Obj = structuredClone(current)
  pod.spec.ephemeralContainers = ecList(next.spec?.ephemeralContainers)
  if (pod.spec.ephemeralContainers.length === 0) delete pod.spec.ephemeralContainers
  if (next.metadata?.uid) pod.metadata.uid = next.metadata.uid
  defaultEphemeralContainers(pod.spec)
  const errs = validateEphemeralContainersUpdate(pod, current)
  if (errs.length > 0) throw invalid('Pod', call.name!, errs)
  const namespace = ctx.store.get('namespaces', undefined, call.namespace!)
  const psa = admitPod(namespace, pod.spec)
  if (psa.forbidden) throw new ApiError(forbidden('pods', call.name!, psa.forbidden).status, warningHeaders(psa.warnings))
  const known = new Set((current.spec.ephemeralContainers ?? []).map((e: Obj) => e.name))
  const added = (pod.spec.ephemeralContainers ?? []).map((e: Obj) => e.name as string).filter((n: string) => !known.has(n))
  const headers = warningHeaders([...fieldWarnings, ...psa.warnings])
  if (added.length === 0 || isDryRun(call)) return respondObject(call, 200, current, headers)
  const stored = ctx.store.update('pods', pod)
  ctx.backend.addEphemeralContainers(call.namespace!, call.name!, added)
  respondObject(call, 200, stored, headers)
}

/**
 * Graceful deletion, compressed: deletionTimestamp is set (MODIFIED), the containers are removed with no grace
 * (SIGKILL: a busybox `sleep` as PID 1 ignores SIGTERM and would hold every test for 30 s), then DELETED.
 */
export function deletePod(ctx: SimContext, pod: Obj, opts: Obj, params: URLSearchParams, dryRun: boolean): Obj {
  const pre = opts.preconditions ?? {}
  if (pre.uid && pre.uid !== pod.metadata.uid) {
    throw new ApiError(makeStatus(409, 'Conflict',
      `Operation cannot be fulfilled on pods "${pod.metadata.name}": Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${pod.metadata.uid}`,
      {name: pod.metadata.name, kind: 'pods'}))
  }
  if (pre.resourceVersion && pre.resourceVersion !== pod.metadata.resourceVersion) {
    throw new ApiError(makeStatus(409, 'Conflict',
      `Operation cannot be fulfilled on pods "${pod.metadata.name}": Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${pod.metadata.resourceVersion}`,
      {name: pod.metadata.name, kind: 'pods'}))
  }
  if (dryRun || pod.metadata.deletionTimestamp) return pod
  const grace = Number(params.get('gracePeriodSeconds') ?? opts.gracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30)
  const marked = structuredClone(pod)
  marked.metadata.deletionTimestamp = timestamp(new Date(Date.now() + grace * 1000))
  marked.metadata.deletionGracePeriodSeconds = grace
  const stored = ctx.store.update('pods', marked)
  const {namespace, name, uid} = pod.metadata
  void ctx.backend.deletePod(namespace, name).finally(() => {
    const still = ctx.store.get('pods', namespace, name)
    if (still?.metadata.uid === uid) ctx.store.remove('pods', namespace, name)
  })
  return stored
}
