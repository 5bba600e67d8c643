/**
 * k8s.io/apimachinery/pkg/util/validation/field, in small: the error types, their wire names (StatusCause.reason)
 * and the exact text of Error()/ErrorBody()/ToAggregate(), which clients show to users.
 */

export type FieldErrorType =
  | 'FieldValueRequired'
  | 'FieldValueForbidden'
  | 'FieldValueInvalid'
  | 'FieldValueDuplicate'
  | 'FieldValueNotFound'
  | 'FieldValueNotSupported'
  | 'FieldValueTooLong'

export interface FieldError {
  type: FieldErrorType
  field: string
  /** Absent for types that never print a value (Required, Forbidden, TooLong). */
  value?: unknown
  detail: string
}

const TYPE_TEXT: Record<FieldErrorType, string> = {
  FieldValueRequired: 'Required value',
  FieldValueForbidden: 'Forbidden',
  FieldValueInvalid: 'Invalid value',
  FieldValueDuplicate: 'Duplicate value',
  FieldValueNotFound: 'Not found',
  FieldValueNotSupported: 'Unsupported value',
  FieldValueTooLong: 'Too long',
}

export const required = (field: string, detail = ''): FieldError => ({type: 'FieldValueRequired', field, detail})
export const forbiddenField = (field: string, detail: string): FieldError => ({type: 'FieldValueForbidden', field, detail})
export const invalidField = (field: string, value: unknown, detail: string): FieldError =>
  ({type: 'FieldValueInvalid', field, value, detail})
export const duplicate = (field: string, value: unknown): FieldError => ({type: 'FieldValueDuplicate', field, value, detail: ''})
export const notFoundField = (field: string, value: unknown): FieldError => ({type: 'FieldValueNotFound', field, value, detail: ''})
export const notSupported = (field: string, value: unknown, valid: string[]): FieldError => ({
  type: 'FieldValueNotSupported', field, value,
  detail: valid.length > 0 ? `supported values: ${valid.map((v) => JSON.stringify(v)).join(', ')}` : '',
})

/** Go's %q / %v rendering of the bad value, as field.Error.ErrorBody prints it. */
function formatValue(value: unknown): string {
  if (value === null || value === undefined) return 'null'
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  return JSON.stringify(value)
}

export function errorBody(e: FieldError): string {
  const typeText = TYPE_TEXT[e.type]
  let s = typeText
  if (e.type !== 'FieldValueRequired' && e.type !== 'FieldValueForbidden' && e.type !== 'FieldValueTooLong') {
    s = `${typeText}: ${formatValue(e.value)}`
  }
  if (e.detail) s += `: ${e.detail}`
  return s
}

export const errorString = (e: FieldError): string => `${e.field}: ${errorBody(e)}`

/** ErrorList.ToAggregate().Error(): duplicates dropped, one message alone, several as "[a, b]". */
export function aggregateMessage(errs: FieldError[]): string {
  const seen = new Set<string>()
  const msgs: string[] = []
  for (const e of errs) {
    const m = errorString(e)
    if (!seen.has(m)) {
      seen.add(m)
      msgs.push(m)
    }
  }
  if (msgs.length === 0) return ''
  if (msgs.length === 1) return msgs[0]!
  return `[${msgs.join(', ')}]`
}

/** field.Path rendering helpers: path('spec', 'containers', 0, 'name') -> spec.containers[0].name */
export function path(...parts: Array<string | number>): string {
  let out = ''
  for (const p of parts) {
    if (typeof p === 'number') out += `[${p}]`
    else if (p.startsWith('[')) out += p
    else out += out ? `.${p}` : p
  }
  return out
}

/** validation.IsDNS1123Label and IsDNS1123Subdomain: length limit, pattern and message, verbatim from the Go source. */
const DNS1123 = {
  label: {
    max: 63,
    pattern: /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/,
    // Including the double space the Go source has.
    message: "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
  },
  subdomain: {
    max: 253,
    pattern: /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/,
    message: "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
  },
}

function validateDNS1123(kind: keyof typeof DNS1123, value: string, field: string): FieldError[] {
  const {max, pattern, message} = DNS1123[kind]
  const errs: FieldError[] = []
  if (value.length > max) errs.push(invalidField(field, value, `must be no more than ${max} characters`))
  if (!pattern.test(value)) errs.push(invalidField(field, value, message))
  return errs
}

export const validateDNS1123Label = (value: string, field: string): FieldError[] => validateDNS1123('label', value, field)
export const validateDNS1123Subdomain = (value: string, field: string): FieldError[] => validateDNS1123('subdomain', value, field)
