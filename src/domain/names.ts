import {randomBytes} from 'node:crypto'
import {closeSync, openSync, readSync} from 'node:fs'

// kubectl's alphabet for generated names: no vowels (no accidental words), no look-alikes (0/o, 1/l).
const NAME_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789'

/** Five random characters, as kubectl uses for debugger names. */
export function randomSuffix(random: () => number = Math.random): string {
  return Array.from({length: 5}, () => NAME_ALPHABET[Math.floor(random() * NAME_ALPHABET.length)]).join('')
}

/**
 * 32 hex digits from the kernel's random source: a step server's marker token (src/session/steps.ts, serve.ts). Read
 * from /dev/urandom where there is one: node:crypto costs a repeated command ~10 ms of its start-up to load.
 */
export function randomToken(): string {
  const bytes = Buffer.alloc(16)
  try {
    const fd = openSync('/dev/urandom', 'r')
    try {
      if (readSync(fd, bytes, 0, 16, null) === 16) return bytes.toString('hex')
    } finally {
      closeSync(fd)
    }
  } catch {
    // no /dev/urandom here
  }
  return randomBytes(16).toString('hex')
}
