/**
 * Runs detached from mindbg (see watchdog.ts) once the session that started it is gone without releasing it:
 * removes the sidecar (or stand-in container, or with --image the snapshot image). Arguments: [--image] the name,
 * and the last state mindbg reported ("creating", "created").
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

async function reapContainer(engine: DockerEngine, container: string): Promise<void> {
  // Only ever mindbg's own: a name given with --name may belong to someone else's container.
  const info = await (await engine.api()).getContainer(container).inspect()
  const labels = info.Config.Labels ?? {}
  if (labels[LABEL.sidecar] !== 'true' && labels[LABEL.standIn] !== 'true') return
  // Stopped with SIGTERM first, so that its mindbg-init reaps what the session started.
  await engine.remove(info.Id)
}

async function reapImage(engine: DockerEngine, image: string): Promise<void> {
  const info = await (await engine.api()).getImage(image).inspect()
  if (info.Config?.Labels?.[LABEL.snapshot] !== 'true') return
  // 409 while the stand-in made from it is still being removed (its own watchdog does that): tried again.
  await (await engine.api()).getImage(image).remove()
}

async function reap(what: string, state: string, image: boolean): Promise<void> {
  const engine = await DockerEngine.connect()
  const deadline = Date.now() + (state === 'creating' ? CREATE_MAY_TAKE_MS : RETRY_FOR_MS)
  let pause = 100
  for (;;) {
    try {
      await (image ? reapImage(engine, what) : reapContainer(engine, what))
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

const args = process.argv.slice(2)
const image = args[0] === '--image'
const [what, state = 'created'] = image ? args.slice(1) : args
if (!what) process.exit(2)
// No top-level await: the single executable's bundle is CommonJS (build/sea.mjs); the pending promise keeps the
// process alive all the same.
void reap(what, state, image).catch(() => process.exit(1))
