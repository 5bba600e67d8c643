/**
 * Docker's multiplexed stream format (non-TTY attach/exec/logs): 8-byte frames [type, 0, 0, 0, size(uint32 BE)],
 * type 1 = stdout, 2 = stderr. A TTY stream is raw and must not go through this.
 */
export class Demuxer {
  private buf: Buffer = Buffer.alloc(0)
  private readonly onFrame: (stream: 1 | 2, data: Buffer) => void

  constructor(onFrame: (stream: 1 | 2, data: Buffer) => void) {
    this.onFrame = onFrame
  }

  push(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk])
    while (this.buf.length >= 8) {
      const size = this.buf.readUInt32BE(4)
      if (this.buf.length < 8 + size) return
      const type = this.buf[0] === 2 ? 2 : 1
      const data = this.buf.subarray(8, 8 + size)
      this.buf = this.buf.subarray(8 + size)
      if (data.length > 0) this.onFrame(type, data)
    }
  }
}
