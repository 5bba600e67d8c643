# Sourced by the benchmark scripts: provisions (Node, Docker engine, fixture images, kubectl, hyperfine), builds,
# and sets `out` (where hyperfine's JSON goes).
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=../scripts/provision.sh
source scripts/provision.sh
[[ ${MINDBG_DOCKER_READY:-0} == 1 ]] || { echo "bench: needs a Docker engine" >&2; exit 1; }
npm run --silent build
out=bench/results
mkdir -p "$out"
