import {type Watchdog as ReaperWatchdog, startWatchdog as startReaperWatchdog} from '../watchdog.js'

/** What a watchdog removes: a sidecar or stand-in container, or a snapshot image (both by name, only if mindbg's). */
export type Reapable = {container: string} | {image: string}

/** A watchdog (../watchdog.ts) whose reaper is ./reaper.ts: the sidecar, stand-in or snapshot removed if mindbg dies. */
export interface Watchdog extends Omit<ReaperWatchdog, 'watch'> {
  /** What it removes, told once before creating(). */
  watch(what: Reapable): void
}

const reaperArgs = (what: Reapable): string[] => ('image' in what ? ['--image', what.image] : [what.container])

/** A watchdog for `what`; without it, a spare one, told what it watches later (see ../watchdog.ts). */
export function startWatchdog(what?: Reapable): Watchdog {
  const watchdog = startReaperWatchdog({script: new URL('./reaper.js', import.meta.url), role: '1'}, what ? reaperArgs(what) : [])
  return {...watchdog, watch: (later) => watchdog.watch(reaperArgs(later))}
}
