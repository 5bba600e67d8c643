// Turns hyperfine JSON exports into a Markdown table: median, mean ± stddev, and the ratio of medians against the
// first command of each file (the baseline of that run), or of the last command before it named "…: baseline" (a
// file of several pairs, bench/throughput.sh).
import {readFileSync} from 'node:fs'

const ms = (s) => (s * 1000).toFixed(1)
const lines = ['| command | median ms | mean ± σ ms | min–max ms | CPU ms (user + sys, mean) | ratio to baseline (medians) |', '|---|---|---|---|---|---|']
for (const file of process.argv.slice(2)) {
  const {results} = JSON.parse(readFileSync(file, 'utf8'))
  let base = results[0]
  for (const r of results) {
    if (r.command.endsWith(': baseline')) base = r
    const ratio = r === base ? 'baseline' : `${(r.median / base.median).toFixed(2)}x`
    lines.push(`| \`${r.command}\` | ${ms(r.median)} | ${ms(r.mean)} ± ${ms(r.stddev)} | ${ms(r.min)}–${ms(r.max)} | ${ms(r.user + r.system)} | ${ratio} |`)
  }
}
console.log(lines.join('\n'))
