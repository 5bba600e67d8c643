import type {DryRunReport} from '../session.js'

/** `mindbg attach --dry-run`, for people: what would run next to the target, and why that image. */
export function formatDryRun(r: DryRunReport): string {
  const rows: Array<[string, string]> = [
    ['target', `${r.target.name} (${r.target.id.slice(0, 12)}), image ${r.target.image}, user ${r.target.user}`],
    ['debug image', r.image],
    ['because', r.imageReason],
    ['present', r.imagePresent ? 'yes, no pull needed' : `no: pull ${r.pull === 'never' ? 'forbidden (--pull never)' : `on start${r.platform ? ` for ${r.platform}` : ''}`}`],
    ['profile', r.profile],
    ['user', r.user],
    ['joins', r.joins.join(', ')],
    ['name', r.name],
    ['command', r.command.length > 0 ? r.command.join(' ') : '(shell)'],
  ]
  const width = Math.max(...rows.map(([k]) => k.length))
  return rows.map(([k, v]) => `${`${k}:`.padEnd(width + 2)}${v}`).join('\n')
}
