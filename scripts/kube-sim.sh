#!/usr/bin/env bash
# The Kubernetes API simulator, by hand: provisions what it needs (Node >= 22.19, the Docker engine, the fixture
# images, kubectl), then runs it until interrupted. Usage: npm run kube-sim -- --kubeconfig PATH
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=provision.sh
source scripts/provision.sh
[[ ${MINDBG_DOCKER_READY:-0} == 1 ]] || { echo "kube-sim: needs a Docker engine (see the provision messages above)" >&2; exit 1; }
exec node test/support/kube-sim/main.ts "$@"
