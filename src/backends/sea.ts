import {getAsset, isSea} from 'node:sea'

/**
 * mindbg as a single executable (Node's single executable applications, built by build/sea.mjs): one file with
 * Node inside and no file system of its own. What an installed mindbg reads from dist/ comes from the executable's
 * assets instead, and what it starts as `node dist/reaper.js` is the executable again, told by the environment.
 */
export const insideSingleExecutable = isSea()

/** Set in the environment of the executable started as a reaper: "1" Docker's, "kubernetes" for owned pods (src/cli/single-executable.ts). */
export const REAPER_ROLE_ENV = 'MINDBG_SEA_REAPER'

/** One of the files build/sea.mjs embedded, by name; undefined outside the executable or when it has none. */
export function embeddedFile(name: string): Buffer | undefined {
  if (!insideSingleExecutable) return undefined
  try {
    return Buffer.from(getAsset(name))
  } catch {
    return undefined // not embedded: this build has none
  }
}
