// `mindbg --help` as oclif prints it where nothing changes its looks (stdout not a terminal: 80 columns, no
// colours), rendered once at build time into dist/help/root.txt: bin/run.js prints it without loading oclif (~70 ms
// less). The user agent in it (VERSION: name/version platform-arch node-version) is the one part that depends on
// the machine that runs it, so it is kept as a placeholder that bin/run.js fills in. test/e2e/startup.test.ts checks
// that both paths print the same bytes.
import {spawnSync} from 'node:child_process'
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'

const PLACEHOLDER = '\u0000user-agent\u0000'
const {name, version} = JSON.parse(readFileSync('package.json', 'utf8'))
const userAgent = `${name}/${version} ${process.platform}-${process.arch} node-${process.version}`
const env = {...process.env, MINDBG_HELP_CACHE: '0'}
for (const key of ['FORCE_COLOR', 'OCLIF_COLUMNS', 'NEXT_RUNTIME', 'pm_id']) delete env[key]
const r = spawnSync(process.execPath, ['bin/run.js', '--help'], {env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit']})
if (r.status !== 0) throw new Error(`build/help.mjs: mindbg --help exited ${r.status}`)
const parts = r.stdout.split(userAgent)
if (parts.length !== 2) throw new Error(`build/help.mjs: the help names the user agent ${parts.length - 1} times, not once`)
mkdirSync('dist/help', {recursive: true})
writeFileSync('dist/help/root.txt', parts.join(PLACEHOLDER))
