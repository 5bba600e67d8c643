import {createWriteStream, mkdirSync, symlinkSync, utimesSync, chmodSync} from 'node:fs'
import {dirname, join, normalize, sep} from 'node:path'
import {Writable} from 'node:stream'
import {finished} from 'node:stream/promises'

import {MindbgError} from './errors.js'

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

/** A NUL-terminated string field. */
function field(block: Buffer, offset: number, length: number): string {
  const raw = block.subarray(offset, offset + length)
  const end = raw.indexOf(0)
  return raw.subarray(0, end < 0 ? raw.length : end).toString('utf8')
}

const tarError = (what: string): MindbgError => new MindbgError('internal', `not a tar stream (${what})`)

/** A numeric field: octal ASCII (NUL/space padded), or GNU base-256 when the high bit of the first byte is set. */
function numeric(block: Buffer, offset: number, length: number): number {
  const raw = block.subarray(offset, offset + length)
  if (raw[0]! & 0x80) {
    if (raw[0] === 0xff) throw tarError('a negative base-256 number')
    let value = raw[0]! & 0x7f
    for (let i = 1; i < raw.length; i++) value = value * 256 + raw[i]!
    if (!Number.isSafeInteger(value)) throw tarError('a number too large')
    return value
  }
  const text = raw.toString('latin1').replace(/[\0 ]+$/, '').replace(/^[\0 ]+/, '')
  if (text === '') return 0
  if (!/^[0-7]+$/.test(text)) throw tarError(`a bad octal number ${JSON.stringify(text)}`)
  return Number.parseInt(text, 8)
}

/** pax extended header records: "<len> <key>=<value>\n", where <len> counts the bytes of the whole record. */
function paxRecords(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {}
  let at = 0
  while (at < data.length) {
    const space = data.indexOf(0x20, at)
    if (space < 0) break
    const length = Number(data.subarray(at, space).toString('latin1'))
    if (!Number.isInteger(length) || length <= 0 || at + length > data.length) throw tarError('a bad pax record')
    const record = data.subarray(space + 1, at + length - 1).toString('utf8')
    const eq = record.indexOf('=')
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1)
    at += length
  }
  return out
}

type MetaKind = 'L' | 'K' | 'x' | 'g'
type Header = TarEntry | {meta: MetaKind; size: number}

/**
 * How the headers of an archive are read, one after another: long names and pax records apply to the entry that
 * follows them (a global pax header to all that follow). Shared by the streaming parser and readTar.
 */
class HeaderReader {
  private longName: string | undefined
  private longLink: string | undefined
  private pax: Record<string, string> = {}
  private globalPax: Record<string, string> = {}

  /** A header block: an entry, or a meta entry whose data goes to meta() once whole. Throws on a bad block. */
  read(block: Buffer): Header {
    let sum = 0
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!
    if (sum !== numeric(block, 148, 8)) throw tarError('bad header checksum')
    const typeflag = block[156] === 0 ? '0' : String.fromCharCode(block[156]!)
    if (typeflag === 'L' || typeflag === 'K' || typeflag === 'x' || typeflag === 'g') return {meta: typeflag, size: numeric(block, 124, 12)}
    const overrides = {...this.globalPax, ...this.pax}
    // ustar ("ustar\0" "00") has a prefix field; the old GNU format ("ustar  \0") uses those bytes for other things.
    const prefix = block.subarray(257, 263).toString('latin1') === 'ustar\0' ? field(block, 345, 155) : ''
    const headerPath = prefix ? `${prefix}/${field(block, 0, 100)}` : field(block, 0, 100)
    const type: TarEntry['type'] = typeflag === '0' || typeflag === '7' ? 'file' : typeflag === '5' ? 'directory' : typeflag === '2' ? 'symlink' : 'other'
    const path = overrides.path ?? this.longName ?? headerPath
    const entry: TarEntry = {
      path: type === 'directory' ? path.replace(/\/+$/, '') : path,
      type,
      mode: numeric(block, 100, 8) & 0o7777,
      mtime: overrides.mtime !== undefined ? Number(overrides.mtime) : numeric(block, 136, 12),
      size: overrides.size !== undefined ? Number(overrides.size) : numeric(block, 124, 12),
      linkTarget: overrides.linkpath ?? this.longLink ?? field(block, 157, 100),
    }
    this.longName = undefined
    this.longLink = undefined
    this.pax = {}
    return entry
  }

  meta(kind: MetaKind, data: Buffer): void {
    if (kind === 'L') this.longName = field(data, 0, data.length)
    else if (kind === 'K') this.longLink = field(data, 0, data.length)
    else if (kind === 'x') this.pax = paxRecords(data)
    else this.globalPax = {...this.globalPax, ...paxRecords(data)}
  }
}

/** The bytes that follow a header: a file's, an unknown type's (skipped), a meta entry's; links and directories none. */
const dataBytes = (header: Header): number => ('meta' in header || header.type === 'file' || header.type === 'other' ? header.size : 0)
const padded = (size: number): number => Math.ceil(size / BLOCK) * BLOCK

/** Every entry of a whole archive in memory, with its data (long names and pax records applied). */
export function readTar(archive: Buffer): Array<TarEntry & {data: Buffer}> {
  const headers = new HeaderReader()
  const entries: Array<TarEntry & {data: Buffer}> = []
  let at = 0
  while (at + BLOCK <= archive.length) {
    const block = archive.subarray(at, at + BLOCK)
    if (block.every((b) => b === 0)) break
    const header = headers.read(block)
    const size = dataBytes(header)
    if (at + BLOCK + size > archive.length) throw new MindbgError('internal', `the tar stream ended in the middle of an entry (at offset ${at})`)
    const data = archive.subarray(at + BLOCK, at + BLOCK + size)
    at += BLOCK + padded(size)
    if ('meta' in header) headers.meta(header.meta, data)
    else entries.push({...header, data})
  }
  return entries
}

/**
 * A Writable that parses a tar stream and hands each entry to `onEntry` with a sink for its bytes (a Writable, or
 * undefined to skip them). Ends at the first zero block (or the stream's end); a truncated archive is an error.
 */
export class TarParser extends Writable {
  private buffered: Buffer = Buffer.alloc(0)
  private state: {kind: 'header'} | {kind: 'data'; remaining: number; padding: number; sink: Writable | undefined; meta?: MetaKind; collected?: Buffer[]} = {kind: 'header'}
  private readonly headers = new HeaderReader()
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
        const block = this.buffered.subarray(0, BLOCK)
        this.buffered = this.buffered.subarray(BLOCK)
        if (block.every((b) => b === 0)) {
          this.ended = true
          continue
        }
        let header: Header
        let sink: Writable | undefined
        try {
          header = this.headers.read(block)
          sink = 'meta' in header ? undefined : this.onEntry(header)
        } catch (error) {
          return done(error as Error)
        }
        const size = dataBytes(header)
        if (sink && size === 0) sink.end()
        this.state = {kind: 'data', remaining: size, padding: padded(size) - size, sink: size > 0 ? sink : undefined, ...('meta' in header ? {meta: header.meta, collected: []} : {})}
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
      this.state = {kind: 'header'}
    }
  }

  private finishData(state: {sink: Writable | undefined; meta?: MetaKind; collected?: Buffer[]}): void {
    state.sink?.end()
    state.sink = undefined
    if (state.meta) this.headers.meta(state.meta, Buffer.concat(state.collected ?? []))
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

/** What `tarHeader` writes: a regular file, a directory or a symbolic link. */
export interface TarHeaderFields {
  path: string
  type: 'file' | 'directory' | 'symlink'
  mode: number
  size?: number
  mtime?: number
  linkTarget?: string
}

/**
 * The header block(s) of one entry: ustar, owned by root, with a pax header in front when the path or the link
 * target is too long for ustar's 100 bytes (every reader that matters reads pax).
 */
export function tarHeader(fields: TarHeaderFields): Buffer {
  const name = fields.type === 'directory' && !fields.path.endsWith('/') ? `${fields.path}/` : fields.path
  const link = fields.linkTarget ?? ''
  const long = Buffer.byteLength(name) > 100 || Buffer.byteLength(link) > 100
  const pax = long ? paxHeader({path: name, ...(link ? {linkpath: link} : {})}) : Buffer.alloc(0)
  const block = ustarBlock(long ? name.slice(-99).replace(/^\/+/, '') : name, fields.type === 'file' ? '0' : fields.type === 'directory' ? '5' : '2', fields.mode, fields.size ?? 0, fields.mtime ?? 0, link.slice(0, 100))
  return Buffer.concat([pax, block])
}

/** Zero bytes up to the next 512-byte boundary after `size` bytes of data. */
export const tarPadding = (size: number): Buffer => Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK)
/** The end of an archive: two zero blocks. */
export const TAR_END = Buffer.alloc(2 * BLOCK)

function paxHeader(records: Record<string, string>): Buffer {
  const body = Buffer.concat(
    Object.entries(records).map(([key, value]) => {
      // "LEN key=value\n", LEN counting itself.
      const rest = ` ${key}=${value}\n`
      let length = Buffer.byteLength(rest) + 1
      while (String(length).length + Buffer.byteLength(rest) !== length) length++
      return Buffer.from(`${length}${rest}`)
    }),
  )
  return Buffer.concat([ustarBlock('PaxHeader', 'x', 0o644, body.length, 0, ''), body, tarPadding(body.length)])
}

function ustarBlock(name: string, type: string, mode: number, size: number, mtime: number, link: string): Buffer {
  const header = Buffer.alloc(BLOCK)
  const field = (offset: number, width: number, value: string): void => void header.write(value, offset, width, 'utf8')
  const octal = (offset: number, width: number, value: number): void => field(offset, width, `${value.toString(8).padStart(width - 1, '0')}\0`)
  field(0, 100, name)
  octal(100, 8, mode & 0o7777)
  octal(108, 8, 0)
  octal(116, 8, 0)
  octal(124, 12, size)
  octal(136, 12, Math.max(0, Math.floor(mtime)))
  field(148, 8, ' '.repeat(8))
  field(156, 1, type)
  field(157, 100, link)
  field(257, 8, 'ustar\u000000')
  let sum = 0
  for (const byte of header) sum += byte
  field(148, 8, `${sum.toString(8).padStart(6, '0')}\0 `)
  return header
}
