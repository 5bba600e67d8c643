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
  'state=idle kind= what=',
  'while IFS= read -r line; do',
  '  case $line in',
  '    release) exit 0 ;;',
  '    "container "*) kind= what=${line#container } ;;',
  '    "image "*) kind=--image what=${line#image } ;;',
  '    *) state=$line ;;',
  '  esac',
  'done',
  '[ "$state" = idle ] && exit 0',
  '[ -n "$what" ] || exit 0',
  'exec "$0" "$@" $kind "$what" "$state"',
].join('\n')

export interface Watchdog {
  /** What it removes, told once before creating() (a spare watchdog is started before the name is known). */
  watch(what: Reapable): void
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

/**
 * A watchdog for `what`; without it, a spare one, told what it watches later (watch()): spawning it costs ~5-25 ms of
 * the main thread, which a session spends while its first requests are with the engine rather than before its create.
 */
export function startWatchdog(what?: Reapable): Watchdog {
  const reaper = reaperCommand()
  // Detached: its own session and process group, so neither Ctrl-C nor a closing terminal reaches it.
  const child = spawn('/bin/sh', ['-c', WATCH_SCRIPT, ...reaper.argv], {detached: true, env: reaper.env, stdio: ['pipe', 'ignore', 'ignore']})
  child.on('error', () => {}) // no shell to spawn: AutoRemove still covers the normal paths
  child.unref()
  const pipe = child.stdin
  pipe?.on('error', () => {})
  ;(pipe as unknown as {unref?: () => void} | null)?.unref?.()
  let released = false
  const say = (line: string): void => {
    if (!released) pipe?.write(`${line}\n`)
  }
  // Names are mindbg's own or checked (src/cli/attach-plan.ts): [a-zA-Z0-9_.-], nothing that could end the line.
  const watch = (target: Reapable): void => say('image' in target ? `image ${target.image}` : `container ${target.container}`)
  if (what) watch(what)
  return {
    watch,
    creating: () => say('creating'),
    created: () => say('created'),
    release() {
      if (released) return
      released = true
      pipe?.end('release\n')
    },
  }
}
