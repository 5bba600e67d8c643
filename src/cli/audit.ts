import {firstLine} from '../domain/errors.js'
import {appendAudit, type AuditRecord} from '../session/audit.js'

/**
 * Appends a session's record to the audit log (none when it is turned off). A log that cannot be written never
 * changes the session's outcome, but is always said, -q or not: an audit trail with holes must not go unnoticed.
 */
export function recordSession(path: string | undefined, record: AuditRecord): void {
  if (path === undefined) return
  try {
    appendAudit(path, record)
  } catch (error) {
    process.stderr.write(`mindbg: cannot write the audit log ${path}: ${firstLine((error as Error).message)}\n`)
  }
}
