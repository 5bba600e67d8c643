/**
 * Tar streams as the debugger's tar writes them (busybox's, GNU's in its gnu and pax formats), extracted by
 * src/session/tar.ts: every file, directory and link with its bytes, mode and mtime; long names; nothing written
 * outside the destination; a stream fed in any chunk size.
 */
import {execFileSync} from 'node:child_process'
import {createHash, randomBytes} from 'node:crypto'
import {existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, symlinkSync, chmodSync, utimesSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, relative} from 'node:path'
import {Readable} from 'node:stream'

import {describe, expect, it} from 'vitest'

import {tarOf} from '../../src/backends/docker/init.js'
import {extractTar, readTar} from '../../src/domain/tar.js'

const temp = (): string => mkdtempSync(join(tmpdir(), 'mindbg-tar-'))

/** A tree with what a collected /etc/app has: nesting, a long path, an empty file, a large one, modes, mtimes, links. */
function makeTree(): string {
  const root = temp()
  const long = join(root, 'a'.repeat(60), 'b'.repeat(60))
  mkdirSync(long, {recursive: true})
  writeFileSync(join(long, `${'c'.repeat(80)}.conf`), 'deep\n')
  mkdirSync(join(root, 'conf.d'))
  writeFileSync(join(root, 'conf.d', 'empty'), '')
  writeFileSync(join(root, 'big.bin'), randomBytes(3 * 1024 * 1024 + 17))
  writeFileSync(join(root, 'script.sh'), '#!/bin/sh\necho hi\n')
  chmodSync(join(root, 'script.sh'), 0o750)
  writeFileSync(join(root, 'secret'), 'x')
  chmodSync(join(root, 'secret'), 0o400)
  symlinkSync('conf.d/empty', join(root, 'link'))
  symlinkSync('/etc/passwd', join(root, 'absolute-link'))
  const past = new Date('2024-03-05T06:07:08Z')
  utimesSync(join(root, 'script.sh'), past, past)
  utimesSync(join(root, 'conf.d'), past, past)
  return root
}

/** path -> what matters of it, for comparing two trees. */
function describeTree(root: string): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name)
      const st = lstatSync(path)
      const key = relative(root, path)
      const mode = (st.mode & 0o7777).toString(8)
      const mtime = Math.floor(st.mtimeMs / 1000)
      if (st.isSymbolicLink()) out[key] = `link -> ${readlinkSync(path)}`
      else if (st.isDirectory()) {
        out[key] = `dir ${mode} ${mtime}`
        walk(path)
      } else out[key] = `file ${mode} ${mtime} ${st.size} ${createHash('sha256').update(readFileSync(path)).digest('hex').slice(0, 16)}`
    }
  }
  walk(root)
  return out
}

const TARS: Array<[string, (dir: string) => Buffer]> = [
  ['busybox tar', (dir) => execFileSync('/bin/busybox', ['tar', '-cf', '-', '-C', dir, '.'], {maxBuffer: 64 << 20})],
  ['GNU tar, gnu format', (dir) => execFileSync('tar', ['--format=gnu', '-cf', '-', '-C', dir, '.'], {maxBuffer: 64 << 20})],
  ['GNU tar, pax format', (dir) => execFileSync('tar', ['--format=pax', '-cf', '-', '-C', dir, '.'], {maxBuffer: 64 << 20})],
]

describe.each(TARS)('extracting what %s writes', (_name, create) => {
  it('gives the same tree: bytes, modes, mtimes, links, a 200-character path', async () => {
    const tree = makeTree()
    const archive = create(tree)
    const dest = join(temp(), 'out')
    const summary = await extractTar(Readable.from([archive]), dest)
    expect(describeTree(dest)).toEqual(describeTree(tree))
    expect(summary).toMatchObject({files: 5, symlinks: 2, skipped: []})
  })

  it('fed in small odd chunks (a stream as it comes off the network)', async () => {
    const tree = makeTree()
    const archive = create(tree)
    const chunks: Buffer[] = []
    for (let at = 0, n = 1; at < archive.length; at += n, n = (n * 7 + 3) % 1500 || 1) chunks.push(archive.subarray(at, at + n))
    const dest = join(temp(), 'out')
    await extractTar(Readable.from(chunks), dest)
    expect(describeTree(dest)).toEqual(describeTree(tree))
  })
})

describe('reading headers', () => {
  it("the old GNU format's bytes 345-500 (atime, ctime) are no path prefix, as ustar's are", () => {
    const dir = temp()
    writeFileSync(join(dir, 'f'), 'x')
    const archive = Buffer.from(execFileSync('tar', ['--format=gnu', '-cf', '-', '-C', dir, 'f']))
    expect(archive.subarray(257, 265).toString('latin1')).toBe('ustar  \0')
    // Fill the GNU atime field, then fix the checksum as tar would have written it.
    archive.write('14712345670\0', 345, 'latin1')
    archive.fill(0x20, 148, 156)
    const sum = archive.subarray(0, 512).reduce((a, b) => a + b, 0)
    archive.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1')
    expect(readTar(archive).map((e) => e.path)).toEqual(['f'])
  })

  it('a global pax header applies to every entry after it, a per-entry one to the next only', () => {
    const pax = (key: string, value: string): Buffer => {
      let record = ` ${key}=${value}\n`
      let length = record.length
      while (`${length}${record}`.length !== length) length = `${length}${record}`.length
      return Buffer.from(`${length}${record}`)
    }
    const meta = (type: string, data: Buffer): Buffer => {
      const block = tarOf('PaxHeader', data, 0o644)
      block.write(type, 156, 'latin1')
      block.fill(0x20, 148, 156)
      const sum = block.subarray(0, 512).reduce((a, b) => a + b, 0)
      block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1')
      return block.subarray(0, 512 + Math.ceil(data.length / 512) * 512)
    }
    const file = (name: string): Buffer => tarOf(name, Buffer.from(name), 0o644).subarray(0, 1024)
    const archive = Buffer.concat([meta('g', pax('mtime', '1000')), meta('x', pax('path', 'renamed')), file('a'), file('b'), Buffer.alloc(1024)])
    expect(readTar(archive).map((e) => [e.path, e.mtime, e.data.toString()])).toEqual([['renamed', 1000, 'a'], ['b', 1000, 'b']])
  })
})

describe('what is not extracted', () => {
  it('an entry that climbs out of the destination is skipped, not written', async () => {
    const base = temp()
    const dest = join(base, 'out')
    const evil = tarOf('../evil', Buffer.from('pwned'), 0o644)
    const summary = await extractTar(Readable.from([evil]), dest)
    expect(summary.skipped).toEqual(['../evil'])
    expect(existsSync(join(base, 'evil'))).toBe(false)
  })

  it('a truncated stream is an error', async () => {
    const tree = makeTree()
    const archive = TARS[0]![1](tree)
    await expect(extractTar(Readable.from([archive.subarray(0, 100_000)]), join(temp(), 'out'))).rejects.toThrow(/ended in the middle/)
  })

  it('bytes that are no tar stream are an error', async () => {
    await expect(extractTar(Readable.from([Buffer.alloc(1024, 0x41)]), join(temp(), 'out'))).rejects.toThrow(/not a tar stream/)
  })
})
