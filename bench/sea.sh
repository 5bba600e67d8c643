#!/usr/bin/env bash
# The single executable (dist/sea/mindbg-linux-<cpu>) against `node bin/run.js`, each pair in the same run
# (hyperfine, medians): --version, --help, a one-shot attach. Also how long build/sea.mjs takes after the build.
# Usage: bash bench/sea.sh [runs]
set -euo pipefail
# shellcheck source=prepare.sh
source "$(dirname "${BASH_SOURCE[0]}")/prepare.sh"
runs=${1:-20}
start=$SECONDS
node build/sea.mjs
echo "build/sea.mjs: $((SECONDS - start)) s" | tee "$out/sea-build.txt"
sea=dist/sea/mindbg-linux-$(node -p process.arch)
ls -l dist/sea/mindbg-linux-* | tee "$out/sea-sizes.txt"

start_bench_target

for args in '--version' '--help' "attach $target -- true"; do
  name=${args%% *}
  hyperfine -N --warmup 3 --runs "$runs" --export-json "$out/sea-${name#--}.json" \
    -n "node bin/run.js $args" "./bin/run.js $args" \
    -n "single executable $args" "$sea $args"
done
node bench/summarize.mjs "$out"/sea-{version,help,attach}.json | tee "$out/sea-summary.md"
