import {spawn} from 'node:child_process'
import {fileURLToPath} from 'node:url'

import {insideSingleExecutable, REAPER_ROLE_ENV} from '../sea.js'

/**
 * Zero residue even when mindbg is killed with SIGKILL: a detached `sh` holds the read end of a pipe whose write
 * end only this process has. mindbg tells it how far it got ("creating" before the create request, "created" once
 * the sidecar exists) and "release" when it cleaned up (or detached) by itself. When the kernel closes the pipe
 * instead, `read` ends and the shell turns into the reaper with the last state it heard: nothing to do before a
 * create was sent; remove the sidecar once it exists, however long an engine under load takes to create it.
 * `sh` costs ~1 ms, so every session can afford one; Node is started only when there is something to reap.
 */
const WATCH_SCRIPT = [
  'state=idle',
  'while IFS= read -r line; do',
  '  [ "$line" = release ] && exit 0',
  '  state=$line',
  'done',
  '[ "$state" = idle ] && exit 0',
  'exec "$0" "$@" "$state"',
].join('\n')

export interface Watchdog {
  /** A create request for the sidecar is about to be sent. */
  creating(): void
  /** The sidecar exists. */
  created(): void
  /** The session cleaned up (or detached) by itself: the watchdog exits without touching the sidecar. */
  release(): void
}

/** `node dist/reaper.js` next to the bundled watchdog; the single executable is its own reaper. */
function reaperCommand(): {argv: string[]; env: NodeJS.ProcessEnv} {
  if (insideSingleExecutable) return {argv: [process.execPath], env: {...process.env, [REAPER_ROLE_ENV]: '1'}}
  return {argv: [process.execPath, fileURLToPath(new URL('./reaper.js', import.meta.url))], env: process.env}
}

/** What a watchdog removes: a sidecar or stand-in container, or a snapshot image (both by name, only if mindbg's). */
export type Reapable = {container: string} | {image: string}

export function startWatchdog(what: Reapable): Watchdog {
  const reaper = reaperCommand()
  // Detached: its own session and process group, so neither Ctrl-C nor a closing terminal reaches it.
  const args = 'image' in what ? ['--image', what.image] : [what.container]
  const child = spawn('/bin/sh', ['-c', WATCH_SCRIPT, ...reaper.argv, ...args], {detached: true, env: reaper.env, stdio: ['pipe', 'ignore', 'ignore']})
  child.on('error', () => {}) // no shell to spawn: AutoRemove still covers the normal paths
  child.unref()
  const pipe = child.stdin
  pipe?.on('error', () => {})
  ;(pipe as unknown as {unref?: () => void} | null)?.unref?.()
  let released = false
  const say = (line: string): void => {
    if (!released) pipe?.write(`${line}\n`)
  }
  return {
    creating: () => say('creating'),
    created: () => say('created'),
    release() {
      if (released) return
      released = true
      pipe?.end('release\n')
    },
  }
}
