/**
 * Splits Docker's multiplexed attach stream (non-TTY containers): frames of an 8-byte header, [stream, 0, 0, 0,
 * size as uint32 big-endian], then the payload. Chunks from the socket may cut frames anywhere.
 */
export type StdStream = 'stdout' | 'stderr'

export class StdDemuxer {
  private pending: Buffer = Buffer.alloc(0)

  constructor(private readonly onFrame: (stream: StdStream, payload: Buffer) => void) {}

  push(chunk: Buffer): void {
    let buf = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk
    while (buf.length >= 8) {
      const size = buf.readUInt32BE(4)
      if (buf.length < 8 + size) break
      const payload = buf.subarray(8, 8 + size)
      if (size > 0) this.onFrame(buf[0] === 2 ? 'stderr' : 'stdout', payload)
      buf = buf.subarray(8 + size)
    }
    this.pending = buf.length > 0 ? Buffer.from(buf) : Buffer.alloc(0)
  }

  /** Bytes of an unfinished frame; non-zero at stream end means the engine cut the output short. */
  get pendingBytes(): number {
    return this.pending.length
  }
}
