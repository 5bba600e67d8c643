import {readFileSync} from 'node:fs'

/**
 * mindbg-init (init.c), the sidecar's first process: a child subreaper, so that nothing the session starts is left
 * as a zombie of the target's PID 1. It is static and needs nothing of the debug image; it runs natively on the
 * engine's CPU, so the binary is picked by the architecture of the image the sidecar runs (which the engine runs
 * natively, or through the same emulation for both). Sent into every sidecar between create and start.
 */
export const INIT_PATH = '/.mindbg-init'

export type InitArch = 'amd64' | 'arm64'

/** The init binary's architecture for an image platform ("linux/amd64", "linux/arm64/v8"), or undefined. */
export function initArch(platform: string | undefined): InitArch | undefined {
  const arch = platform?.split('/')[1]
  if (arch === 'amd64' || arch === 'x86_64') return 'amd64'
  if (arch === 'arm64' || arch === 'aarch64') return 'arm64'
  return undefined
}

const archives = new Map<InitArch, Buffer | undefined>()

/**
 * A tar archive holding INIT_PATH for `arch`, or undefined when this build has no binary for it. Looked for next to
 * the bundle (dist/init/) and next to this module as tsc writes it (dist/src/backends/docker/ -> dist/init/).
 */
export function initArchive(arch: InitArch): Buffer | undefined {
  if (archives.has(arch)) return archives.get(arch)
  let archive: Buffer | undefined
  for (const dir of ['./init/', '../../../init/']) {
    try {
      archive = tarOf(INIT_PATH.slice(1), readFileSync(new URL(`${dir}mindbg-init-${arch}`, import.meta.url)), 0o755)
      break
    } catch {
      // not there: the next place, or none
    }
  }
  archives.set(arch, archive)
  return archive
}

/** A ustar archive of one regular file owned by root: 512-byte header, the bytes padded to 512, two zero blocks. */
export function tarOf(name: string, data: Buffer, mode: number): Buffer {
  const header = Buffer.alloc(512)
  const field = (offset: number, width: number, value: string): void => void header.write(value, offset, width, 'latin1')
  const octal = (offset: number, width: number, value: number): void => field(offset, width, `${value.toString(8).padStart(width - 1, '0')}\0`)
  field(0, 100, name)
  octal(100, 8, mode)
  octal(108, 8, 0)
  octal(116, 8, 0)
  octal(124, 12, data.length)
  octal(136, 12, 0)
  field(148, 8, ' '.repeat(8))
  field(156, 1, '0')
  field(257, 8, 'ustar\u000000')
  let sum = 0
  for (const byte of header) sum += byte
  field(148, 8, `${sum.toString(8).padStart(6, '0')}\0 `)
  const padding = Buffer.alloc((512 - (data.length % 512)) % 512)
  return Buffer.concat([header, data, padding, Buffer.alloc(1024)])
}
