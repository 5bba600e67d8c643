import {chmodSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync} from 'node:fs'
import {homedir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {embeddedFile, insideSingleExecutable} from './sea.js'

/**
 * mindbg-init (./init.c): the first process of every debugger, a child subreaper, so that nothing a session starts
 * is left as a zombie of the target's PID 1 (the debugger shares the target's PID namespace, and a distroless
 * application reaps nothing). Static and libc-free: it needs nothing of the debug image. The Docker backend copies
 * it into the sidecar before the start; a Kubernetes debugger (which cannot be given a file) asks for it on its
 * session stream. build/init.mjs compiles it into dist/init/.
 */
export type InitArch = 'amd64' | 'arm64'

/** The init binary's architecture for an image platform ("linux/amd64", "linux/arm64/v8") or `uname -m`, or undefined. */
export function initArch(platformOrMachine: string | undefined): InitArch | undefined {
  const parts = platformOrMachine?.split('/') ?? []
  const arch = parts.length > 1 ? parts[1] : parts[0]
  if (arch === 'amd64' || arch === 'x86_64') return 'amd64'
  if (arch === 'arm64' || arch === 'aarch64') return 'arm64'
  return undefined
}

const binaries = new Map<InitArch, Buffer | undefined>()
/** Where each binary was read from (a directory URL), outside the single executable. */
const foundIn = new Map<InitArch, URL>()

/**
 * The binary for `arch`, or undefined when this build has none. Looked for next to the bundle (dist/init/) and next
 * to this module as tsc writes it (dist/src/backends/ -> dist/init/); in the single executable, among its assets.
 */
export function initBinary(arch: InitArch): Buffer | undefined {
  if (binaries.has(arch)) return binaries.get(arch)
  let binary = embeddedFile(`mindbg-init-${arch}`)
  for (const dir of insideSingleExecutable ? [] : ['./init/', '../../init/']) {
    try {
      binary = readFileSync(new URL(`${dir}mindbg-init-${arch}`, import.meta.url))
      foundIn.set(arch, new URL(dir, import.meta.url))
      break
    } catch {
      // not there: the next place, or none
    }
  }
  binaries.set(arch, binary)
  return binary
}

/**
 * The binary for `arch` as a file of this machine whose name holds its content's hash (build/init.mjs writes
 * dist/init/by-hash/), for a local engine to bind-mount into a sidecar instead of copying it in (the copy makes
 * Docker mount the container and re-execute itself to untar: ~70-150 ms of every session). Content-addressed, so
 * that an engine which sees another filesystem under the same path (a socket passed into a container) finds no
 * file there, or one with these very bytes, never another build's init. Undefined in the single executable (its
 * init is an asset, not a file) and when the file is missing.
 */
export function initHostPath(arch: InitArch): string | undefined {
  const binary = initBinary(arch)
  if (!binary) return undefined
  if (insideSingleExecutable) return writtenOut(arch, binary)
  const dir = foundIn.get(arch)
  if (!dir) return undefined
  // By name and then by content, rather than hashed here: node:crypto alone takes ~5-30 ms to load.
  try {
    const byHash = new URL('by-hash/', dir)
    const name = readdirSync(byHash).find((f) => f.startsWith(`mindbg-init-${arch}-`))
    const path = name && fileURLToPath(new URL(name, byHash))
    return path && readFileSync(path).equals(binary) ? path : undefined
  } catch {
    return undefined
  }
}

/**
 * The single executable's init as a file: written once into the user's cache directory under the content-addressed
 * name build/sea.mjs recorded, checked against the embedded bytes at every use (rewritten if they differ).
 */
function writtenOut(arch: InitArch, binary: Buffer): string | undefined {
  try {
    const name = (JSON.parse(embeddedFile('init-names.json')?.toString('utf8') ?? '{}') as Partial<Record<InitArch, string>>)[arch]
    if (!name) return undefined
    const dir = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'mindbg', 'init')
    const path = join(dir, name)
    try {
      if (readFileSync(path).equals(binary)) return path
    } catch {
      // not written yet
    }
    mkdirSync(dir, {recursive: true})
    const partial = `${path}.${process.pid}`
    writeFileSync(partial, binary, {mode: 0o755})
    chmodSync(partial, 0o755)
    renameSync(partial, path)
    return path
  } catch {
    return undefined // no cache directory to write to: the init is copied in
  }
}
