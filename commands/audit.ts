import {MindbgCommand} from '../src/cli/base-command.js'
import {loadConfig} from '../src/cli/config.js'
import {AUDIT_FLAGS, type AuditFlags} from '../src/cli/flag-table.js'
import {oclifFlags} from '../src/cli/oclif-flags.js'
import {formatTable} from '../src/cli/table.js'
import {parseDuration} from '../src/domain/duration.js'
import {usageError} from '../src/domain/errors.js'
import {type AuditRecord, auditLogPath, readAudit} from '../src/session/audit.js'

export default class Audit extends MindbgCommand {
  static override summary = 'Show the audit log: every attach, run and cp on this machine, who, what, why and how it ended.'
  static override description = `One JSON line per session in $XDG_STATE_HOME/mindbg/audit.jsonl (else ~/.local/state/mindbg/audit.jsonl); MINDBG_AUDIT_LOG or "auditLog:" in the config file put it elsewhere, "false" turns it off.`
  static override enableJsonFlag = true
  static override examples = ['<%= config.bin %> audit', '<%= config.bin %> audit --since 1h', '<%= config.bin %> audit --since 24h --json']
  static override flags = oclifFlags(AUDIT_FLAGS)

  async run(): Promise<AuditRecord[]> {
    const flags = (await this.parse(Audit)).flags as AuditFlags
    const config = await loadConfig(process.env)
    const path = auditLogPath(process.env, config.auditLog)
    if (path === undefined) throw usageError('the audit log is turned off', 'Unset MINDBG_AUDIT_LOG, or remove "auditLog: false" from the config file.')
    const since = flags.since === undefined ? 0 : Date.now() - parseDuration(flags.since, '--since')
    const {records, skipped} = readAudit(path, since)
    if (skipped > 0) process.stderr.write(`mindbg: ${skipped} line${skipped > 1 ? 's' : ''} of ${path} ${skipped > 1 ? 'are' : 'is'} not audit records (skipped)\n`)
    if (!this.jsonEnabled()) {
      const cut = (text: string, width: number): string => (flags['no-trunc'] || text.length <= width ? text : `${text.slice(0, width - 1)}…`)
      const rows = records.map((r) => [
        r.time.replace(/\.\d+Z$/, 'Z'),
        r.sudoUser ? `${r.user} (sudo from ${r.sudoUser})` : r.user,
        r.command,
        cut(r.target, 40),
        String(r.exitCode),
        r.ending,
        `${(r.durationMs / 1000).toFixed(1)}s`,
        cut(r.runbook ?? (r.oneShot ? r.oneShot.join(' ') : 'shell'), 30),
        cut(r.reason ?? '', 40),
      ])
      this.log(formatTable(['ENDED', 'USER', 'COMMAND', 'TARGET', 'EXIT', 'ENDING', 'TOOK', 'RAN', 'REASON'], rows))
    }
    return records
  }
}
