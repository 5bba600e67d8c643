import {createWriteStream, mkdirSync, symlinkSync, utimesSync, chmodSync} from 'node:fs'
import {dirname, join, normalize, sep} from 'node:path'
import {Writable} from 'node:stream'
import {finished} from 'node:stream/promises'

import {MindbgError} from '../domain/errors.js'

/**
 * Tar archives in and out, streamed: what `mindbg cp` and a runbook's `collect:` steps receive from the debugger
 * (its busybox or GNU tar reads the target's filesystem), and what a `.tar.gz` bundle is. Ustar with the two
 * long-name extensions tools write (GNU 'L'/'K' records, POSIX pax 'x' headers); regular files, directories and
 * symbolic links. Memory stays flat: a file's bytes go to disk as they come.
 */
export interface TarEntry {
  path: string
  type: 'file' | 'directory' | 'symlink' | 'other'
  mode: number
  mtime: number
  size: number
  linkTarget: string
}

const BLOCK = 512

const octal = (field: Buffer): number => {
  // GNU base-256 for large numbers: the high bit of the first byte set.
  if (field[0]! & 0x80) return field.subarray(1).reduce((n, b) => n * 256 + b, field[0]! & 0x7f)
  const text = field.toString('latin1').replace(/\0.*$/s, '').trim()
  return text ? Number.parseInt(text, 8) : 0
}
const cString = (field: Buffer): string => {
  const end = field.indexOf(0)
  return field.subarray(0, end < 0 ? field.length : end).toString('utf8')
}

/** pax "LEN key=value\n" records. */
function paxRecords(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {}
  let at = 0
  while (at < data.length) {
    const space = data.indexOf(0x20, at)
    if (space < 0) break
    const length = Number(data.subarray(at, space).toString('latin1'))
    if (!length) break
    const record = data.subarray(space + 1, at + length - 1).toString('utf8')
    const eq = record.indexOf('=')
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1)
    at += length
  }
  return out
}

/**
 * A Writable that parses a tar stream and hands each entry to `onEntry` with a sink for its bytes (a Writable, or
 * undefined to skip them). Ends at the two zero blocks (or the stream's end); a truncated archive is an error.
 */
export class TarParser extends Writable {
  private buffered: Buffer = Buffer.alloc(0)
  private state: {kind: 'header'} | {kind: 'data'; remaining: number; padding: number; sink: Writable | undefined; meta?: 'L' | 'K' | 'x'; collected?: Buffer[]} = {kind: 'header'}
  private longName: string | undefined
  private longLink: string | undefined
  private pax: Record<string, string> = {}
  private ended = false

  constructor(private readonly onEntry: (entry: TarEntry) => Writable | undefined) {
    super()
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.buffered = this.buffered.length ? Buffer.concat([this.buffered, chunk]) : chunk
    this.drain(done)
  }

  override _final(done: (error?: Error | null) => void): void {
    if (!this.ended && (this.state.kind === 'data' || this.buffered.length > 0)) return done(new MindbgError('internal', 'the tar stream ended in the middle of an entry'))
    done()
  }

  private drain(done: (error?: Error | null) => void): void {
    for (;;) {
      if (this.ended) {
        this.buffered = Buffer.alloc(0)
        return done()
      }
      if (this.state.kind === 'header') {
        if (this.buffered.length < BLOCK) return done()
        const header = this.buffered.subarray(0, BLOCK)
        this.buffered = this.buffered.subarray(BLOCK)
        if (header.every((b) => b === 0)) {
          this.ended = true
          continue
        }
        const entry = this.header(header)
        if (entry === 'bad') return done(new MindbgError('internal', 'not a tar stream (bad header checksum)'))
        let sink: Writable | undefined
        try {
          sink = 'meta' in entry ? undefined : this.onEntry(entry)
        } catch (error) {
          return done(error as Error)
        }
        const size = entry.size
        const padding = (BLOCK - (size % BLOCK)) % BLOCK
        if ('meta' in entry) this.state = {kind: 'data', remaining: size, padding, sink: undefined, meta: entry.meta, collected: []}
        else {
          if (entry.type !== 'file' && sink) sink.end()
          this.state = {kind: 'data', remaining: entry.type === 'file' ? size : 0, padding: entry.type === 'file' ? padding : 0, sink: entry.type === 'file' ? sink : undefined}
        }
        continue
      }
      const state = this.state
      if (state.remaining > 0) {
        if (this.buffered.length === 0) return done()
        const take = this.buffered.subarray(0, Math.min(state.remaining, this.buffered.length))
        this.buffered = this.buffered.subarray(take.length)
        state.remaining -= take.length
        if (state.collected) state.collected.push(Buffer.from(take))
        const full = state.sink ? !state.sink.write(take) : false
        if (state.remaining === 0) {
          // The file is complete: it flushes on its own.
          this.finishData(state)
          continue
        }
        if (full) {
          // Backpressure: go on once the file has taken it.
          state.sink!.once('drain', () => this.drain(done))
          return
        }
        continue
      }
      if (this.buffered.length < state.padding) return done()
      this.buffered = this.buffered.subarray(state.padding)
      if (state.remaining === 0 && state.sink && !state.sink.writableEnded) state.sink.end()
      this.state = {kind: 'header'}
    }
  }

  private finishData(state: {sink: Writable | undefined; meta?: 'L' | 'K' | 'x'; collected?: Buffer[]}): void {
    if (state.sink) state.sink.end()
    state.sink = undefined
    if (!state.meta) return
    const data = Buffer.concat(state.collected ?? [])
    if (state.meta === 'L') this.longName = cString(data)
    else if (state.meta === 'K') this.longLink = cString(data)
    else this.pax = {...this.pax, ...paxRecords(data)}
  }

  private header(block: Buffer): TarEntry | {meta: 'L' | 'K' | 'x'; size: number} | 'bad' {
    const stored = octal(block.subarray(148, 156))
    let sum = 0
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!
    if (sum !== stored) return 'bad'
    const typeflag = String.fromCharCode(block[156]!) || '0'
    const size = octal(block.subarray(124, 136))
    if (typeflag === 'L' || typeflag === 'K' || typeflag === 'x') return {meta: typeflag, size}
    // A global pax header ('g') applies to what follows: its records are kept like a per-entry one's.
    if (typeflag === 'g') return {meta: 'x', size}
    const ustar = block.subarray(257, 262).toString('latin1') === 'ustar'
    const prefix = ustar ? cString(block.subarray(345, 500)) : ''
    let path = this.pax.path ?? this.longName ?? (prefix ? `${prefix}/${cString(block.subarray(0, 100))}` : cString(block.subarray(0, 100)))
    const linkTarget = this.pax.linkpath ?? this.longLink ?? cString(block.subarray(157, 257))
    const mtime = this.pax.mtime ? Number(this.pax.mtime) : octal(block.subarray(136, 148))
    const realSize = this.pax.size ? Number(this.pax.size) : size
    this.longName = undefined
    this.longLink = undefined
    this.pax = {}
    const type: TarEntry['type'] = typeflag === '0' || typeflag === '\0' || typeflag === '7' ? 'file' : typeflag === '5' ? 'directory' : typeflag === '2' ? 'symlink' : 'other'
    if (type === 'directory') path = path.replace(/\/+$/, '')
    return {path, type, mode: octal(block.subarray(100, 108)) & 0o7777, mtime, size: type === 'file' ? realSize : 0, linkTarget}
  }
}

/** An entry's path inside `root`, or undefined when it would land outside it (absolute, or climbing with ..). */
export function safeJoin(root: string, entryPath: string): string | undefined {
  const relative = normalize(entryPath.replace(/^\/+/, '')).replace(/^(\.\/)+/, '')
  if (relative === '.' || relative === '') return root
  if (relative === '..' || relative.startsWith(`..${sep}`)) return undefined
  return join(root, relative)
}

export interface ExtractSummary {
  files: number
  directories: number
  symlinks: number
  bytes: number
  /** Entries not written: outside the destination, devices and FIFOs. */
  skipped: string[]
}

/**
 * Extracts a tar stream under `root`, modes and mtimes kept (directories' mtimes set last, as their files would
 * change them). Nothing is written outside `root`; symbolic links are written as links and never followed.
 */
export async function extractTar(source: NodeJS.ReadableStream, root: string): Promise<ExtractSummary> {
  const summary: ExtractSummary = {files: 0, directories: 0, symlinks: 0, bytes: 0, skipped: []}
  const directories: Array<{path: string; mode: number; mtime: number}> = []
  const pending: Array<Promise<void>> = []
  mkdirSync(root, {recursive: true})
  const parser = new TarParser((entry) => {
    const target = safeJoin(root, entry.path)
    if (!target || entry.type === 'other') {
      summary.skipped.push(entry.path)
      return undefined
    }
    if (entry.type === 'directory') {
      mkdirSync(target, {recursive: true})
      directories.push({path: target, mode: entry.mode, mtime: entry.mtime})
      summary.directories++
      return undefined
    }
    mkdirSync(dirname(target), {recursive: true})
    if (entry.type === 'symlink') {
      symlinkSync(entry.linkTarget, target)
      summary.symlinks++
      return undefined
    }
    summary.files++
    summary.bytes += entry.size
    const out = createWriteStream(target, {mode: 0o600})
    out.on('error', (error) => parser.destroy(error))
    pending.push(
      finished(out).then(() => {
        chmodSync(target, entry.mode)
        utimesSync(target, entry.mtime, entry.mtime)
      }),
    )
    return out
  })
  source.pipe(parser)
  await finished(parser)
  await Promise.all(pending)
  for (const d of directories.reverse()) {
    chmodSync(d.path, d.mode)
    utimesSync(d.path, d.mtime, d.mtime)
  }
  return summary
}
