/**
 * Where the registry hosts (hosts.toml directories) are configured, first
 * match wins: containerd 2.x's CRI key
 * `[plugins."io.containerd.cri.v1.images".registry] config_path` in
 * sandboxd's config, then $SANDBOXD_REGISTRY_CONFIG_PATH, then
 * /etc/sandboxd/certs.d. Every puller of the daemon (sandboxd's Pull, the
 * CRI, transfer.v1) uses it.
 */
import { invalidArgument } from "@sandboxd/errdefs";
import type { Config } from "../../config/config.js";
import { defaultRegistryConfigPath } from "./register.js";

const criImages = "io.containerd.cri.v1.images";

const isTable = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

export function registryConfigPath(config: Pick<Config, "plugins">): string {
  const images = config.plugins[criImages];
  const registry = isTable(images) ? images.registry : undefined;
  const path = isTable(registry) ? registry.config_path : undefined;
  if (path !== undefined && typeof path !== "string") {
    throw invalidArgument(
      `config: plugins."${criImages}".registry.config_path must be a string, got ${JSON.stringify(path)}`,
    );
  }
  return path || process.env.SANDBOXD_REGISTRY_CONFIG_PATH || defaultRegistryConfigPath;
}
