/**
 * Runs detached from mindbg (see watchdog.ts) once the session that started it is gone without releasing it:
 * removes the sidecar. `--watch` makes it wait for that itself (used where no POSIX shell exists).
 */
import {DockerEngine} from './docker-engine.js'
import {LABEL} from './docker-spec.js'

const RETRY_FOR_MS = 4000

async function readUntilEnd(): Promise<string> {
  let text = ''
  for await (const chunk of process.stdin) text += String(chunk)
  return text
}

async function reap(container: string): Promise<void> {
  const engine = await DockerEngine.connect()
  const deadline = Date.now() + RETRY_FOR_MS
  // A create request may still be in flight when mindbg died: if the container is not there yet, look again.
  for (;;) {
    try {
      // Only ever a mindbg sidecar: a name given with --name may belong to someone else's container.
      const info = await engine.api.getContainer(container).inspect()
      if (info.Config.Labels?.[LABEL.sidecar] !== 'true') return
      await engine.api.getContainer(info.Id).remove({force: true})
      return
    } catch (error) {
      const status = (error as {statusCode?: number}).statusCode
      if (status !== 404 && status !== 409) throw error
      if (Date.now() > deadline) return
      await new Promise((r) => setTimeout(r, 400))
    }
  }
}

const args = process.argv.slice(2)
const watch = args[0] === '--watch'
const container = watch ? args[1] : args[0]
if (!container) process.exit(2)
if (watch && (await readUntilEnd()).startsWith('release')) process.exit(0)
await reap(container).catch(() => process.exit(1))
