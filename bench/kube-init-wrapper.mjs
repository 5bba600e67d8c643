import {spawn} from 'node:child_process'
import {readFileSync} from 'node:fs'
// What mindbg-init costs inside a Kubernetes debugger, without any network: the one-shot wrapper run by busybox sh
// on this machine, once told to do without the init and once asking for it, receiving it and running `true` under
// it, alternately, 40 times each. Usage: node bench/kube-init-wrapper.mjs (after npm run build)
import {ONE_SHOT_WRAPPER, initAnswer, GO_AHEAD} from '../dist/src/backends/kubernetes/spec.js'
const bin = readFileSync(new URL(`../dist/init/mindbg-init-${process.arch === 'arm64' ? 'arm64' : 'amd64'}`, import.meta.url))
const once = (withInit) => new Promise((resolve) => {
  const t0 = process.hrtime.bigint()
  const env = {...process.env, MINDBG_SESSION: 'b', PATH: '/bin'}
  const child = spawn('/bin/busybox', ['sh', '-c', withInit ? ONE_SHOT_WRAPPER : ONE_SHOT_WRAPPER.replace('fetch_init yes', 'fetch_init no'), 'mindbg', 'true'], {env})
  let err = ''
  child.stderr.on('data', (d) => { err += d; if (/mindbg-init:b:(amd64|arm64)\n/.test(err) && !child.answered) { child.answered = true; child.stdin.write(initAnswer(bin)) } if (/mindbg-exit/.test(err)) child.stdin.end() })
  child.on('exit', () => resolve(Number(process.hrtime.bigint() - t0) / 1e6))
  child.stdin.write(GO_AHEAD)
})
const t = {a: [], b: []}
for (let i = 0; i < 40; i++) { t.a.push(await once(false)); t.b.push(await once(true)) }
const med = (x) => x.sort((p, q) => p - q)[20]
console.log(`wrapper without init ${med(t.a).toFixed(1)} ms, with init (ask, receive 2.7 KB, probe, run under it) ${med(t.b).toFixed(1)} ms`)
