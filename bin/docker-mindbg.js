#!/usr/bin/env -S node --
// `docker mindbg ...`: a Docker CLI plugin, linked into ~/.docker/cli-plugins by `mindbg install docker-plugin`.
// docker asks every plugin for its metadata (`docker --help` asks them all): answered without loading oclif.
import './node-check.js'
import {readFileSync} from 'node:fs'

process.getBuiltinModule('node:module').enableCompileCache?.()
const argv = process.argv.slice(2)
if (argv.length === 1 && argv[0] === 'docker-cli-plugin-metadata') {
  const {dockerPluginMetadata} = await import('../dist/src/cli/plugins.js')
  process.stdout.write(dockerPluginMetadata(JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))))
} else {
  const {main} = await import('../dist/src/cli/main.js')
  await main(argv, import.meta.url, 'docker')
}
