import type {KubeDryRunReport} from '../kube-session.js'
import type {DryRunReport} from '../session.js'

/** `mindbg attach --dry-run`, for people: what would run next to the target, and why that image. */
export function formatDryRun(report: DryRunReport | KubeDryRunReport): string {
  if ('ephemeralContainer' in report) return formatKube(report)
  const r = report
  return columns([
    ['target', `${r.target.name} (${r.target.id.slice(0, 12)}), image ${r.target.image}, user ${r.target.user}`],
    ['debug image', r.image],
    ['because', r.imageReason],
    ['present', r.imagePresent ? 'yes, no pull needed' : `no: pull ${r.pull === 'never' ? 'forbidden (--pull never)' : `on start${r.platform ? ` for ${r.platform}` : ''}`}`],
    ['profile', r.profile],
    ['user', r.user],
    ['joins', r.joins.join(', ')],
    ['name', r.name],
    ['command', r.command.length > 0 ? r.command.join(' ') : '(shell)'],
  ])
}

function formatKube(r: KubeDryRunReport): string {
  return columns([
    ['target', `pod ${r.target.namespace}/${r.target.pod}, container ${r.target.container}, image ${r.target.image}`],
    ['debug image', r.image],
    ['because', r.imageReason],
    ['pull policy', r.pull],
    ['profile', r.profile],
    ['user', r.user],
    ['joins', `the pod's network and IPC, the PID namespace of ${r.target.container}`],
    ...r.notes.map((note): [string, string] => ['note', note]),
    ['command', r.command.length > 0 ? r.command.join(' ') : '(shell)'],
    ['spec', JSON.stringify(r.ephemeralContainer)],
  ])
}

function columns(rows: Array<[string, string]>): string {
  const width = Math.max(...rows.map(([k]) => k.length))
  return rows.map(([k, v]) => `${`${k}:`.padEnd(width + 2)}${v}`).join('\n')
}
