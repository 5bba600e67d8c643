/**
 * Runs `end` and waits for it at most `ms`: past that, `onLate` is told and the wait ends, `end` left to finish (or
 * fail) on its own. For the ends of debuggers on an engine or API server that may have frozen: someone is waiting,
 * and the debugger's watchdog, still armed until the end is confirmed, takes over. A failure within the bound is
 * rethrown; one after it is nobody's here.
 */
export async function endWithin(ms: number, end: () => Promise<void>, onLate: () => void): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), ms)
    timer.unref()
  })
  const ended = end().then((): 'ended' => 'ended')
  ended.catch(() => {})
  try {
    if ((await Promise.race([ended, late])) === 'late') onLate()
  } finally {
    clearTimeout(timer)
  }
}
