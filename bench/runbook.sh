#!/usr/bin/env bash
# The built-in triage runbook over 1 and over 20 Docker targets, in the same run (hyperfine, medians), and the peak
# RSS of mindbg during the 20-target run. Usage: bash bench/runbook.sh [runs]
set -euo pipefail
# shellcheck source=prepare.sh
source "$(dirname "${BASH_SOURCE[0]}")/prepare.sh"
runs=${1:-10}
export MINDBG_IMAGE=mindbg-fixture/busybox:local MINDBG_AUDIT_LOG=false
label=mindbg-bench-runbook=1
cleanup() { docker ps -aq --filter "label=$label" | xargs -r docker rm -f >/dev/null; }
cleanup
trap cleanup EXIT
for i in $(seq -w 1 20); do docker run -d --name "mindbg-bench-rb-$i" -l "$label" --network none mindbg-fixture/distroless-web:local >/dev/null; done
command -v /usr/bin/time >/dev/null || { echo "bench: needs GNU time (apt-get install time)" >&2; exit 1; }

# Warm the compile cache once, as any second invocation on a user's machine would have it.
./bin/run.js run triage mindbg-bench-rb-01 -q >/dev/null

hyperfine -N --warmup 2 --runs "$runs" --export-json "$out/runbook.json" \
  -n 'docker run --rm, 1 target, the same 10 checks (baseline)' "docker run --rm --pid container:mindbg-bench-rb-01 --network container:mindbg-bench-rb-01 $MINDBG_IMAGE sh -c 'ps; netstat -tuln; netstat -tun; cat /proc/1/status /proc/1/limits /proc/1/cgroup /proc/1/mounts; ls /proc/1/fd'" \
  -n 'mindbg run triage, 1 target' "./bin/run.js run triage mindbg-bench-rb-01 -q" \
  -n 'mindbg run triage, 20 targets' "./bin/run.js run triage -l $label -q" \
  -n 'mindbg run triage, 20 targets, --concurrency 20' "./bin/run.js run triage -l $label -q --concurrency 20" \
  -n 'mindbg run triage, 20 targets, --shared-debugger' "./bin/run.js run triage -l $label -q --shared-debugger" \
  -n 'mindbg run triage, 1 target, --shared-debugger' "./bin/run.js run triage mindbg-bench-rb-01 -q --shared-debugger" \
  -n 'docker run --rm true, 20 at once (the engine alone)' "sh -c 'for i in \$(seq -w 1 20); do docker run --rm --pid container:mindbg-bench-rb-\$i --network container:mindbg-bench-rb-\$i $MINDBG_IMAGE true & done; wait'" \
  -n 'docker run --rm true, 1 (the engine alone)' "docker run --rm --pid container:mindbg-bench-rb-01 --network container:mindbg-bench-rb-01 $MINDBG_IMAGE true"

rss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }
rss1=$(rss ./bin/run.js run triage mindbg-bench-rb-01 -q)
rss20=$(rss ./bin/run.js run triage -l "$label" -q)
rss20c=$(rss ./bin/run.js run triage -l "$label" -q --concurrency 20)
node bench/summarize.mjs "$out/runbook.json" | tee "$out/runbook.md"
printf '\npeak RSS (KB): 1 target %s, 20 targets %s, 20 targets at --concurrency 20 %s\n' "$rss1" "$rss20" "$rss20c" | tee -a "$out/runbook.md"
node -e '
const {results} = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))
const m = (i) => results[i].median
console.log(`20 targets / 1 target (medians): mindbg ${(m(2) / m(1)).toFixed(2)}x at --concurrency 8, ${(m(3) / m(1)).toFixed(2)}x at --concurrency 20, ${(m(4) / m(1)).toFixed(2)}x with --shared-debugger; the engine alone, 20 bare containers at once / 1: ${(m(6) / m(7)).toFixed(2)}x`)
' "$out/runbook.json" | tee -a "$out/runbook.md"
