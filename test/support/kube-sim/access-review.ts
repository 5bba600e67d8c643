/**
 * authorization.k8s.io/v1 SelfSubjectAccessReview, so `kubectl auth can-i patch pods/ephemeralcontainers` (and a
 * client's pre-flight permission check) answers from the same RBAC rules as the requests themselves.
 * The group is the only one listed under /apis.
 */
import type {IncomingMessage, ServerResponse} from 'node:http'
import {type UserSpec, authorize} from './auth.ts'
import {readJSON, sendJSON} from './http-util.ts'
import {ApiError, badRequest, methodNotAllowed} from './status.ts'
import type {Obj} from './store.ts'

const GROUP = 'authorization.k8s.io'

export const apiGroupList = {
  kind: 'APIGroupList', apiVersion: 'v1',
  groups: [{name: GROUP, versions: [{groupVersion: `${GROUP}/v1`, version: 'v1'}], preferredVersion: {groupVersion: `${GROUP}/v1`, version: 'v1'}}],
}

const resourceList = {
  kind: 'APIResourceList', apiVersion: 'v1', groupVersion: `${GROUP}/v1`,
  resources: [{name: 'selfsubjectaccessreviews', singularName: 'selfsubjectaccessreview', namespaced: false, kind: 'SelfSubjectAccessReview', verbs: ['create']}],
}

/** Handles /apis/authorization.k8s.io[/v1[/selfsubjectaccessreviews]]; false when the path is not ours. */
export async function handleAccessReview(pathname: string, req: IncomingMessage, res: ServerResponse, user: UserSpec): Promise<boolean> {
  if (pathname === `/apis/${GROUP}`) {
    sendJSON(res, 200, {kind: 'APIGroup', apiVersion: 'v1', name: GROUP, versions: apiGroupList.groups[0]!.versions, preferredVersion: apiGroupList.groups[0]!.preferredVersion})
    return true
  }
  if (pathname === `/apis/${GROUP}/v1`) {
    sendJSON(res, 200, resourceList)
    return true
  }
  if (pathname !== `/apis/${GROUP}/v1/selfsubjectaccessreviews`) return false
  if (req.method !== 'POST') throw methodNotAllowed()
  const body = (await readJSON(req)) as Obj
  const attrs: Obj | undefined = body?.spec?.resourceAttributes
  const nonResource: Obj | undefined = body?.spec?.nonResourceAttributes
  if (!attrs && !nonResource) throw badRequest('SelfSubjectAccessReview.authorization.k8s.io "" is invalid: spec.resourceAttributes: Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes must be specified')
  let allowed = true
  if (attrs) {
    if ((attrs.group ?? '') !== '' || !['pods', 'namespaces', 'nodes', '*'].includes(attrs.resource ?? '')) allowed = user.allow.some((r) => r.resources.includes('*') && r.verbs.includes('*'))
    else {
      try {
        authorize(user, {verb: attrs.verb ?? '', resource: attrs.resource,
          ...(attrs.subresource ? {subresource: attrs.subresource} : {}), ...(attrs.namespace ? {namespace: attrs.namespace} : {}),
          ...(attrs.name ? {name: attrs.name} : {})})
      } catch (err) {
        if (!(err instanceof ApiError)) throw err
        allowed = false
      }
    }
  }
  const status: Obj = {allowed}
  if (allowed) status.reason = `kube-sim: allowed by the rules of user "${user.name}"`
  sendJSON(res, 201, {kind: 'SelfSubjectAccessReview', apiVersion: `${GROUP}/v1`, metadata: {creationTimestamp: null}, spec: body.spec, status})
  return true
}

