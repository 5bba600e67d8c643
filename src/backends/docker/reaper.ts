/**
 * Runs detached from mindbg (see watchdog.ts) once the session that started it is gone without releasing it:
 * removes the sidecar. Arguments: the sidecar's name, and the last state mindbg reported ("creating", "created").
 */
import {DockerEngine} from './engine.js'
import {LABEL} from './spec.js'

/**
 * After "creating", the create request may still be queued in an engine under load: the sidecar is looked for until
 * it appears, for this long at most (a create that has not been answered in 10 minutes is not going to be).
 */
const CREATE_MAY_TAKE_MS = 10 * 60_000
/** After "created": only the engine's own hiccups (a removal already in progress) are waited out. */
const RETRY_FOR_MS = 4000

async function reap(container: string, state: string): Promise<void> {
  const engine = await DockerEngine.connect()
  const deadline = Date.now() + (state === 'creating' ? CREATE_MAY_TAKE_MS : RETRY_FOR_MS)
  let pause = 100
  for (;;) {
    try {
      // Only ever a mindbg sidecar: a name given with --name may belong to someone else's container.
      const info = await engine.api.getContainer(container).inspect()
      if (info.Config.Labels?.[LABEL.sidecar] !== 'true') return
      // Stopped with SIGTERM first, so that its mindbg-init reaps what the session started.
      await engine.remove(info.Id)
      return
    } catch (error) {
      const status = (error as {statusCode?: number}).statusCode
      if (status !== 404 && status !== 409) throw error
      if (Date.now() > deadline) return
      await new Promise((r) => setTimeout(r, pause))
      pause = Math.min(pause * 2, 1000)
    }
  }
}

const [container, state = 'created'] = process.argv.slice(2)
if (!container) process.exit(2)
// No top-level await: the single executable's bundle is CommonJS (build/sea.mjs); the pending promise keeps the
// process alive all the same.
void reap(container, state).catch(() => process.exit(1))
