/**
 * Splits Docker's multiplexed attach stream (non-TTY containers): frames of an 8-byte header, [stream, 0, 0, 0,
 * size as uint32 big-endian], then the payload. Chunks from the socket may cut frames anywhere.
 *
 * Payloads are passed on as views of the chunks they arrived in, a frame cut by a chunk's end as two pieces: output
 * is a byte stream, and gluing the pieces back together copied each chunk once or twice (the engine's frames are
 * 32 kB, the socket's chunks 64 kB, so nearly every chunk ends inside one), which was most of what a large transfer
 * left for the garbage collector. Only a header cut in two is copied (at most 8 bytes).
 */
export type StdStream = 'stdout' | 'stderr'

const HEADER = 8

export class StdDemuxer {
  private readonly header = Buffer.alloc(HEADER)
  /** Bytes of the current frame's header seen so far (HEADER: in its payload). */
  private headerBytes = 0
  private stream: StdStream = 'stdout'
  /** Bytes of the current frame's payload still to come. */
  private remaining = 0
  private payloadSeen = 0

  constructor(private readonly onFrame: (stream: StdStream, payload: Buffer) => void) {}

  push(chunk: Buffer): void {
    let at = 0
    while (at < chunk.length) {
      if (this.headerBytes < HEADER) {
        const take = Math.min(HEADER - this.headerBytes, chunk.length - at)
        chunk.copy(this.header, this.headerBytes, at, at + take)
        this.headerBytes += take
        at += take
        if (this.headerBytes < HEADER) return
        this.stream = this.header[0] === 2 ? 'stderr' : 'stdout'
        this.remaining = this.header.readUInt32BE(4)
        this.payloadSeen = 0
      }
      const take = Math.min(this.remaining, chunk.length - at)
      if (take > 0) this.onFrame(this.stream, chunk.subarray(at, at + take))
      at += take
      this.remaining -= take
      this.payloadSeen += take
      if (this.remaining === 0) this.headerBytes = 0
    }
  }

  /** Bytes of an unfinished frame (header and payload so far); non-zero at stream end means the engine cut the output short. */
  get pendingBytes(): number {
    return this.headerBytes === HEADER ? HEADER + this.payloadSeen : this.headerBytes
  }
}
