import os from 'node:os'

import type {MindbgError} from './errors.js'
import type {Runtime} from './target.js'

/** Who started a session and why: recorded on the debugger (labels, environment) so that `ls` can answer. */
export interface SessionIdentity {
  user: string
  startedAt: string
  version: string
  reason: string | undefined
}

/**
 * Who runs mindbg, from the operating system (the real uid's name), not from $USER, which anyone can set. Under sudo,
 * the account that ran sudo too (SUDO_USER is set by sudo, and only root can pass it on).
 */
export function osAccount(): {user: string; host: string; sudoUser?: string} {
  let user: string
  try {
    user = os.userInfo().username
  } catch {
    user = String(process.getuid?.() ?? 'unknown')
  }
  const sudo = process.getuid?.() === 0 ? process.env.SUDO_USER?.trim() : undefined
  return {user, host: os.hostname(), ...(sudo ? {sudoUser: sudo} : {})}
}

/** The account as recorded on a debugger: "user@host", "(sudo from NAME)" added under sudo. */
export function invokingUser(): string {
  const {user, host, sudoUser} = osAccount()
  return `${user}@${host}${sudoUser ? ` (sudo from ${sudoUser})` : ''}`
}

/** How a session ended. */
export type SessionEnding =
  /** The debugged command (or shell) exited by itself: its exit code is the session's. */
  | 'exit'
  /** Ended from outside (a signal, a timeout of the caller): the debugger was ended. */
  | 'stopped'
  /** Whatever read the output went away (EPIPE): the debugger was ended. */
  | 'output-closed'
  /** The target went away, taking the debugger with it. */
  | 'target-gone'
  /** The user detached: the debugger keeps running. */
  | 'detached'
  /** mindbg could not run it (a refused debugger, an unreachable runtime): see `error`. */
  | 'failed'

/** What a report or an audit record needs to know about one session. */
export interface SessionResult {
  exitCode: number
  ending: SessionEnding
  runtime: Runtime
  target: {name: string; id: string} | undefined
  debugger: {name: string; image: string} | undefined
  /** Epoch milliseconds; undefined for what did not happen. */
  timings: {requested: number; created: number | undefined; started: number | undefined; ended: number}
  /** Set when the session failed or the target went away: what to tell the user. */
  error?: MindbgError
}

/** What ends a session early: the caller aborts its AbortSignal with one of these as the reason. */
export interface StopRequest {
  exitCode: number
  ending: Extract<SessionEnding, 'stopped' | 'output-closed'>
}

/** The identity fields, as each backend records them on its debuggers (Docker: labels; Kubernetes: environment). */
const IDENTITY_FIELDS = ['user', 'started', 'version', 'reason'] as const
export type IdentityField = (typeof IDENTITY_FIELDS)[number]
export type RecordedIdentity = Record<IdentityField, string>

/**
 * The fields to record, under the backend's own key for each. All of them, a missing reason as "": a debug image
 * may carry labels (or environment) of the same names, and none of it may stand in for this session's identity.
 */
export function identityEntries(identity: SessionIdentity, key: (field: IdentityField) => string): Array<[string, string]> {
  const values: Record<IdentityField, string> = {user: identity.user, started: identity.startedAt, version: identity.version, reason: identity.reason ?? ''}
  return IDENTITY_FIELDS.map((f) => [key(f), values[f]])
}

/** The fields read back from a debugger (absent ones as ""). */
export function readIdentity(lookup: (field: IdentityField) => string | undefined): RecordedIdentity {
  return Object.fromEntries(IDENTITY_FIELDS.map((f) => [f, lookup(f) ?? ''])) as RecordedIdentity
}
