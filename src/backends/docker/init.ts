import {type InitArch, initBinary} from '../init.js'

/** Where mindbg-init (src/backends/init.c) is put into every sidecar, between create and start. */
export const INIT_PATH = '/.mindbg-init'

const archives = new Map<InitArch, Buffer | undefined>()

/** A tar archive holding INIT_PATH for `arch`, or undefined when this build has no binary for it. */
export function initArchive(arch: InitArch): Buffer | undefined {
  if (archives.has(arch)) return archives.get(arch)
  const binary = initBinary(arch)
  const archive = binary && tarOf(INIT_PATH.slice(1), binary, 0o755)
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
