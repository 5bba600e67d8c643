import {printable} from '../domain/printable.js'

/** Plain aligned columns, like `docker ps`; cells come from debuggers' records, so control characters are escaped. */
export function formatTable(header: string[], cells: string[][]): string {
  const rows = cells.map((row) => row.map(printable))
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]! + 2))).join('').trimEnd()
  return [line(header), ...rows.map(line)].join('\n')
}

export function formatAge(seconds: number): string {
  if (seconds < 60) return `${seconds}s`
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h`
  return `${Math.floor(seconds / 86400)}d`
}
