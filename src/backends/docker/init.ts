import {TAR_END, tarHeader, tarPadding} from '../../domain/tar.js'
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

/** A tar archive of one regular file owned by root. */
export function tarOf(name: string, data: Buffer, mode: number): Buffer {
  return Buffer.concat([tarHeader({path: name, type: 'file', mode, size: data.length}), data, tarPadding(data.length), TAR_END])
}
