#!/usr/bin/env bash
# Regenerates packages/api/src/gen from packages/api/proto with buf and
# protobuf-es (both from the workspace's node_modules, no network).
#   generate.sh           write src/gen
#   generate.sh --check   generate into a temp dir and fail if src/gen differs
set -euo pipefail
api="$(cd "$(dirname "$0")/.." && pwd)"
root="$(cd "$api/../.." && pwd)"
bin="$root/node_modules/.bin"
for tool in node buf protoc-gen-es; do
  if [[ ! -x "$bin/$tool" ]]; then
    echo "generate: $bin/$tool is missing (run npm ci at the repo root)" >&2
    exit 1
  fi
done
# buf and protoc-gen-es are node scripts (#!/usr/bin/env node): run them on Node 24.
export PATH="$bin:$PATH"
cd "$api"

case "${1:-}" in
  "")
    buf generate
    echo "generate: wrote $(find src/gen -name '*_pb.ts' | wc -l) files to packages/api/src/gen"
    ;;
  --check)
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    buf generate --output "$tmp"
    if ! diff -r -q src/gen "$tmp/src/gen" >"$tmp/summary.txt" 2>&1; then
      echo "generate: packages/api/src/gen is stale (<fresh> = what the protos give now);" >&2
      echo "generate: run npm run generate and commit the result" >&2
      sed -e "s|$tmp/src/gen|<fresh>|g" "$tmp/summary.txt" >&2
      diff -r -u src/gen "$tmp/src/gen" | sed -e "s|$tmp/src/gen|<fresh>|g" | head -n 60 >&2 || true
      exit 1
    fi
    echo "generate: packages/api/src/gen is up to date"
    ;;
  *)
    echo "usage: generate.sh [--check]" >&2
    exit 2
    ;;
esac
