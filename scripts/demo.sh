#!/usr/bin/env bash
# Demo: a distroless container (no shell, non-root, read-only root filesystem) and mindbg next to it.
# Provisions everything it needs first, works offline, and removes what it started.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=provision.sh
source scripts/provision.sh
[[ ${MINDBG_DOCKER_READY:-0} == 1 ]] || { echo "demo: needs a Docker engine (see the provision messages above)" >&2; exit 1; }
npm run --silent build

# No registry is needed: the debug image is the locally built static busybox.
export MINDBG_IMAGE=mindbg-fixture/busybox:local
target=mindbg-demo-web
mindbg() { node bin/run.js "$@"; }
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
cleanup() { docker rm -f "$target" >/dev/null 2>&1 || true; }
trap cleanup EXIT

cleanup
docker run -d --name "$target" --network none --read-only mindbg-fixture/distroless-web:local >/dev/null
step "docker exec $target sh        # distroless: there is no shell to exec"
docker exec "$target" sh 2>&1 | tail -1 || true

step "mindbg attach $target -- ps       # the target's processes, PID 1 is its server"
mindbg attach "$target" -- ps

step "mindbg attach $target -- wget -qO- http://127.0.0.1:8080/   # its localhost"
mindbg attach "$target" -- wget -qO- http://127.0.0.1:8080/

step "mindbg attach --chroot $target -- ls -l /app   # its filesystem as /, busybox still on PATH"
mindbg attach --chroot "$target" -- ls -l /app

step "mindbg attach $target -- sh -c 'exit 3'; echo \$?   # exit codes propagate"
set +e; mindbg attach "$target" -- sh -c 'exit 3'; echo "exit code: $?"; set -e

step "docker diff $target; mindbg ls   # nothing written into the target, no sidecar left"
docker diff "$target"
mindbg ls

if [[ -t 0 && -t 1 ]]; then
  step "mindbg attach $target   # an interactive shell next to it: try ps, ls /proc/1/root/app, exit"
  mindbg attach "$target" || true
fi
echo
echo "demo: done; $target removed."
