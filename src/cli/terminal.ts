/**
 * Raw mode for interactive sessions. The restore function is idempotent and also runs on process exit, so the
 * user's terminal comes back on every path: normal end, detach, errors, signals.
 */
export function enterRawMode(stdin: NodeJS.ReadStream): () => void {
  if (!stdin.isTTY) return () => {}
  stdin.setRawMode(true)
  let restored = false
  const restore = (): void => {
    if (restored) return
    restored = true
    process.removeListener('exit', restore)
    try {
      stdin.setRawMode(false)
    } catch {
      // the terminal is already gone (SIGHUP): nothing to restore
    }
  }
  process.on('exit', restore)
  return restore
}

export interface TerminalSize {
  rows: number
  columns: number
}

export function terminalSize(stdout: NodeJS.WriteStream): TerminalSize | undefined {
  if (!stdout.isTTY || !stdout.rows || !stdout.columns) return undefined
  return {rows: stdout.rows, columns: stdout.columns}
}
