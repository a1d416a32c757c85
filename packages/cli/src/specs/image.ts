// The specs of `sbx pull` and `sbx image ...`: names, flags, help and examples (the code is in ../commands/).
import { defineCommand } from "./common.js";

export const pullFlags = [
  {
    name: "platform",
    type: "value",
    valueName: "OS/ARCH[/VARIANT]",
    description: "platform to pull (default: the daemon's)",
  },
  {
    name: "user",
    short: "u",
    type: "value",
    valueName: "USER[:PASSWORD]",
    env: "SBX_REGISTRY_USER",
    description: "registry credentials (password also from $SBX_REGISTRY_PASSWORD)",
  },
] as const;

const pull = defineCommand({
  name: "pull",
  summary: "pull an image into sandboxd (resolve, fetch, unpack) with per-layer progress",
  usage: "[flags] IMAGE",
  description:
    "The daemon pulls: registry hosts and mirrors come from its hosts.toml config_path\n" +
    "(/etc/sandboxd/certs.d). Plain lines when stdout is not a terminal, JSON lines with -o json.",
  flags: pullFlags,
  args: { min: 1, max: 1, names: "IMAGE" },
  examples: [
    "sbx pull 127.0.0.1:5000/library/busybox:latest",
    "sbx -o json pull registry.k8s.io/pause:3.10",
  ],
  load: () => import("../commands/image-pull.js"),
});

export const imageCommands = [pull];
