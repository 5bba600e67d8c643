import {createHash} from 'node:crypto'
import {readFileSync} from 'node:fs'

/** A bundle's content, as the code-cache facade keys its cache with it (build/code-cache-loader.mjs). */
export const contentHash = (file) => createHash('sha256').update(readFileSync(file)).digest('hex').slice(0, 16)
