/**
 * Progress and notices go to stderr, never stdout (stdout carries the debugged command's data). A spinner only
 * when stderr is a terminal; plain lines otherwise; nothing at all with -q.
 */
export interface Reporter {
  notice(text: string): void
  /** A long step: spinner text on a TTY, one line otherwise. */
  begin(text: string): void
  update(text: string): void
  end(text: string, ok: boolean): void
}

export interface ReporterOptions {
  quiet: boolean
  stream?: NodeJS.WriteStream
}

export function createReporter({quiet, stream = process.stderr}: ReporterOptions): Reporter {
  if (quiet) return {notice() {}, begin() {}, update() {}, end() {}}
  const line = (text: string): void => void stream.write(`${text}\n`)
  if (!stream.isTTY) return {notice: line, begin: line, update() {}, end: line}

  type Spinner = {text: string; succeed(t: string): unknown; fail(t: string): unknown; stop(): unknown}
  let spinner: Spinner | undefined
  let pendingText: string | undefined
  let loading: Promise<void> | undefined
  return {
    notice: line,
    begin(text) {
      pendingText = text
      // ora costs ~100 ms to import: loaded only when something slow (a pull) is actually happening.
      loading ??= import('ora').then(({default: ora}) => {
        spinner = ora({text: pendingText ?? text, stream}).start() as Spinner
      })
    },
    update(text) {
      pendingText = text
      if (spinner) spinner.text = text
    },
    end(text, ok) {
      void (loading ?? Promise.resolve()).then(() => {
        if (!spinner) return line(text)
        if (ok) spinner.succeed(text)
        else spinner.fail(text)
        spinner = undefined
      })
    },
  }
}

/** Summarises Docker pull progress events into one line: layers done and bytes downloaded. */
export class PullProgress {
  private readonly layers = new Map<string, {current: number; total: number; done: boolean}>()

  constructor(private readonly image: string) {}

  add(event: {id?: string; status?: string; progressDetail?: {current?: number; total?: number}}): string {
    const {id, status = ''} = event
    if (id && /^[0-9a-f]{12,}$/.test(id)) {
      const layer = this.layers.get(id) ?? {current: 0, total: 0, done: false}
      if (status === 'Downloading' && event.progressDetail) {
        layer.current = event.progressDetail.current ?? layer.current
        layer.total = event.progressDetail.total ?? layer.total
      }
      if (/^(Pull complete|Already exists|Download complete)$/.test(status)) {
        layer.done = true
        if (layer.total) layer.current = layer.total
      }
      this.layers.set(id, layer)
    }
    return this.summary()
  }

  summary(): string {
    const all = [...this.layers.values()]
    const done = all.filter((l) => l.done).length
    const current = all.reduce((n, l) => n + l.current, 0)
    const total = all.reduce((n, l) => n + l.total, 0)
    const bytes = total > 0 ? `, ${mb(current)}/${mb(total)} MB` : ''
    return `Pulling ${this.image}: ${done}/${all.length} layers${bytes}`
  }
}

const mb = (n: number): string => (n / 1e6).toFixed(1)
