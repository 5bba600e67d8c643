import {closeSync, openSync, writeSync} from 'node:fs'
import {StringDecoder} from 'node:string_decoder'

import {firstLine, usageError} from '../domain/errors.js'

/** What a session tells its recording: output ("o"), input ("i", only when asked for) and resizes ("r"). */
export type CastEvent = 'o' | 'i' | 'r'

export interface CastRecorder {
  record(kind: CastEvent, data: Buffer | string): void
  close(): void
}

/**
 * `attach --record FILE.cast`: the session in asciicast v2, what `asciinema play` reads. A header line, then one JSON
 * array per event: seconds since the start, the kind, the text (UTF-8 kept whole across chunks). Input is not
 * recorded unless asked for: it holds what was typed, passwords included.
 */
export function openCast(path: string, options: {size: {rows: number; columns: number} | undefined; title: string; input: boolean; now?: () => number}): CastRecorder {
  const now = options.now ?? Date.now
  let fd: number
  try {
    fd = openSync(path, 'wx', 0o600)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw usageError(`--record ${path}: ${code === 'EEXIST' ? 'it exists already' : firstLine((error as Error).message)}`, 'Give a new file: a recording is never written over another.')
  }
  const started = now()
  const header = {
    version: 2,
    width: options.size?.columns ?? 80,
    height: options.size?.rows ?? 24,
    timestamp: Math.floor(started / 1000),
    title: options.title,
    env: {TERM: process.env.TERM ?? 'xterm', SHELL: '/bin/sh'},
  }
  writeSync(fd, `${JSON.stringify(header)}\n`)
  const decoders = {o: new StringDecoder('utf8'), i: new StringDecoder('utf8'), r: new StringDecoder('utf8')}
  let open = true
  return {
    record(kind, data) {
      if (!open || (kind === 'i' && !options.input)) return
      const text = typeof data === 'string' ? data : decoders[kind].write(data)
      if (text) writeSync(fd, `${JSON.stringify([Math.round(now() - started) / 1000, kind, text])}\n`)
    },
    close() {
      if (!open) return
      open = false
      closeSync(fd)
    },
  }
}
