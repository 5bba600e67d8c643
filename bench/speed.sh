#!/usr/bin/env bash
# Issue 13's targets, each against its baseline measured in the same hyperfine run (medians and their ratio):
#   - `mindbg --version` and `mindbg --help` against `node -e 0`;
#   - one-shot `mindbg attach T -- true` against `docker run --rm --pid/--network container:T busybox true` (Docker),
#     and against `podman run --rm ...` (Podman's service, when scripts/provision.sh has one).
# Usage: npm run bench:speed   (or bash bench/speed.sh [runs]); hyperfine -N --warmup 3; raw JSON in bench/results/.
set -euo pipefail
# shellcheck source=prepare.sh
source "$(dirname "${BASH_SOURCE[0]}")/prepare.sh"
runs=${1:-20}
start_bench_target
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

hyperfine -N --warmup 3 --runs "$runs" --export-json "$out/speed-startup.json" \
  -n 'node -e 0' 'node -e 0' \
  -n 'mindbg --version' './bin/run.js --version' \
  -n 'mindbg --help' './bin/run.js --help'

hyperfine -N --warmup 3 --runs "$runs" --export-json "$out/speed-docker.json" \
  -n 'docker run --rm (baseline)' "docker run --rm --pid container:$target --network container:$target $MINDBG_IMAGE true" \
  -n 'mindbg attach -- true' "./bin/run.js attach $target -- true"

files=("$out/speed-startup.json" "$out/speed-docker.json")


if [[ ${MINDBG_PODMAN_READY:-0} == 1 ]]; then
  # Podman's CLI needs the service's containers.conf on these VMs (its ulimits: scripts/provision.sh).
  export CONTAINERS_CONF=${CONTAINERS_CONF:-/var/lib/mindbg-podman/containers.conf}
  ptarget=mindbg-bench-web-podman
  DOCKER_HOST=$MINDBG_PODMAN_HOST docker rm -f "$ptarget" >/dev/null 2>&1 || true
  DOCKER_HOST=$MINDBG_PODMAN_HOST docker run -d --name "$ptarget" --network none mindbg-fixture/distroless-web:local >/dev/null
  trap 'docker rm -f "$target" >/dev/null 2>&1 || true; DOCKER_HOST=$MINDBG_PODMAN_HOST docker rm -f "$ptarget" >/dev/null 2>&1 || true' EXIT
  DOCKER_HOST=$MINDBG_PODMAN_HOST ./bin/run.js attach "$ptarget" -- true
  hyperfine -N --warmup 3 --runs "$runs" --export-json "$out/speed-podman.json" \
    -n 'podman run --rm (baseline)' "podman run --rm --pid container:$ptarget --network container:$ptarget $MINDBG_IMAGE true" \
    -n 'mindbg attach -- true (Podman)' "env DOCKER_HOST=$MINDBG_PODMAN_HOST ./bin/run.js attach $ptarget -- true"
  files+=("$out/speed-podman.json")
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

node bench/summarize.mjs "${files[@]}" | tee "$out/speed-summary.md"
