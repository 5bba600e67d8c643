/**
 * labelSelector and fieldSelector query parameters, with the API server's grammar and error messages.
 * Label: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`, comma-separated (AND).
 * Field: only the fields the real server indexes for the resource (pods: metadata.name, metadata.namespace,
 * spec.nodeName, spec.restartPolicy, spec.schedulerName, spec.serviceAccountName, status.phase, status.podIP,
 * status.nominatedNodeName; namespaces: metadata.name, status.phase; nodes: metadata.name, spec.unschedulable), `=`, `==`, `!=`.
 */
import {badRequest} from './status.ts'
import type {Obj, Resource} from './store.ts'

export type Matcher = (obj: Obj) => boolean

interface LabelReq {
  key: string
  op: 'in' | 'notin' | 'exists' | '!'
  values: string[]
}

/** Splits on commas that are not inside parentheses. */
function splitTerms(s: string): string[] {
  const out: string[] = []
  let depth = 0
  let cur = ''
  for (const ch of s) {
    if (ch === '(') depth++
    if (ch === ')') depth--
    if (ch === ',' && depth === 0) {
      out.push(cur)
      cur = ''
    } else cur += ch
  }
  out.push(cur)
  return out.map((t) => t.trim()).filter((t) => t.length > 0)
}

export function parseLabelSelector(raw: string | null): Matcher {
  if (!raw) return () => true
  const reqs: LabelReq[] = []
  for (const term of splitTerms(raw)) {
    let m: RegExpMatchArray | null
    if ((m = term.match(/^([A-Za-z0-9._/-]+)\s+(in|notin)\s+\(([^)]*)\)$/))) {
      reqs.push({key: m[1]!, op: m[2] as 'in' | 'notin', values: m[3]!.split(',').map((v) => v.trim()).filter(Boolean)})
    } else if ((m = term.match(/^([A-Za-z0-9._/-]+)\s*(==|=|!=)\s*([A-Za-z0-9._-]*)$/))) {
      reqs.push({key: m[1]!, op: m[2] === '!=' ? 'notin' : 'in', values: [m[3]!]})
    } else if ((m = term.match(/^!\s*([A-Za-z0-9._/-]+)$/))) {
      reqs.push({key: m[1]!, op: '!', values: []})
    } else if ((m = term.match(/^([A-Za-z0-9._/-]+)$/))) {
      reqs.push({key: m[1]!, op: 'exists', values: []})
    } else {
      throw badRequest(`unable to parse requirement: found '${term}', expected: identifier`)
    }
  }
  return (obj) => {
    const labels: Record<string, string> = obj.metadata?.labels ?? {}
    return reqs.every((r) => {
      const has = Object.hasOwn(labels, r.key)
      switch (r.op) {
        case 'exists': return has
        case '!': return !has
        case 'in': return has && r.values.includes(labels[r.key]!)
        case 'notin': return !has || !r.values.includes(labels[r.key]!)
      }
    })
  }
}

const FIELDS: Record<Resource, Record<string, (o: Obj) => string>> = {
  pods: {
    'metadata.name': (o) => o.metadata?.name ?? '',
    'metadata.namespace': (o) => o.metadata?.namespace ?? '',
    'spec.nodeName': (o) => o.spec?.nodeName ?? '',
    'spec.restartPolicy': (o) => o.spec?.restartPolicy ?? '',
    'spec.schedulerName': (o) => o.spec?.schedulerName ?? '',
    'spec.serviceAccountName': (o) => o.spec?.serviceAccountName ?? '',
    'status.phase': (o) => o.status?.phase ?? '',
    'status.podIP': (o) => o.status?.podIP ?? '',
    'status.nominatedNodeName': (o) => o.status?.nominatedNodeName ?? '',
  },
  namespaces: {
    'metadata.name': (o) => o.metadata?.name ?? '',
    'status.phase': (o) => o.status?.phase ?? '',
  },
  nodes: {
    'metadata.name': (o) => o.metadata?.name ?? '',
    'spec.unschedulable': (o) => String(o.spec?.unschedulable === true),
  },
}

export function parseFieldSelector(resource: Resource, raw: string | null): Matcher {
  if (!raw) return () => true
  const tests: Array<(o: Obj) => boolean> = []
  for (const term of splitTerms(raw)) {
    const m = term.match(/^([A-Za-z0-9._]+)\s*(==|=|!=)\s*(.*)$/)
    if (!m) throw badRequest(`invalid selector: '${raw}'; can't understand '${term}'`)
    const [, field, op, value] = m as unknown as [string, string, string, string]
    const get = FIELDS[resource][field]
    // Same text as the real server (pkg/registry/core/pod/strategy.go uses the generic conversion error).
    if (!get) throw badRequest(`field label not supported: ${field}`)
    tests.push(op === '!=' ? (o) => get(o) !== value : (o) => get(o) === value)
  }
  return (obj) => tests.every((t) => t(obj))
}
