import {type Watchdog, startWatchdog as startReaperWatchdog} from '../watchdog.js'

export type {Watchdog} from '../watchdog.js'

/** What a watchdog removes: a sidecar or stand-in container, or a snapshot image (both by name, only if mindbg's). */
export type Reapable = {container: string} | {image: string}

/** A watchdog (../watchdog.ts) whose reaper is ./reaper.ts: the sidecar, stand-in or snapshot removed if mindbg dies. */
export function startWatchdog(what: Reapable): Watchdog {
  const args = 'image' in what ? ['--image', what.image] : [what.container]
  return startReaperWatchdog({script: new URL('./reaper.js', import.meta.url), role: '1'}, args)
}
