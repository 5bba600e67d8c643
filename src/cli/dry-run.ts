import type {PlanReport} from '../backends/backend.js'

/** `mindbg attach --dry-run`, for people: what would run next to the target, and why that image. */
export function formatDryRun(r: PlanReport): string {
  const present =
    r.imagePresent === undefined
      ? ['pull policy', r.pull]
      : ['present', r.imagePresent ? 'yes, no pull needed' : `no: pull ${r.pull === 'never' ? 'forbidden (--pull never)' : `on start${r.platform ? ` for ${r.platform}` : ''}`}`]
  return columns([
    ['target', `${r.target.label}, ${r.target.os === undefined ? `image ${r.target.image}` : `OS ${r.target.os}`}${r.target.user ? `, user ${r.target.user}` : ''}`],
    ['debug image', r.image],
    ['because', r.imageReason],
    present as [string, string],
    ['profile', r.profile],
    ['user', r.user],
    ['joins', r.joins.join(', ')],
    ['name', r.name],
    ...r.notes.map((note): [string, string] => ['note', note]),
    ['command', r.command.length > 0 ? r.command.join(' ') : '(shell)'],
    ['spec', JSON.stringify(r.spec)],
  ])
}

function columns(rows: Array<[string, string]>): string {
  const width = Math.max(...rows.map(([k]) => k.length))
  return rows.map(([k, v]) => `${`${k}:`.padEnd(width + 2)}${v}`).join('\n')
}
