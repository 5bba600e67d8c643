#!/usr/bin/env bash
# Start-up and one-shot attach, each against its baseline measured in the same run (hyperfine, medians).
# Usage: npm run bench   (or bash bench/run.sh [runs])
set -euo pipefail
# shellcheck source=prepare.sh
source "$(dirname "${BASH_SOURCE[0]}")/prepare.sh"
runs=${1:-30}
start_bench_target

hyperfine -N --warmup 5 --runs "$runs" --export-json "$out/startup.json" \
  -n 'node -e 0' 'node -e 0' \
  -n 'mindbg --version' './bin/run.js --version' \
  -n 'mindbg --help' './bin/run.js --help'

hyperfine -N --warmup 3 --runs "$runs" --export-json "$out/attach.json" \
  -n 'docker run --rm (baseline)' "docker run --rm --pid container:$target --network container:$target $MINDBG_IMAGE true" \
  -n 'mindbg attach -- true' "./bin/run.js attach $target -- true"

node bench/summarize.mjs "$out/startup.json" "$out/attach.json" | tee "$out/summary.md"
