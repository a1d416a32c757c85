// The specs of `sbx container ...`: names, flags, help and examples (the code is in ../commands/).
import { defineCommand, force, quiet } from "./common.js";

export const containerLsFlags = [quiet] as const;

const containerLs = defineCommand({
  name: "container ls",
  aliases: ["list"],
  summary: "list containers",
  usage: "[flags] [FILTER...]",
  description:
    "FILTERs use containerd's syntax: id==web, labels.app==web, runtime.name==io.containerd.sbx.v1.",
  flags: containerLsFlags,
  args: { min: 0, names: "[FILTER...]" },
  examples: ["sbx container ls", "sbx container ls -q", "sbx -o json container ls"],
  load: () => import("../commands/container-ls.js"),
});

export const containerInfoFlags = [] as const;

const containerInfo = defineCommand({
  name: "container info",
  aliases: ["inspect"],
  summary: "show containers in detail (JSON)",
  usage: "ID...",
  flags: containerInfoFlags,
  args: { min: 1, names: "ID..." },
  complete: "container",
  examples: ["sbx container info web"],
  load: () => import("../commands/container-info.js"),
});

export const containerRmFlags = [force("kill and remove the container's task first")] as const;

const containerRm = defineCommand({
  name: "container rm",
  aliases: ["remove", "delete"],
  summary: "remove containers",
  usage: "[flags] ID...",
  description: "Refuses a container with a running task, unless --force.",
  flags: containerRmFlags,
  args: { min: 1, names: "ID..." },
  complete: "container",
  examples: ["sbx container rm web", "sbx container rm -f web"],
  load: () => import("../commands/container-rm.js"),
});

export const containerCommands = [containerLs, containerInfo, containerRm] as const;
