#!/usr/bin/env bash
# bench/completion.sh - what one TAB costs: `mindbg __complete` for a Docker target against the local engine and for
# pod/ against the Kubernetes simulator; and `mindbg --help` / `--version`, which completion must not slow down.
# Needs a build (npm run build), hyperfine and the fixture images (scripts/provision.sh). Prints hyperfine's
# summary; the JSON goes to bench/results/completion.json. BASE=DIR (a built checkout of an older commit) adds its
# --help and --version, in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=$(mktemp -d /tmp/mindbg-bench-completion.XXXXXX)
target=mindbg-bench-complete-$$
sim=
cleanup() {
    docker rm -f "$target" >/dev/null 2>&1 || true
    [[ -n $sim ]] && kill "$sim" 2>/dev/null && wait "$sim" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT

docker run -d --name "$target" --network none mindbg-fixture/distroless-web:local >/dev/null
npm run --silent kube-sim -- --kubeconfig "$dir/kubeconfig" 2>"$dir/sim.log" &
sim=$!
for _ in $(seq 100); do [[ -s $dir/kubeconfig ]] && break; sleep 0.2; done
export KUBECONFIG=$dir/kubeconfig
.tools/bin/kubectl apply -f test/fixtures/k8s/web.yaml >/dev/null
.tools/bin/kubectl wait --for=jsonpath='{.status.phase}'=Running pod/web --timeout=60s >/dev/null

# A median is only worth something if the TAB got its answer: a source that ran out of its 250 ms gives none.
check() { # words... expected
    local expected=${*: -1} got
    got=$(node bin/run.js __complete "${@:1:$#-1}")
    [[ $got == *"$expected"* ]] || printf 'bench/completion.sh: "mindbg __complete %s" gave no %s this time (a source out of its budget?)\n' "${*:1:$#-1}" "$expected" >&2
}
check attach '' "$target"
check attach pod/ pod/web

base=()
[[ -n ${BASE:-} ]] && base=("node $BASE/bin/run.js --help" "node $BASE/bin/run.js --version")
mkdir -p bench/results
hyperfine -N --warmup 3 --runs 20 --export-json bench/results/completion.json \
    "node bin/run.js __complete attach ''" \
    "node bin/run.js __complete attach pod/" \
    'node bin/run.js --help' \
    'node bin/run.js --version' \
    "${base[@]}"
