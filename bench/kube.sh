#!/usr/bin/env bash
# Kubernetes: `mindbg attach pod/P -- true` against the equivalent `kubectl debug`, on the same API simulator
# (backed by the local Docker engine) in one run; and what loading @kubernetes/client-node costs.
# Usage: npm run bench:kube   (or bash bench/kube.sh [runs])
# BASE=DIR (a built checkout of an older commit: git archive COMMIT | tar -x -C DIR, node_modules linked, npm run
# build) adds that build's `mindbg attach` to the same hyperfine runs: before and after under the same load.
# Every run gets the pod as it was created (--prepare deletes and re-creates it, not timed): ephemeral containers
# cannot be removed, and a pod that kept each run's debugger grew by ~6 kB a run, which the later commands of a
# hyperfine run (each command's runs come one after the other) then read, patch and watch. GROWING_POD=1: the pod
# kept across runs, as this script measured before.
set -euo pipefail
# shellcheck source=prepare.sh
source "$(dirname "${BASH_SOURCE[0]}")/prepare.sh"
runs=${1:-15}
image=mindbg-fixture/busybox:local
kubectl=.tools/bin/kubectl
sim=
trap 'kill "$sim" 2>/dev/null || true; wait "$sim" 2>/dev/null || true' EXIT

# Two kubelets: one that reports a started (or exited) container 300 ms after its start, as a relisting kubelet does
# (its default relist period is 1 s), and one that reports at once (evented PLEG).
for delay in 300 0; do
  export KUBECONFIG
  KUBECONFIG=$(mktemp -d)/kubeconfig
  node test/support/kube-sim/main.ts --kubeconfig "$KUBECONFIG" --report-delay "$delay" 2>"$out/kube-sim-$delay.log" &
  sim=$!
  for _ in $(seq 100); do [[ -s $KUBECONFIG ]] && break; sleep 0.1; done
  $kubectl apply -f test/fixtures/k8s/web.yaml >/dev/null
  $kubectl wait --for=condition=Ready pod/web --timeout=60s >/dev/null

  # Same debugger for both: the local busybox, general profile, targeting the app container, stdin attached.
  before=()
  [[ -n ${BASE:-} ]] && before=(-n "mindbg before ($BASE), status reported after ${delay} ms" "$BASE/bin/run.js attach pod/web --image $image -- true")
  fresh=(--prepare "bash -c '$kubectl delete pod web --wait=true >/dev/null && $kubectl apply -f test/fixtures/k8s/web.yaml >/dev/null && $kubectl wait --for=condition=Ready pod/web --timeout=60s >/dev/null'")
  [[ ${GROWING_POD:-0} == 1 ]] && fresh=()
  hyperfine -N --warmup 2 --runs "$runs" --export-json "$out/kube-$delay.json" "${fresh[@]}" \
    -n "kubectl debug (baseline), status reported after ${delay} ms" "$kubectl debug pod/web -q -i --image=$image --image-pull-policy=IfNotPresent --target=app --profile=general -- true" \
    "${before[@]}" \
    -n "mindbg attach pod/web -- true, status reported after ${delay} ms" "./bin/run.js attach pod/web --image $image -- true"
  kill "$sim"; wait "$sim" 2>/dev/null || true
done

hyperfine -N --warmup 2 --runs "$runs" --export-json "$out/k8s-import.json" \
  -n 'node -e 0' 'node -e 0' \
  -n "import('@kubernetes/client-node')" "node -e \"import('@kubernetes/client-node')\"" \
  -n "import the bundled KubeConfig (dist/vendor/k8s-client.cjs; before kubefast it held js-yaml and ws too and every session loaded it, now only exec plugins and the like)" "node -e \"require('node:module').enableCompileCache(); import('./dist/vendor/k8s-client.cjs')\"" \
  -n "import js-yaml, what a session now loads before its first request (dist/vendor/js-yaml.mjs)" "node -e \"require('node:module').enableCompileCache(); import('./dist/vendor/js-yaml.mjs')\"" \
  -n "import ws, what a session now loads while its PATCH is answered (dist/vendor/ws.mjs)" "node -e \"require('node:module').enableCompileCache(); import('./dist/vendor/ws.mjs')\""

node bench/summarize.mjs "$out/kube-300.json" "$out/kube-0.json" "$out/k8s-import.json" | tee "$out/kube-summary.md"
