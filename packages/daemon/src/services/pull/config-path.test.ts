import { test } from "node:test";
import assert from "node:assert/strict";
import { isInvalidArgument } from "@sandboxd/errdefs";
import { parseConfig } from "../../config/config.js";
import { registryConfigPath } from "./config-path.js";
import { defaultRegistryConfigPath } from "./register.js";

test("registry hosts config_path: containerd 2.x's CRI key, else the environment, else the default", () => {
  const { config } = parseConfig(
    'version = 2\n[plugins."io.containerd.cri.v1.images".registry]\n  config_path = "/etc/mirrors"\n',
  );
  assert.equal(registryConfigPath(config), "/etc/mirrors");
  const saved = process.env.SANDBOXD_REGISTRY_CONFIG_PATH;
  try {
    process.env.SANDBOXD_REGISTRY_CONFIG_PATH = "/from/env";
    assert.equal(registryConfigPath({ plugins: {} }), "/from/env");
    delete process.env.SANDBOXD_REGISTRY_CONFIG_PATH;
    assert.equal(registryConfigPath({ plugins: {} }), defaultRegistryConfigPath);
  } finally {
    if (saved === undefined) delete process.env.SANDBOXD_REGISTRY_CONFIG_PATH;
    else process.env.SANDBOXD_REGISTRY_CONFIG_PATH = saved;
  }
  assert.throws(
    () =>
      registryConfigPath({
        plugins: { "io.containerd.cri.v1.images": { registry: { config_path: 3 } } },
      }),
    (err) => isInvalidArgument(err) && /config_path must be a string/.test(String(err)),
  );
});
