/**
 * A minimal OpenAPI v3 discovery, enough for kubectl 1.34.
 *
 * Why: `kubectl apply`/`create` validate by default (--validate=strict). kubectl first reads /openapi/v3 and the
 * group-version document it points to, looking for a PATCH operation tagged with the object's
 * x-kubernetes-group-version-kind that declares the `fieldValidation` query parameter. If found, it sends
 * ?fieldValidation=Strict and lets the server validate (server-side field validation, see schema.ts). If not, it
 * falls back to client-side validation, which needs the full /openapi/v2 schema; with both missing, apply fails
 * with "failed to download openapi". So the simulator publishes exactly that: paths with PATCH operations for Pod
 * and Namespace, no schemas. (kubectl apply's three-way merge then falls back to its compiled-in Pod type for the
 * strategic-merge patch metadata.) /openapi/v2 stays 404.
 */
const HASH = 'KUBESIM0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001'

export const openapiV3Root = {paths: {'api/v1': {serverRelativeURL: `/openapi/v3/api/v1?hash=${HASH}`}}}

const patchOp = (kind: string): object => ({
  patch: {
    operationId: `patchCoreV1${kind}`,
    'x-kubernetes-group-version-kind': {group: '', version: 'v1', kind},
    'x-kubernetes-action': 'patch',
    parameters: [
      {name: 'dryRun', in: 'query', schema: {type: 'string', uniqueItems: true}},
      {name: 'fieldManager', in: 'query', schema: {type: 'string', uniqueItems: true}},
      {name: 'fieldValidation', in: 'query', schema: {type: 'string', uniqueItems: true}},
      {name: 'force', in: 'query', schema: {type: 'boolean', uniqueItems: true}},
    ],
    responses: {200: {description: 'OK'}},
  },
})

export const openapiV3CoreV1 = {
  openapi: '3.0.0',
  info: {title: 'Kubernetes', version: 'v1.34.0-kube-sim'},
  paths: {
    '/api/v1/namespaces/{namespace}/pods/{name}': patchOp('Pod'),
    '/api/v1/namespaces/{name}': patchOp('Namespace'),
  },
  components: {schemas: {}},
}
