#!/usr/bin/env -S node --
// `kubectl mindbg ...`: kubectl finds this on PATH by its name and runs it with the words after `kubectl mindbg`.
// "--" in the line above keeps node from reading the user's flags as its own (node --env-file).
import './node-check.js'

process.getBuiltinModule('node:module').enableCompileCache?.()
const {main} = await import('../dist/src/cli/main.js')
await main(process.argv.slice(2), import.meta.url, 'kubectl')
