/**
 * The namespaces resource: create, get, list/watch, update/patch (labels and annotations: that is how
 * `kubectl label ns x pod-security.kubernetes.io/enforce=restricted` switches PodSecurity on), delete (the
 * namespace goes Terminating, its pods are deleted, then it disappears).
 */
import {randomUUID} from 'node:crypto'
import {listOrWatch, respondObject} from './collection.ts'
import {type Call, type SimContext, warningHeaders, withKind} from './context.ts'
import {validateDNS1123Label} from './field-errors.ts'
import {parseBody, readBody, readJSON} from './http-util.ts'
import {applyPatch} from './patch.ts'
import {timestamp} from './pod-status.ts'
import {fieldValidation} from './schema.ts'
import {deletePod} from './pods-api.ts'
import {alreadyExists, badRequest, conflict, forbidden, invalid, methodNotAllowed, notFound, pathNotFound} from './status.ts'
import type {Obj} from './store.ts'

export function newNamespace(name: string, labels: Record<string, string> = {}): Obj {
  return {
    kind: 'Namespace', apiVersion: 'v1',
    metadata: {name, uid: randomUUID(), creationTimestamp: timestamp(new Date()),
      labels: {'kubernetes.io/metadata.name': name, ...labels}},
    spec: {finalizers: ['kubernetes']},
    status: {phase: 'Active'},
  }
}

export async function handleNamespaces(ctx: SimContext, call: Call): Promise<void> {
  if (call.subresource !== undefined) throw pathNotFound()
  switch (call.verb) {
    case 'get': {
      const ns = ctx.store.get('namespaces', undefined, call.name!)
      if (!ns) throw notFound('namespaces', call.name!)
      return respondObject(call, 200, ns)
    }
    case 'list':
    case 'watch':
      return listOrWatch(ctx, call)
    case 'create': {
      const body = (await readJSON(call.req)) as Obj
      const warnings = body && typeof body === 'object' ? fieldValidation('Namespace', body, call.params) : []
      if (body?.kind !== undefined && body.kind !== 'Namespace') {
        throw badRequest(`the kind of the object (${String(body.kind)}) does not match the kind on the URL (Namespace)`)
      }
      const name: string = body?.metadata?.name ?? (body?.metadata?.generateName ? `${body.metadata.generateName}${randomUUID().slice(0, 5)}` : '')
      const errs = name ? validateDNS1123Label(name, 'metadata.name') : [{type: 'FieldValueRequired' as const, field: 'metadata.name', detail: 'name or generateName is required'}]
      if (errs.length > 0) throw invalid('Namespace', name, errs)
      if (ctx.store.get('namespaces', undefined, name)) throw alreadyExists('namespaces', name)
      const ns = newNamespace(name, body.metadata?.labels ?? {})
      if (body.metadata?.annotations) ns.metadata.annotations = body.metadata.annotations
      return respondObject(call, 201, ctx.store.create('namespaces', ns), warningHeaders(warnings))
    }
    case 'update':
    case 'patch': {
      // Body first, then the current object: no await between reading it and writing the result.
      const body = await readBody(call.req)
      const current = ctx.store.get('namespaces', undefined, call.name!)
      if (!current) throw notFound('namespaces', call.name!)
      const next = call.verb === 'patch' ? applyPatch(call.req.headers['content-type'], current, body) : parseBody(call, body) as Obj
      const warnings = fieldValidation('Namespace', next, call.params)
      if (next.metadata?.name !== undefined && next.metadata.name !== call.name) {
        throw badRequest(`the name of the object (${String(next.metadata.name)}) does not match the name on the URL (${call.name})`)
      }
      const rv = next.metadata?.resourceVersion
      if (rv && rv !== current.metadata.resourceVersion) throw conflict('namespaces', call.name!)
      const ns = structuredClone(current)
      ns.metadata.labels = {...(next.metadata?.labels ?? {}), 'kubernetes.io/metadata.name': call.name!}
      if (next.metadata?.annotations) ns.metadata.annotations = next.metadata.annotations
      else delete ns.metadata.annotations
      if (JSON.stringify(ns) === JSON.stringify(current)) return respondObject(call, 200, current, warningHeaders(warnings))
      return respondObject(call, 200, ctx.store.update('namespaces', ns), warningHeaders(warnings))
    }
    case 'delete': {
      const current = ctx.store.get('namespaces', undefined, call.name!)
      if (!current) throw notFound('namespaces', call.name!)
      if (['default', 'kube-system', 'kube-public'].includes(call.name!)) {
        throw forbidden('namespaces', call.name!, `this namespace may not be deleted`)
      }
      if (current.status?.phase === 'Terminating') return respondObject(call, 200, current)
      const ns = structuredClone(current)
      ns.metadata.deletionTimestamp = timestamp(new Date())
      ns.status = {phase: 'Terminating'}
      const stored = ctx.store.update('namespaces', ns)
      for (const pod of ctx.store.list('pods', call.name!)) deletePod(ctx, pod, {}, new URLSearchParams({gracePeriodSeconds: '0'}), false)
      const waitEmpty = setInterval(() => {
        if (ctx.store.list('pods', call.name!).length > 0) return
        clearInterval(waitEmpty)
        ctx.store.remove('namespaces', undefined, call.name!)
      }, 50)
      waitEmpty.unref()
      return respondObject(call, 200, withKind(stored, 'Namespace'))
    }
    default:
      throw methodNotAllowed()
  }
}
