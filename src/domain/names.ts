// kubectl's alphabet for generated names: no vowels (no accidental words), no look-alikes (0/o, 1/l).
const NAME_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789'

/** Five random characters, as kubectl uses for debugger names. */
export function randomSuffix(random: () => number = Math.random): string {
  return Array.from({length: 5}, () => NAME_ALPHABET[Math.floor(random() * NAME_ALPHABET.length)]).join('')
}
