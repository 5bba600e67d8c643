/**
 * Takes the exit-code trailer (`<prefix><code>\n`, see kube-spec's REPORT_EXIT) out of a debugger's stderr as it
 * streams: bytes that could be the start of the trailer are held back until the next chunk tells, everything else
 * passes at once. The trailer is the last thing the wrapper writes, after its command has exited.
 */
export class ExitTrailer {
  private readonly prefix: Buffer
  private held: Buffer = Buffer.alloc(0)
  /** The exit code the debugger reported, once its trailer went by. */
  exitCode: number | undefined

  constructor(prefix: string) {
    this.prefix = Buffer.from(prefix)
  }

  /** Returns what to write to stderr now. */
  push(chunk: Buffer): Buffer {
    const data = this.held.length > 0 ? Buffer.concat([this.held, chunk]) : chunk
    this.held = Buffer.alloc(0)
    if (this.exitCode !== undefined) return data
    const at = data.indexOf(this.prefix)
    if (at >= 0) {
      const newline = data.indexOf(0x0a, at + this.prefix.length)
      if (newline < 0) {
        // The trailer's digits may still be on their way.
        if (data.length - at <= this.prefix.length + 3) {
          this.held = data.subarray(at)
          return data.subarray(0, at)
        }
        return data
      }
      const code = data.subarray(at + this.prefix.length, newline).toString('latin1')
      if (!/^\d{1,3}$/.test(code)) return data
      this.exitCode = Number(code)
      return Buffer.concat([data.subarray(0, at), data.subarray(newline + 1)])
    }
    for (let n = Math.min(this.prefix.length - 1, data.length); n > 0; n--) {
      if (data.subarray(data.length - n).equals(this.prefix.subarray(0, n))) {
        this.held = data.subarray(data.length - n)
        return data.subarray(0, data.length - n)
      }
    }
    return data
  }

  /** Bytes held back, if any: a stderr prompt ending in "m" must not wait for more output to show. */
  get holding(): boolean {
    return this.held.length > 0
  }

  /**
   * What was held back, at the stream's end or when nothing more came for a moment: then it was not a trailer
   * (the wrapper writes its trailer in one go).
   */
  release(): Buffer {
    const rest = this.held
    this.held = Buffer.alloc(0)
    return rest
  }
}
