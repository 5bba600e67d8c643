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
exec npx vitest run "$@"
