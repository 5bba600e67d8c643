#!/usr/bin/env bash
# The same benchmark on two builds in one run: REV (default: the first parent of HEAD) built in a git worktree
# under /tmp, against the working tree. For "no slower than before" checks of a change.
# Usage: bash bench/versus.sh [REV] [runs]
set -euo pipefail
# shellcheck source=prepare.sh
source "$(dirname "${BASH_SOURCE[0]}")/prepare.sh"
rev=${1:-HEAD~1}
runs=${2:-30}
old=/tmp/mindbg-versus-$(git rev-parse --short "$rev")
if [[ ! -f $old/bin/run.js || ! -d $old/dist ]]; then
  git worktree remove --force "$old" 2>/dev/null || rm -rf "$old"
  git worktree add --detach "$old" "$rev" >/dev/null
  ln -s "$PWD/node_modules" "$old/node_modules"
  (cd "$old" && npm run --silent build >/dev/null)
fi
export MINDBG_IMAGE=mindbg-fixture/busybox:local
target=mindbg-bench-web
docker rm -f "$target" >/dev/null 2>&1 || true
docker run -d --name "$target" --network none mindbg-fixture/distroless-web:local >/dev/null
trap 'docker rm -f "$target" >/dev/null 2>&1 || true' EXIT
# Warm both compile caches once, as any second invocation on a user's machine would have them.
for bin in "$old/bin/run.js" ./bin/run.js; do "$bin" --help >/dev/null; "$bin" attach "$target" -- true; done

hyperfine -N --warmup 5 --runs "$runs" --export-json "$out/versus-startup.json" \
  -n 'node -e 0' 'node -e 0' \
  -n "version ($rev)" "$old/bin/run.js --version" -n 'version (now)' './bin/run.js --version' \
  -n "help ($rev)" "$old/bin/run.js --help" -n 'help (now)' './bin/run.js --help'
hyperfine -N --warmup 3 --runs "$runs" --export-json "$out/versus-attach.json" \
  -n 'docker run --rm (baseline)' "docker run --rm --pid container:$target --network container:$target $MINDBG_IMAGE true" \
  -n "attach -- true ($rev)" "$old/bin/run.js attach $target -- true" \
  -n 'attach -- true (now)' "./bin/run.js attach $target -- true"
node bench/summarize.mjs "$out/versus-startup.json" "$out/versus-attach.json" | tee "$out/versus-summary.md"
