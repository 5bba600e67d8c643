# Sourced by the benchmark scripts: provisions (Node, Docker engine, fixture images, kubectl, hyperfine), builds,
# and sets `out` (where hyperfine's JSON goes).
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=../scripts/provision.sh
source scripts/provision.sh
[[ ${MINDBG_DOCKER_READY:-0} == 1 ]] || { echo "bench: needs a Docker engine" >&2; exit 1; }
npm run --silent build
out=bench/results
mkdir -p "$out"

# The distroless fixture the Docker benchmarks attach to, as $target (removed on exit), with the busybox debugger,
# and bin/run.js's compile cache warmed once, as any second invocation on a user's machine would have it.
start_bench_target() {
  export MINDBG_IMAGE=mindbg-fixture/busybox:local
  target=mindbg-bench-web
  docker rm -f "$target" >/dev/null 2>&1 || true
  docker run -d --name "$target" --network none mindbg-fixture/distroless-web:local >/dev/null
  trap 'docker rm -f "$target" >/dev/null 2>&1 || true' EXIT
  ./bin/run.js --help >/dev/null
  ./bin/run.js attach "$target" -- true
}
