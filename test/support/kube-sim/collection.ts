/**
 * The generic read verbs shared by pods, namespaces and nodes: get (object, Table, PartialObjectMetadata), list (with
 * label/field selectors and resourceVersion semantics) and watch.
 */
import {type Call, type SimContext, withKind, withoutKind} from './context.ts'
import {sendJSON} from './http-util.ts'
import {parseFieldSelector, parseLabelSelector} from './selectors.ts'
import {expired} from './status.ts'
import {KIND, type Obj} from './store.ts'
import {representationOf, toPartialMetadata, toPartialMetadataList, toTable} from './table.ts'


export function respondObject(call: Call, code: number, o: Obj, headers: Record<string, string> = {}): void {
  const rep = representationOf(call.req)
  const full = withKind(o, KIND[call.resource])
  if (rep === 'table') sendJSON(call.res, code, toTable(call.resource, [full], o.metadata.resourceVersion, call.params.get('includeObject')), headers)
  else if (rep === 'metadata') sendJSON(call.res, code, toPartialMetadata(full), headers)
  else sendJSON(call.res, code, full, headers)
}

export function listOrWatch(ctx: SimContext, call: Call): void {
  const labels = parseLabelSelector(call.params.get('labelSelector'))
  const fields = parseFieldSelector(call.resource, call.params.get('fieldSelector'))
  const matcher = (o: Obj): boolean => labels(o) && fields(o)
  const rep = representationOf(call.req)
  if (call.verb === 'watch') {
    ctx.watches.serve(call.req, call.res, {
      resource: call.resource, matcher, representation: rep, includeObject: call.params.get('includeObject'), params: call.params,
      ...(call.namespace !== undefined ? {namespace: call.namespace} : {}),
    })
    return
  }
  // Lists are always served from the latest state; an Exact match on a compacted revision is 410 like etcd.
  const rv = call.params.get('resourceVersion')
  if (rv && rv !== '0' && call.params.get('resourceVersionMatch') === 'Exact' && Number(rv) < ctx.store.oldestRv) {
    throw expired(`too old resource version: ${rv} (${ctx.store.oldestRv})`)
  }
  const items = ctx.store.list(call.resource, call.namespace).filter(matcher)
  const listRv = String(ctx.store.rv)
  if (rep === 'table') {
    sendJSON(call.res, 200, toTable(call.resource, items.map((o) => withKind(o, KIND[call.resource])), listRv, call.params.get('includeObject')))
  } else if (rep === 'metadata') {
    sendJSON(call.res, 200, toPartialMetadataList(items, listRv))
  } else {
    sendJSON(call.res, 200, {kind: `${KIND[call.resource]}List`, apiVersion: 'v1', metadata: {resourceVersion: listRv}, items: items.map(withoutKind)})
  }
}
