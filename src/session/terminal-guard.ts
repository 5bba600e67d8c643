import {Transform, type TransformCallback} from 'node:stream'

/**
 * What reaches the user's terminal from a debugger, with the sequences that can act on the terminal beyond drawing
 * on it taken out. A compromised target may write into the debugger's output (under `baseline` or `restricted` it
 * runs as the same user, so /proc/<pid>/fd/1 is open to it), and a terminal obeys what it is sent: set the
 * clipboard (OSC 52), send files or notifications (OSC 1337, 9, 777; APC), answer a query by typing into the shell
 * (title reports), pass anything through a multiplexer (DCS). Drawing stays as it is: text, UTF-8, colours, cursor
 * moves, modes, window titles (OSC 0/1/2), the reports a line editor asks for (cursor position, device attributes).
 *
 * Dropped: OSC other than 0/1/2 (and titles over 1 KB or holding controls), DCS, APC, PM, SOS, CSI ... t (window
 * operations, title reports among them), ENQ (answerback), and the C1 controls as UTF-8 characters (U+0080-U+009F,
 * which some terminals obey as ESC sequences). A streaming state machine: a sequence split across chunks is judged
 * as a whole.
 */
export class TerminalGuard extends Transform {
  private state: State = 'ground'
  /** The sequence being judged (CSI, the OSC number), kept until it is known to be harmless. */
  private pending: number[] = []
  private oscKeep = false

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    done(null, this.clean(chunk))
  }

  override _flush(done: TransformCallback): void {
    // An unfinished sequence at the very end is dropped, as a terminal would wait for more.
    done()
  }

  clean(chunk: Buffer): Buffer {
    const out: Buffer[] = []
    const bytes: number[] = []
    let runStart = -1
    const flushRun = (end: number): void => {
      if (runStart >= 0) {
        if (bytes.length > 0) out.push(Buffer.from(bytes.splice(0)))
        out.push(chunk.subarray(runStart, end))
        runStart = -1
      }
    }
    const emit = (...b: number[]): void => {
      flushRun(i)
      bytes.push(...b)
    }
    let i = 0
    for (; i < chunk.length; i++) {
      const b = chunk[i]!
      switch (this.state) {
        case 'ground':
          if (b === ESC) {
            flushRun(i)
            this.state = 'esc'
          } else if (b === ENQ) {
            flushRun(i)
          } else if (b === 0xc2) {
            flushRun(i)
            this.state = 'c2'
          } else if (runStart < 0) {
            if (bytes.length > 0) out.push(Buffer.from(bytes.splice(0)))
            runStart = i
          }
          break
        case 'c2':
          // U+0080-U+009F as UTF-8: dropped; any other character after C2 is ordinary text.
          this.state = 'ground'
          if (b >= 0x80 && b <= 0x9f) break
          emit(0xc2)
          i--
          break
        case 'esc':
          this.afterEsc(b, emit)
          break
        case 'csi':
          this.pending.push(b)
          if (b >= 0x40 && b <= 0x7e) {
            // The final byte: window operations (t) are dropped, everything else drawn as sent.
            if (b !== 0x74) emit(ESC, 0x5b, ...this.pending)
            this.pending = []
            this.state = 'ground'
          } else if (b < 0x20 || this.pending.length > MAX_CSI) {
            this.pending = []
            this.state = b === ESC ? 'esc' : 'ground'
          }
          break
        case 'oscNumber':
          if (b >= 0x30 && b <= 0x39 && this.pending.length < 8) {
            this.pending.push(b)
            break
          }
          this.oscKeep = b === SEMICOLON && this.pending.length === 1 && this.pending[0]! >= 0x30 && this.pending[0]! <= 0x32
          if (this.oscKeep) {
            this.pending.push(b)
            this.state = 'oscBody'
          } else {
            this.pending = []
            this.state = 'stringDrop'
            i--
          }
          break
        case 'oscBody':
          if (b === BEL || b === ESC) {
            if (this.oscKeep) emit(ESC, 0x5d, ...this.pending, BEL)
            this.pending = []
            this.state = b === ESC ? 'stringEsc' : 'ground'
          } else if (b < 0x20 || this.pending.length > MAX_TITLE) {
            this.pending = []
            this.state = 'stringDrop'
          } else {
            this.pending.push(b)
          }
          break
        case 'stringDrop':
          if (b === BEL) this.state = 'ground'
          else if (b === ESC) this.state = 'stringEsc'
          else if (b === CAN || b === SUB) this.state = 'ground'
          break
        case 'stringEsc':
          // ESC \ ends the string; ESC and anything else ends it too and starts a new sequence.
          if (b === 0x5c) this.state = 'ground'
          else this.afterEsc(b, emit)
          break
      }
    }
    flushRun(i)
    if (bytes.length > 0) out.push(Buffer.from(bytes))
    return out.length === 1 ? out[0]! : Buffer.concat(out)
  }

  private afterEsc(b: number, emit: (...b: number[]) => void): void {
    this.pending = []
    if (b === 0x5b) this.state = 'csi'
    else if (b === 0x5d) this.state = 'oscNumber'
    else if (b === 0x50 || b === 0x5f || b === 0x5e || b === 0x58) this.state = 'stringDrop' // DCS, APC, PM, SOS
    else if (b === ESC) this.state = 'esc'
    else if (b === 0x5c) this.state = 'ground' // a string terminator with no string: nothing to draw
    else {
      // Two-character sequences (save/restore cursor, keypad modes, charsets, reset) draw only.
      emit(ESC, b)
      this.state = 'ground'
    }
  }
}

type State = 'ground' | 'c2' | 'esc' | 'csi' | 'oscNumber' | 'oscBody' | 'stringDrop' | 'stringEsc'

const ESC = 0x1b
const BEL = 0x07
const ENQ = 0x05
const CAN = 0x18
const SUB = 0x1a
const SEMICOLON = 0x3b
const MAX_CSI = 64
const MAX_TITLE = 1024
