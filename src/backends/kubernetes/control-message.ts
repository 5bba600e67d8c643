/**
 * Takes one control message of a debugger's wrapper out of its output as it streams: `<prefix><value><end>`, where
 * the prefix holds the session's random id, so that nothing a command prints can be mistaken for it. Bytes that
 * could be the start of the message are held back until the next chunk tells, everything else passes at once.
 * The wrappers (./spec.ts) write each message in one go: the exit trailer (`mindbg-exit:ID:CODE\n`, the last
 * thing on stderr), the end of stdout (`mindbg-end:ID\n`, the last thing on stdout) and the request for mindbg-init (on stderr, or as an OSC sequence on a terminal).
 */
export class ControlMessage {
  private readonly prefix: Buffer
  private held: Buffer = Buffer.alloc(0)
  /** The message's value, once it went by. */
  value: string | undefined

  constructor(
    prefix: string,
    private readonly end: number,
    private readonly valuePattern: RegExp,
    private readonly maxValueLength: number,
  ) {
    this.prefix = Buffer.from(prefix, 'latin1')
  }

  /** Returns what to pass on now. */
  push(chunk: Buffer): Buffer {
    const data = this.held.length > 0 ? Buffer.concat([this.held, chunk]) : chunk
    this.held = Buffer.alloc(0)
    if (this.value !== undefined) return data
    const at = data.indexOf(this.prefix)
    if (at >= 0) {
      const end = data.indexOf(this.end, at + this.prefix.length)
      if (end < 0) {
        // The value may still be on its way.
        if (data.length - at <= this.prefix.length + this.maxValueLength) {
          this.held = data.subarray(at)
          return data.subarray(0, at)
        }
        return data
      }
      const value = data.subarray(at + this.prefix.length, end).toString('latin1')
      if (!this.valuePattern.test(value)) return data
      this.value = value
      return Buffer.concat([data.subarray(0, at), data.subarray(end + 1)])
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

  /** What was held back, at the stream's end or when nothing more came for a moment: then it was no message. */
  release(): Buffer {
    const rest = this.held
    this.held = Buffer.alloc(0)
    return rest
  }
}

/** A one-shot debugger's exit code, its last line on stderr (see REPORT_EXIT in ./spec.ts). */
export const exitTrailer = (prefix: string): ControlMessage => new ControlMessage(prefix, 0x0a, /^\d{1,3}$/, 3)

/** A wrapper's request for mindbg-init: an architecture, or "-" for none (see FETCH_INIT in ./spec.ts). */
export const initRequest = (prefix: string, end: number): ControlMessage => new ControlMessage(prefix, end, /^(-|[a-z0-9_]{1,16}(\+raw)?)$/, 20)

/** A one-shot debugger's last line on stdout (see outputEndMarker in ./spec.ts): all of its stdout came. */
export const outputEnd = (marker: string): ControlMessage => new ControlMessage(marker, 0x0a, /^$/, 0)

/** Filters in a row over one stream: what the first passes on goes through the second, and so on. */
export class ControlFilters {
  constructor(readonly filters: ControlMessage[]) {}

  push(chunk: Buffer): Buffer {
    return this.filters.reduce((data, f) => f.push(data), chunk)
  }

  get holding(): boolean {
    return this.filters.some((f) => f.holding)
  }

  /**
   * Everything held back, in stream order: a filter holds only the tail of what it was given, so what a later filter
   * holds came first. Released as it is: a partial message is no message.
   */
  release(): Buffer {
    return Buffer.concat(this.filters.toReversed().map((f) => f.release()))
  }
}
