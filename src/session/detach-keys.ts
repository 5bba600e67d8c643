import {usageError} from '../domain/errors.js'

export const DEFAULT_DETACH_KEYS = 'ctrl-p,ctrl-q'

/**
 * Parses Docker's detach-key syntax: comma-separated keys, each a single character or "ctrl-<c>" where c is a
 * letter or one of @[\]^_ . Returns the byte sequence a terminal sends for them.
 */
export function parseDetachKeys(spec: string): number[] {
  if (!spec.trim()) throw usageError('empty --detach-keys', `Use a sequence such as "${DEFAULT_DETACH_KEYS}".`)
  return spec.split(',').map((key) => {
    const k = key.trim()
    if (k.length === 1) return k.charCodeAt(0)
    const ctrl = /^ctrl-(.)$/i.exec(k)
    if (ctrl) {
      const c = ctrl[1]!.toLowerCase()
      if (c >= 'a' && c <= 'z') return c.charCodeAt(0) - 96
      const special = '@[\\]^_'.indexOf(c)
      if (special >= 0) return special === 0 ? 0 : 27 + special - 1
    }
    throw usageError(`bad --detach-keys key "${k}"`, 'Keys are single characters or ctrl-<letter>, comma-separated, e.g. "ctrl-p,ctrl-q".')
  })
}

/**
 * Watches keyboard input for the detach sequence. Bytes that might start the sequence are held back until it is
 * clear whether they complete it, so the shell never sees a finished detach sequence (the way docker attach behaves).
 */
export class DetachKeyMatcher {
  private matched = 0

  constructor(private readonly sequence: readonly number[]) {}

  /** Returns the bytes to forward and whether the sequence was completed (bytes after it are dropped). */
  push(chunk: Uint8Array): {forward: Buffer; detach: boolean} {
    const out: number[] = []
    for (const byte of chunk) {
      if (byte === this.sequence[this.matched]) {
        this.matched++
        if (this.matched === this.sequence.length) {
          this.matched = 0
          return {forward: Buffer.from(out), detach: true}
        }
        continue
      }
      // Not the next key: release what was held back, then reconsider this byte as a possible first key.
      out.push(...this.sequence.slice(0, this.matched))
      this.matched = 0
      if (byte === this.sequence[0]) this.matched = 1
      else out.push(byte)
    }
    return {forward: Buffer.from(out), detach: false}
  }
}
