import {deps} from '../deps.js'
import {type Reporter, SILENT} from '../domain/reporter.js'

export interface ReporterOptions {
  quiet: boolean
  stream?: NodeJS.WriteStream
}

/** On stderr: a spinner only when it is a terminal; plain lines otherwise; nothing at all with -q. */
export function createReporter({quiet, stream = process.stderr}: ReporterOptions): Reporter {
  if (quiet) return SILENT
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
      loading ??= deps.ora().then((ora) => {
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
