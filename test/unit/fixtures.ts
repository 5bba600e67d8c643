import {Writable} from 'node:stream'

import type {DebuggerRequest as SidecarRequest} from '../../src/domain/request.js'

/** A sidecar request with the defaults `mindbg attach web` would produce, for spec-builder tests. */
export const sidecarRequest = (over: Partial<SidecarRequest> = {}): SidecarRequest => ({
  image: 'busybox:1.37.0-musl',
  imageSource: 'default',
  siblingMappings: [],
  platform: undefined,
  pull: 'missing',
  profile: 'general',
  privileged: false,
  capAdd: [],
  user: undefined,
  env: [],
  workdir: undefined,
  name: undefined,
  chroot: false,
  writableVolumes: false,
  stopRestarts: false,
  shareVolumes: false,
  reason: undefined,
  command: [],
  custom: undefined,
  startTimeoutMs: 120_000,
  ...over,
})

/** A Writable that keeps what it was given. */
export class Collect extends Writable {
  chunks: Buffer[] = []
  override _write(chunk: Buffer, _e: BufferEncoding, cb: () => void): void {
    this.chunks.push(chunk)
    cb()
  }
  get text(): string {
    return Buffer.concat(this.chunks).toString('utf8')
  }
  get bytes(): Buffer {
    return Buffer.concat(this.chunks)
  }
}
