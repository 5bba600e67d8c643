/**
 * Progress and notices go to stderr, never stdout (stdout carries the debugged command's data). The CLI's
 * implementation (src/cli/progress.ts) shows a spinner only on a terminal, plain lines otherwise, nothing with -q.
 */
export interface Reporter {
  notice(text: string): void
  /** A long step: spinner text on a TTY, one line otherwise. */
  begin(text: string): void
  update(text: string): void
  end(text: string, ok: boolean): void
}

export const SILENT: Reporter = {notice() {}, begin() {}, update() {}, end() {}}
