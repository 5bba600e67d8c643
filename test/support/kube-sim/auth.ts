/**
 * Authentication (static bearer tokens) and a tiny RBAC: each user has allow rules {verbs, resources, namespaces?,
 * resourceNames?}. Denials produce the authorizer's exact Forbidden Status, e.g.
 *   pods "web" is forbidden: User "viewer" cannot patch resource "pods/ephemeralcontainers" in API group "" in the namespace "default"
 * Non-resource paths (discovery, /version, /openapi) are open to every authenticated user, like system:discovery.
 * A missing or unknown token is 401 (a real server would map a missing one to system:anonymous; tests want 401).
 */
import {randomBytes} from 'node:crypto'
import type {IncomingMessage} from 'node:http'
import {type ApiError, forbidden, unauthorized} from './status.ts'

export interface Rule {
  /** get, list, watch, create, update, patch, delete, deletecollection, or '*'. */
  verbs: string[]
  /** 'pods', 'pods/log', 'pods/exec', 'pods/attach', 'pods/ephemeralcontainers', 'pods/*', 'namespaces', '*'. */
  resources: string[]
  /** Limits the rule to these namespaces (omit for all, and for cluster-scoped resources). */
  namespaces?: string[]
  resourceNames?: string[]
}

export interface UserSpec {
  name: string
  allow: Rule[]
}

export interface RbacOptions {
  /** token -> user. The built-in `admin` user (all verbs on everything) always exists with its own token. */
  users?: Record<string, UserSpec>
}

export interface Attributes {
  verb: string
  resource: string
  subresource?: string
  namespace?: string
  name?: string
}

export const ADMIN: UserSpec = {name: 'admin', allow: [{verbs: ['*'], resources: ['*']}]}

export class Authenticator {
  private readonly byToken = new Map<string, UserSpec>()
  readonly adminToken: string

  constructor(options: RbacOptions = {}) {
    this.adminToken = `kube-sim-admin-${randomBytes(12).toString('hex')}`
    this.byToken.set(this.adminToken, ADMIN)
    for (const [token, user] of Object.entries(options.users ?? {})) this.byToken.set(token, user)
  }

  /** Token of a user by name (for writeKubeconfig). */
  tokenFor(userName: string): string | undefined {
    for (const [token, user] of this.byToken) if (user.name === userName) return token
    return undefined
  }

  authenticate(req: IncomingMessage): UserSpec {
    const header = req.headers.authorization ?? ''
    const m = header.match(/^Bearer\s+(\S+)$/i)
    const user = m ? this.byToken.get(m[1]!) : undefined
    if (!user) throw unauthorized()
    return user
  }
}

function ruleAllows(rule: Rule, a: Attributes): boolean {
  const full = a.subresource ? `${a.resource}/${a.subresource}` : a.resource
  const verbOk = rule.verbs.includes('*') || rule.verbs.includes(a.verb)
  const resOk = rule.resources.some((r) => r === '*' || r === full || (r === `${a.resource}/*` && a.subresource !== undefined))
  const nsOk = !rule.namespaces || (a.namespace !== undefined && rule.namespaces.includes(a.namespace))
  const nameOk = !rule.resourceNames || (a.name !== undefined && rule.resourceNames.includes(a.name))
  return verbOk && resOk && nsOk && nameOk
}

/** Throws the authorizer's Forbidden Status unless one of the user's rules allows the request. */
export function authorize(user: UserSpec, a: Attributes): void {
  if (user.allow.some((r) => ruleAllows(r, a))) return
  throw forbiddenFor(user, a)
}

export function forbiddenFor(user: UserSpec, a: Attributes): ApiError {
  const full = a.subresource ? `${a.resource}/${a.subresource}` : a.resource
  const where = a.namespace ? `in the namespace "${a.namespace}"` : 'at the cluster scope'
  const why = `User "${user.name}" cannot ${a.verb} resource "${full}" in API group "" ${where}`
  return forbidden(a.resource, a.name ?? '', why)
}
