#!/usr/bin/env bash
# The whole test suite on a fresh machine: provisions Node >= 22.19, the Docker engine, Podman's service and the fixture
# images, builds, then runs every unit and end-to-end test, the Docker backend's a second time against Podman
# (vitest.config.ts). Extra arguments go to vitest, e.g. a file name or --project docker.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=provision.sh
source scripts/provision.sh
if [[ ${MINDBG_DOCKER_READY:-0} != 1 ]]; then
  echo "test: no Docker engine or fixture images (see provision messages above); the end-to-end tests will fail." >&2
fi
if [[ ${MINDBG_PODMAN_READY:-0} != 1 ]]; then
  echo "test: no Podman service (see provision messages above); the podman project fails in CI and is left out elsewhere." >&2
fi
# build:sea also builds the single executables (dist/sea/) that test/e2e/sea.test.ts runs.
npm run --silent build:sea
# With arguments (a file, a project): one vitest, as asked.
if [[ $# -gt 0 ]]; then exec npx vitest run "$@"; fi
# The whole suite in two lanes at once, each one file at a time (the end-to-end files of a lane share an engine):
#   1. the unit files and the Docker engine's end-to-end files, but for those against the Kubernetes simulator;
#   2. the simulator's files (their pods are Docker containers too, labelled as the simulator's, which nothing in
#      lane 1 counts or prunes), then the Podman project (another engine, its own containers).
# Most of a test's time is spent waiting on an engine, so two lanes on two cores take little more than the longer one.
lane2_log=$(mktemp)
trap 'rm -f "$lane2_log"' EXIT
(
  status=0
  npx vitest run --project docker test/e2e/kube || status=$?
  if [[ ${MINDBG_PODMAN_READY:-0} == 1 || ${CI:-} == true ]]; then npx vitest run --project podman || status=$?; fi
  exit "$status"
) >"$lane2_log" 2>&1 &
lane2=$!
lane1_status=0
npx vitest run --project docker --exclude 'test/e2e/kube*' || lane1_status=$?
lane2_status=0
wait "$lane2" || lane2_status=$?
echo
echo "=== lane 2: the Kubernetes simulator's files, then Podman ==="
cat "$lane2_log"
echo "test: lane 1 (unit + Docker) exit $lane1_status; lane 2 (Kubernetes simulator + Podman) exit $lane2_status"
[[ $lane1_status == 0 && $lane2_status == 0 ]]
