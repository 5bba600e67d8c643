#!/usr/bin/env bash
# Issue 13's "repeated commands" target, every line in the same hyperfine run as its baseline (medians, ratios):
#   - baseline: a fresh `docker run --rm --pid/--network container:T busybox true`;
#   - `mindbg attach --session S -- true` into a debugger started once with `attach T --detach` (its step server);
#   - `docker exec S true` into the same debugger (what an exec per command costs);
#   - a fresh one-shot `mindbg attach T -- true`, for scale;
#   - a runbook of 1 `true` step and of 21, on one target: the marginal cost of a step is (t21 - t1) / 20.
# Usage: bash bench/repeat.sh [runs]   (npm run bench:repeat); raw JSON in bench/results/.
set -euo pipefail
# shellcheck source=prepare.sh
source "$(dirname "${BASH_SOURCE[0]}")/prepare.sh"
runs=${1:-20}
start_bench_target
export MINDBG_AUDIT_LOG=false
session=$(./bin/run.js attach "$target" --detach --ttl 30m -q)
trap './bin/run.js attach --session "$session" --end -q || true; docker rm -f "$target" >/dev/null 2>&1 || true' EXIT
./bin/run.js attach --session "$session" -- true </dev/null

books=$(mktemp -d)
steps() { printf 'name: repeat-%s\nsteps:\n' "$1"; for i in $(seq 1 "$1"); do printf '  - name: s%s\n    run: ["true"]\n' "$i"; done; }
steps 1 >"$books/one.yaml"
steps 21 >"$books/many.yaml"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

hyperfine -N --warmup 3 --runs "$runs" --export-json "$out/repeat.json" \
  -n 'docker run --rm (baseline)' "docker run --rm --pid container:$target --network container:$target $MINDBG_IMAGE true" \
  -n 'mindbg attach --session S -- true' "./bin/run.js attach --session $session -- true" \
  -n 'docker exec S true' "docker exec $session true" \
  -n 'mindbg attach T -- true (fresh)' "./bin/run.js attach $target -- true" \
  -n 'mindbg run, 1 true step' "./bin/run.js run $books/one.yaml $target -q" \
  -n 'mindbg run, 21 true steps' "./bin/run.js run $books/many.yaml $target -q"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
rm -rf "$books"

node bench/summarize.mjs "$out/repeat.json" | tee "$out/repeat.md"
node -e '
const {results} = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))
const m = (i) => results[i].median * 1000
console.log(`\nattach --session S -- true / docker run --rm: ${(m(1) / m(0)).toFixed(2)}x (target 0.5x); docker exec / docker run --rm: ${(m(2) / m(0)).toFixed(2)}x; one more runbook step: ${((m(5) - m(4)) / 20).toFixed(1)} ms (${((m(5) - m(4)) / 20 / m(0)).toFixed(3)}x)`)
' "$out/repeat.json" | tee -a "$out/repeat.md"
