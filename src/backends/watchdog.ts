import {spawn} from 'node:child_process'
import {fileURLToPath} from 'node:url'

import {insideSingleExecutable, REAPER_ROLE_ENV} from './sea.js'

/**
 * Zero residue even when mindbg is killed with SIGKILL: a detached `sh` holds the read end of a pipe whose write
 * end only this process has. mindbg tells it how far it got ("creating" before the create request, "created" once
 * the thing exists, possibly with what the reaper needs to know of it, e.g. "created:UID") and "release" when it
 * cleaned up (or detached, or kept it) by itself. When the kernel closes the pipe instead, `read` ends and the shell
 * turns into the reaper with the last state it heard as its last argument: nothing to do before a create was sent;
 * remove the thing once it exists, however long a runtime under load takes to create it. `sh` costs ~1 ms, so every
 * session can afford one; Node is started only when there is something to reap.
 */
const WATCH_SCRIPT = [
  'state=idle',
  'while IFS= read -r line; do',
  '  case $line in',
  '    release) exit 0 ;;',
  // One more argument for the reaper (watch()), appended to the positional parameters: POSIX sh has no arrays.
  '    "arg "*) set -- "$@" "${line#arg }" ;;',
  '    *) state=$line ;;',
  '  esac',
  'done',
  '[ "$state" = idle ] && exit 0',
  'exec "$0" "$@" "$state"',
].join('\n')

export interface Watchdog {
  /**
   * More arguments for the reaper, told before creating(): a spare watchdog is started before the name of what it
   * watches is known. Each must be one line (names are mindbg's own or checked: nothing that could end the line).
   */
  watch(args: string[]): void
  /** A create request is about to be sent. */
  creating(): void
  /** It exists; `detail` (one line, no spaces needed) reaches the reaper as `created:DETAIL`. */
  created(detail?: string): void
  /** The session cleaned up (or detached, or keeps it) by itself: the watchdog exits without touching anything. */
  release(): void
}

/**
 * Which reaper a watchdog turns into: a script bundled next to the module that starts the watchdog (`node
 * dist/reaper.js`), or, inside the single executable, the executable itself with REAPER_ROLE_ENV set to `role`.
 */
export interface ReaperEntry {
  script: URL
  role: string
}

function reaperCommand(entry: ReaperEntry): {argv: string[]; env: NodeJS.ProcessEnv} {
  if (insideSingleExecutable) return {argv: [process.execPath], env: {...process.env, [REAPER_ROLE_ENV]: entry.role}}
  return {argv: [process.execPath, fileURLToPath(entry.script)], env: process.env}
}

/**
 * Starts a watchdog whose reaper, if it ever runs, gets `args`, those told by watch(), and then the last state.
 * Spawning it costs ~5-25 ms of the main thread, which a session can spend while its first requests are with the
 * runtime rather than before its create: hence watch().
 */
export function startWatchdog(entry: ReaperEntry, args: string[] = []): Watchdog {
  const reaper = reaperCommand(entry)
  // Detached: its own session and process group, so neither Ctrl-C nor a closing terminal reaches it.
  const child = spawn('/bin/sh', ['-c', WATCH_SCRIPT, ...reaper.argv, ...args], {detached: true, env: reaper.env, stdio: ['pipe', 'ignore', 'ignore']})
  child.on('error', () => {}) // no shell to spawn: the session's own cleanup still covers the normal paths
  child.unref()
  const pipe = child.stdin
  pipe?.on('error', () => {})
  ;(pipe as unknown as {unref?: () => void} | null)?.unref?.()
  let released = false
  const say = (line: string): void => {
    if (!released) pipe?.write(`${line}\n`)
  }
  return {
    watch: (more) => {
      for (const arg of more) say(`arg ${arg}`)
    },
    creating: () => say('creating'),
    created: (detail) => say(detail === undefined ? 'created' : `created:${detail}`),
    release() {
      if (released) return
      released = true
      pipe?.end('release\n')
    },
  }
}
