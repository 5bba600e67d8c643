import {createHash} from 'node:crypto'
import {createReadStream, createWriteStream, mkdirSync, mkdtempSync, type Dirent, readdirSync, readlinkSync, renameSync, rmSync, existsSync, lstatSync, writeFileSync, openSync, readSync, closeSync} from 'node:fs'
import os from 'node:os'
import {basename, dirname, join, resolve} from 'node:path'
import {PassThrough, Readable, Writable} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import {createGzip} from 'node:zlib'

import {firstLine, usageError} from '../domain/errors.js'
import {extractTar, TAR_END, tarHeader, tarPadding} from '../domain/tar.js'
import type {RunbookStep} from './runbook.js'
import type {StepSinks} from './steps.js'

/** One stream of a step as kept: where (relative to the bundle), how many bytes, their sha256. */
export interface KeptStream {
  file: string
  bytes: number
  sha256: string
}

/** What a step left: its two streams and, for a collect step, the files taken out of the target. */
export interface StepFiles {
  stdout: KeptStream
  stderr: KeptStream
  files?: {dir: string; files: number; directories: number; symlinks: number; bytes: number; skipped: string[]}
  /** The end of stderr, for a failed step's reason (not in the manifest). */
  stderrTail: string
  /** A collect step whose tar stream could not be read. */
  error?: string
}

/** Where a run puts each step's output. */
export interface StepOutputs {
  step(key: string, step: RunbookStep): StepOutput
}

export interface StepOutput {
  sinks: StepSinks
  /** Once the step has ended: everything written and closed. */
  close(): Promise<StepFiles>
}

const TAIL = 2048

/** A file sink that counts and hashes what goes through it, with backpressure, and keeps the last bytes. */
class Recorder extends Writable {
  readonly hash = createHash('sha256')
  bytes = 0
  tail = Buffer.alloc(0)
  private readonly out: Writable

  constructor(out: Writable) {
    super()
    this.out = out
  }

  override _write(chunk: Buffer, _e: BufferEncoding, done: (error?: Error | null) => void): void {
    this.hash.update(chunk)
    this.bytes += chunk.length
    this.tail = Buffer.concat([this.tail, chunk]).subarray(-TAIL)
    if (this.out.write(chunk)) done()
    else this.out.once('drain', () => done())
  }

  override _final(done: (error?: Error | null) => void): void {
    this.out.end(() => done())
  }

  kept(file: string): KeptStream {
    return {file, bytes: this.bytes, sha256: this.hash.digest('hex')}
  }
}

/**
 * The evidence bundle of a run, written into a staging directory next to where it goes (so that the last step is a
 * rename on one filesystem: a bundle never exists half-written under its final name). At the end it becomes PATH
 * (a directory), PATH as a .tar.gz, or, without --bundle, is read for its report and removed.
 */
export class Bundle implements StepOutputs {
  readonly staging: string

  private constructor(
    readonly destination: string | undefined,
    readonly gzip: boolean,
  ) {
    const parent = destination === undefined ? os.tmpdir() : dirname(destination)
    this.staging = mkdtempSync(join(parent, `.${destination === undefined ? 'mindbg-run' : basename(destination)}.partial-`))
  }

  /** Checks PATH before anything runs: its directory exists, and PATH itself does not (nothing is overwritten). */
  static open(destination: string | undefined): Bundle {
    if (destination === undefined) return new Bundle(undefined, false)
    const path = resolve(destination)
    if (existsSync(path)) throw usageError(`--bundle ${destination}: it exists already`, 'Give a new path: a bundle is never written over another.')
    if (!existsSync(dirname(path))) throw usageError(`--bundle ${destination}: no such directory ${dirname(path)}`, 'Create the directory first, or give another path.')
    try {
      return new Bundle(path, /\.t(ar\.)?gz$/.test(path))
    } catch (error) {
      throw usageError(`--bundle ${destination}: ${firstLine((error as Error).message)}`, 'Give a path in a directory you can write.')
    }
  }

  step(key: string, step: RunbookStep): StepOutput {
    const dir = join(this.staging, key)
    mkdirSync(dir, {recursive: true})
    const stdoutFile = `${key}/${step.name}.stdout`
    const stderrFile = `${key}/${step.name}.stderr`
    const stderr = new Recorder(createWriteStream(join(this.staging, stderrFile)))
    if (step.kind === 'run') {
      const stdout = new Recorder(createWriteStream(join(this.staging, stdoutFile)))
      return {
        sinks: {stdout, stderr},
        close: async () => {
          await Promise.all([endOf(stdout), endOf(stderr)])
          return {stdout: stdout.kept(stdoutFile), stderr: stderr.kept(stderrFile), stderrTail: stderr.tail.toString('utf8')}
        },
      }
    }
    // A collect step: the tar stream is extracted under TARGET/files/ at the path it has in the target, and kept.
    const tar = new PassThrough()
    const parent = step.path === '/' ? '' : dirname(step.path)
    const filesDir = `${key}/files${parent === '/' ? '' : parent}`
    const extracting = extractTar(tar, join(this.staging, filesDir)).then(
      (summary) => ({summary}),
      (error: unknown) => ({error: firstLine((error as Error).message)}),
    )
    const stdout = new Recorder(tar)
    return {
      sinks: {stdout, stderr},
      close: async () => {
        await Promise.all([endOf(stdout), endOf(stderr)])
        const extracted = await extracting
        const files: StepFiles = {stdout: {...stdout.kept(''), file: `${key}/files`}, stderr: stderr.kept(stderrFile), stderrTail: stderr.tail.toString('utf8')}
        // An empty stream is a step that failed before tar ran: its stderr says why.
        if ('summary' in extracted) files.files = {dir: `${key}/files`, ...extracted.summary}
        else if (stdout.bytes > 0) files.error = `the tar stream could not be read: ${extracted.error}`
        return files
      },
    }
  }

  /** The kept bytes of a file of the bundle, at most `limit`, and its whole size. */
  read(file: string, limit: number): {text: string; size: number} {
    const path = join(this.staging, file)
    const size = lstatSync(path).size
    const fd = openSync(path, 'r')
    try {
      const buffer = Buffer.alloc(Math.min(size, limit))
      readSync(fd, buffer, 0, buffer.length, 0)
      return {text: buffer.toString('utf8'), size}
    } finally {
      closeSync(fd)
    }
  }

  /** Writes the manifest and the report, then puts the bundle in place (or removes it: no --bundle). */
  async finish(manifest: unknown, report: string): Promise<void> {
    writeFileSync(join(this.staging, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`)
    writeFileSync(join(this.staging, 'report.md'), report)
    if (this.destination === undefined) return this.discard()
    if (!this.gzip) return renameSync(this.staging, this.destination)
    const partial = `${this.staging}.tar.gz`
    const top = basename(this.destination).replace(/\.t(ar\.)?gz$/, '')
    await pipeline(Readable.from(tarTree(this.staging, top)), createGzip(), createWriteStream(partial))
    renameSync(partial, this.destination)
    this.discard()
  }

  discard(): void {
    rmSync(this.staging, {recursive: true, force: true})
  }
}

function endOf(stream: Writable): Promise<void> {
  return new Promise((resolve) => {
    if (stream.writableFinished || stream.destroyed) return resolve()
    stream.once('finish', () => resolve())
    stream.once('close', () => resolve())
    stream.end()
  })
}

/** A tar stream of a directory tree, under `top/`, in name order; files are streamed, never read whole. */
async function* tarTree(root: string, top: string): AsyncGenerator<Buffer> {
  const walk = async function* (dir: string, prefix: string): AsyncGenerator<Buffer> {
    const entries = readdirSync(dir, {withFileTypes: true}).sort((a: Dirent, b: Dirent) => a.name.localeCompare(b.name))
    for (const entry of entries) {
      const path = join(dir, entry.name)
      const name = `${prefix}/${entry.name}`
      const stat = lstatSync(path)
      const mtime = stat.mtimeMs / 1000
      if (entry.isDirectory()) {
        yield tarHeader({path: name, type: 'directory', mode: stat.mode, mtime})
        yield* walk(path, name)
      } else if (entry.isSymbolicLink()) {
        yield tarHeader({path: name, type: 'symlink', mode: stat.mode, mtime, linkTarget: readlinkSync(path)})
      } else if (entry.isFile()) {
        yield tarHeader({path: name, type: 'file', mode: stat.mode, size: stat.size, mtime})
        let written = 0
        for await (const chunk of createReadStream(path)) {
          const bytes = (chunk as Buffer).subarray(0, stat.size - written)
          written += bytes.length
          yield bytes
        }
        // A file that shrank meanwhile still fills the size its header promised.
        if (written < stat.size) yield Buffer.alloc(stat.size - written)
        yield tarPadding(stat.size)
      }
    }
  }
  yield tarHeader({path: top, type: 'directory', mode: 0o755, mtime: Date.now() / 1000})
  yield* walk(root, top)
  yield TAR_END
}
