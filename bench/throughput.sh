#!/usr/bin/env bash
# Throughput (issue 13): 200 MB through stdin, through stdout, and both, with mindbg against the docker CLI on the
# same target and data, and against kubectl exec on the same simulator (which relays the streams too: both pay for
# it); then mindbg's peak RSS for each (GNU time, maximum resident set size).
# Usage: bash bench/throughput.sh [runs]   (default 10; each run moves 200 MB)
set -euo pipefail
# shellcheck source=prepare.sh
source "$(dirname "${BASH_SOURCE[0]}")/prepare.sh"
runs=${1:-10}
start_bench_target
image=$MINDBG_IMAGE
kubectl=.tools/bin/kubectl
data=$(mktemp -d)/data
head -c 200000000 /dev/urandom >"$data"
# 200 MB of output made inside the debugger: dd in 64 kB blocks (busybox's head -c writes 4 kB at a time and takes
# ~2 s of CPU for it on its own).
produce='dd if=/dev/zero bs=65536 count=3052 2>/dev/null'
join="--pid container:$target --network container:$target"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

# The mindbg builds measured, as "name|binary": this working tree's.
bins=("now|./bin/run.js")
# hyperfine -n NAME COMMAND pairs: the baseline, then each mindbg build (feed=...: what the mindbg command is piped from).
pairs() { # label baseline-command mindbg-arguments...
  local label=$1 baseline=$2
  shift 2
  args+=(-n "$label: baseline" "$baseline")
  for b in "${bins[@]}"; do args+=(-n "$label: mindbg ${b%%|*}" "${feed:-} ${b#*|} $*"); done
}
args=()
pairs '200 MB in' "docker run -i --rm $join $image sh -c 'cat >/dev/null' <$data" "attach $target -- sh -c 'cat >/dev/null' <$data"
feed="cat $data |" pairs '200 MB in, piped' "cat $data | docker run -i --rm $join $image sh -c 'cat >/dev/null'" "attach $target -- sh -c 'cat >/dev/null'"
pairs '200 MB out' "docker run --rm $join $image sh -c '$produce' >/dev/null" "attach $target -- sh -c '$produce' >/dev/null"
pairs '200 MB in and out (cat)' "docker run -i --rm $join $image cat <$data >/dev/null" "attach $target -- cat <$data >/dev/null"
hyperfine --warmup 1 --runs "$runs" --export-json "$out/throughput-docker.json" "${args[@]}"

export KUBECONFIG
KUBECONFIG=$(mktemp -d)/kubeconfig
node test/support/kube-sim/main.ts --kubeconfig "$KUBECONFIG" 2>"$out/kube-sim-throughput.log" &
sim=$!
trap 'kill "$sim" 2>/dev/null; wait "$sim" 2>/dev/null || true; docker rm -f "$target" >/dev/null 2>&1 || true' EXIT
for _ in $(seq 100); do [[ -s $KUBECONFIG ]] && break; sleep 0.1; done
# A pod with a shell and cat, so that kubectl exec has something to run; mindbg's debugger (the same busybox) joins it.
# A fresh one for every run (hyperfine --prepare), as in bench/kube.sh: each debugger stays in its pod's spec, and a
# pod grown by the runs before would slow only mindbg's runs (its watch reads the whole pod), not kubectl exec's.
pod=$(dirname "$data")/pod.yaml
cat >"$pod" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: bb}
spec:
  containers: [{name: bb, image: $image, imagePullPolicy: IfNotPresent, command: [sleep, '3600']}]
EOF
fresh_pod="$kubectl delete pod bb --ignore-not-found --wait=true >/dev/null && $kubectl apply -f $pod >/dev/null && $kubectl wait --for=condition=Ready pod/bb --timeout=60s >/dev/null"
eval "$fresh_pod"
args=()
pairs 'pod: 200 MB in' "$kubectl exec -i bb -- sh -c 'cat >/dev/null' <$data" "attach pod/bb -- sh -c 'cat >/dev/null' <$data"
pairs 'pod: 200 MB out' "$kubectl exec bb -- sh -c '$produce' >/dev/null" "attach pod/bb -- sh -c '$produce' >/dev/null"
hyperfine --prepare "$fresh_pod" --warmup 1 --runs "$runs" --export-json "$out/throughput-kube.json" "${args[@]}"
eval "$fresh_pod"

rss() { # build binary args...: one row of peak RSS and CPU
  local name=$1 bin=$2
  shift 2
  /usr/bin/time -f '%M %U %S' -o "$out/rss" "$bin" "$@" >/dev/null
  read -r kb user sys <"$out/rss"
  echo "| \`mindbg $*\`${how:-} | $name | $((kb / 1024)) MB | $(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f s", u + s }') |"
}
{
  echo '| command (200 MB) | build | peak RSS | CPU (user + sys) |'
  echo '|---|---|---|---|'
  for b in "${bins[@]}"; do
    n=${b%%|*} bin=${b#*|}
    rss "$n" "$bin" attach "$target" -- sh -c 'cat >/dev/null' <"$data"
    cat "$data" | how=" (piped)" rss "$n" "$bin" attach "$target" -- sh -c 'cat >/dev/null'
    rss "$n" "$bin" attach "$target" -- sh -c "$produce"
    rss "$n" "$bin" attach "$target" -- cat <"$data"
    rss "$n" "$bin" attach pod/bb -- sh -c 'cat >/dev/null' <"$data"
    rss "$n" "$bin" attach pod/bb -- sh -c "$produce"
    rss "$n" "$bin" attach "$target" -- true
  done
} | tee "$out/throughput-rss.md"
node bench/summarize.mjs "$out/throughput-docker.json" "$out/throughput-kube.json" | tee "$out/throughput-summary.md"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
