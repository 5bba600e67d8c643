import {spawn} from 'node:child_process'
import {fileURLToPath} from 'node:url'

/**
 * Zero residue even when mindbg is killed with SIGKILL: a detached `sh` holds the read end of a pipe whose write
 * end only this process has. When mindbg ends normally it says "release" first; when the kernel closes the pipe
 * instead, `read` returns empty and the shell turns into the reaper, which force-removes the sidecar.
 * `sh` costs ~1 ms, so every session can afford one; Node is started only when there is something to reap.
 */
const WATCH_SCRIPT = 'IFS= read -r line; [ "$line" = release ] && exit 0; exec "$0" "$@"'

export interface Watchdog {
  /** The session cleaned up (or detached) by itself: the watchdog exits without touching the sidecar. */
  release(): void
}

export function startWatchdog(container: string): Watchdog {
  const reaper = fileURLToPath(new URL('./reaper.js', import.meta.url))
  const [command, args] =
    process.platform === 'win32'
      ? [process.execPath, [reaper, '--watch', container]]
      : ['/bin/sh', ['-c', WATCH_SCRIPT, process.execPath, reaper, container]]
  // Detached: its own session and process group, so neither Ctrl-C nor a closing terminal reaches it.
  const child = spawn(command, args, {detached: true, stdio: ['pipe', 'ignore', 'ignore']})
  child.on('error', () => {}) // no shell to spawn: AutoRemove still covers the normal paths
  child.unref()
  const pipe = child.stdin
  pipe?.on('error', () => {})
  ;(pipe as unknown as {unref?: () => void} | null)?.unref?.()
  let released = false
  return {
    release() {
      if (released) return
      released = true
      pipe?.end('release\n')
    },
  }
}
