// Preloaded with --import: records every module URL the process resolves (ESM and CommonJS alike) into the file
// named by MINDBG_TRACE_FILE when the process exits.
import {writeFileSync} from 'node:fs'
import {registerHooks} from 'node:module'

const seen = new Set()
registerHooks({
  resolve(specifier, context, nextResolve) {
    const result = nextResolve(specifier, context)
    seen.add(result.url)
    return result
  },
})
process.on('exit', () => writeFileSync(process.env.MINDBG_TRACE_FILE, [...seen].join('\n')))
