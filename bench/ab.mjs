// Two builds of mindbg run alternately, N times each, the same arguments: medians and their ratio. Alternating
// makes both sides share whatever the noisy machine does meanwhile (hyperfine runs one command after the other).
// Usage: node bench/ab.mjs OLD_BIN NEW_BIN N ARGS...   (bench/versus.sh builds OLD_BIN from a revision)
import {spawnSync} from 'node:child_process'
const [a, b, n = 20, ...args] = process.argv.slice(2)
const t = {a: [], b: []}
for (let i = 0; i < Number(n); i++) for (const [k, bin] of [['a', a], ['b', b]]) {
  const s = process.hrtime.bigint(); const r = spawnSync(bin, args, {stdio: ['ignore', 'ignore', 'inherit']}); t[k].push(Number(process.hrtime.bigint() - s) / 1e6)
  if (r.status !== 0) console.error('status', r.status)
}
const med = (x) => x.sort((p, q) => p - q)[Math.floor(x.length / 2)]
console.log(`A median ${med(t.a).toFixed(1)} ms  B median ${med(t.b).toFixed(1)} ms  B/A ${(med(t.b) / med(t.a)).toFixed(3)}`)
console.log('A', t.a.map((x) => x.toFixed(0)).join(' ')); console.log('B', t.b.map((x) => x.toFixed(0)).join(' '))
