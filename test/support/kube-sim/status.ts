/**
 * metav1.Status objects, built the way k8s.io/apimachinery/pkg/api/errors builds them, so that clients (kubectl,
 * client-go, @kubernetes/client-node, mindbg) see byte-for-byte the messages a real API server sends.
 * Key order follows the Go struct field order (kind, apiVersion, metadata, status, message, reason, details, code)
 * because tests sometimes compare raw bodies.
 */
import {type FieldError, aggregateMessage, errorBody} from './field-errors.ts'

export interface StatusCause {
  reason?: string
  message?: string
  field?: string
}

export interface StatusDetails {
  name?: string
  group?: string
  kind?: string
  uid?: string
  causes?: StatusCause[]
  retryAfterSeconds?: number
}

export interface Status {
  kind: 'Status'
  apiVersion: 'v1'
  metadata: Record<string, never>
  status: 'Failure' | 'Success'
  message?: string
  reason?: string
  details?: StatusDetails
  code: number
}

export function makeStatus(code: number, reason: string, message: string, details?: StatusDetails): Status {
  const s: Status = {kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code}
  // Go omits an empty details pointer but many constructors set one; keep the real shape per constructor.
  if (details !== undefined) {
    const ordered: StatusDetails = {}
    if (details.name) ordered.name = details.name
    if (details.group) ordered.group = details.group
    if (details.kind) ordered.kind = details.kind
    if (details.uid) ordered.uid = details.uid
    if (details.causes) ordered.causes = details.causes
    if (details.retryAfterSeconds) ordered.retryAfterSeconds = details.retryAfterSeconds
    // Re-insert details before code to keep Go's field order.
    delete (s as Partial<Status>).code
    s.details = ordered
    s.code = code
  }
  return s
}

/** An error carrying the Status to answer with. Handlers throw it; the router serialises it. */
export class ApiError extends Error {
  status: Status
  /** Extra response headers (e.g. Warning). */
  headers: Record<string, string>
  constructor(status: Status, headers: Record<string, string> = {}) {
    super(status.message ?? status.reason ?? 'error')
    this.status = status
    this.headers = headers
  }
}

const fail = (code: number, reason: string, message: string, details?: StatusDetails): ApiError =>
  new ApiError(makeStatus(code, reason, message, details))

/** apierrors.NewNotFound(schema.GroupResource{Resource: resource}, name) */
export const notFound = (resource: string, name: string): ApiError =>
  fail(404, 'NotFound', `${resource} "${name}" not found`, {name, kind: resource})

/** The generic 404 of an unknown path or subresource: details has no name (kubectl debug relies on that). */
export const pathNotFound = (): ApiError => fail(404, 'NotFound', 'the server could not find the requested resource', {})

export const alreadyExists = (resource: string, name: string): ApiError =>
  fail(409, 'AlreadyExists', `${resource} "${name}" already exists`, {name, kind: resource})

export const conflict = (resource: string, name: string): ApiError =>
  fail(409, 'Conflict',
    `Operation cannot be fulfilled on ${resource} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    {name, kind: resource})

/** apierrors.NewForbidden: `<resource> "<name>" is forbidden: <why>` (or `<resource> is forbidden: ...` without a name). */
export function forbidden(resource: string, name: string, why: string): ApiError {
  const message = name ? `${resource} "${name}" is forbidden: ${why}` : `${resource} is forbidden: ${why}`
  return fail(403, 'Forbidden', message, name ? {name, kind: resource} : {kind: resource})
}

/** apierrors.NewInvalid(schema.GroupKind{Kind}, name, errs). */
export function invalid(kind: string, name: string, errs: FieldError[]): ApiError {
  const causes = errs.map((e) => ({reason: e.type, message: errorBody(e), field: e.field}))
  const agg = aggregateMessage(errs)
  const message = agg ? `${kind} "${name}" is invalid: ${agg}` : `${kind} "${name}" is invalid`
  return fail(422, 'Invalid', message, {name, kind, causes})
}

export const badRequest = (message: string): ApiError => fail(400, 'BadRequest', message)

export const unauthorized = (): ApiError => fail(401, 'Unauthorized', 'Unauthorized')

export const methodNotAllowed = (): ApiError =>
  fail(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource', {})

export const unsupportedMediaType = (accepted: string[]): ApiError =>
  fail(415, 'UnsupportedMediaType',
    `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`, {})

export const notAcceptable = (accepted: string[]): ApiError =>
  fail(406, 'NotAcceptable', `only the following media types are accepted: ${accepted.join(', ')}`)

/** A watch or list from a resourceVersion older than the kept history (the watch cache says "Expired"). */
export const expired = (message: string): ApiError => fail(410, 'Expired', message)

export const internal = (message: string): ApiError =>
  fail(500, 'InternalError', `Internal error occurred: ${message}`, {causes: [{message}]})

/** errors.NewGenericServerResponse(422, ...) as used for a JSON patch that does not apply. */
export const patchRejected = (detail: string): ApiError =>
  fail(422, 'Invalid', 'the server rejected our request due to an error in our request',
    {causes: [{reason: 'UnexpectedServerResponse', message: detail}]})
