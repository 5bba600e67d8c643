import {readFileSync} from 'node:fs'

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
      break
    } catch {
      // not there: the next place, or none
    }
  }
  binaries.set(arch, binary)
  return binary
}
