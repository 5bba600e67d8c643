import {usageError} from './errors.js'

/** kubectl-style durations: 90s, 2m, 1m30s, 1h, 500ms; a bare number is seconds. `what` names the flag in errors. */
export function parseDuration(text: string, what = '--timeout'): number {
  const bare = /^\d+$/.test(text.trim())
  const parts = [...text.trim().matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)]
  const consumed = parts.map((p) => p[0]).join('')
  if (!bare && (parts.length === 0 || consumed !== text.trim())) throw usageError(`bad ${what} "${text}"`, 'Use a duration such as 90s, 2m or 1m30s.')
  const unit: Record<string, number> = {ms: 1, s: 1000, m: 60_000, h: 3_600_000}
  const ms = bare ? Number(text) * 1000 : parts.reduce((sum, p) => sum + Number(p[1]) * unit[p[2]!]!, 0)
  if (ms <= 0) throw usageError(`${what} must be positive, got "${text}"`)
  return ms
}

/** A duration as people write it: "20s", "1.5s". */
export function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${(ms / 1000).toFixed(1)}s`
}
