/**
 * What sandboxd is, as containerd's plugin list would show it: the same
 * types and ids for the parts it has (metadata is `sqlite` where containerd
 * says `bolt`), plus one entry per configured proxy plugin.
 */
import type { Config } from "../config/config.js";
import type { PluginInfo } from "../services/introspection/local.js";
import type { ServiceRow } from "./services.js";

const proxyTypes: Record<string, string> = {
  sandbox: "io.containerd.sandbox.controller.v1",
  snapshot: "io.containerd.snapshotter.v1",
  content: "io.containerd.content.v1",
  diff: "io.containerd.differ.v1",
};

export function pluginList(
  config: Config,
  roots: { runtimeRoot: string; runtimeState: string },
  services: readonly ServiceRow[],
): PluginInfo[] {
  return [
    { type: "io.containerd.event.v1", id: "exchange" },
    { type: "io.containerd.metadata.v1", id: "sqlite", requires: [] },
    {
      type: "io.containerd.runtime.v2",
      id: "task",
      requires: ["io.containerd.event.v1", "io.containerd.metadata.v1"],
      exports: { root: roots.runtimeRoot, state: roots.runtimeState },
      platforms: true,
    },
    {
      type: "io.containerd.sandbox.store.v1",
      id: "local",
      requires: ["io.containerd.metadata.v1"],
    },
    {
      type: "io.containerd.sandbox.controller.v1",
      id: "shim",
      requires: ["io.containerd.runtime.v2", "io.containerd.event.v1"],
      platforms: true,
    },
    ...services.flatMap((s) =>
      s.service
        ? [
            {
              type: "io.containerd.service.v1",
              id: s.service,
              requires: ["io.containerd.metadata.v1"],
            },
          ]
        : [],
    ),
    ...services.map((s) => ({
      type: "io.containerd.grpc.v1",
      id: s.id,
      requires: ["io.containerd.service.v1"],
    })),
    { type: "io.containerd.ttrpc.v1", id: "events", requires: ["io.containerd.event.v1"] },
    ...Object.entries(config.proxyPlugins).map(([id, p]) => ({
      type: proxyTypes[p.type] ?? p.type,
      id,
      exports: { address: p.address },
      platforms: true,
    })),
  ];
}
