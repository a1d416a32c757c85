// The specs of `sbx namespace ...`: names, flags, help and examples (the code is in ../commands/).
import { defineCommand, quiet } from "./common.js";

export const namespaceCreateFlags = [] as const;

const namespaceCreate = defineCommand({
  name: "namespace create",
  aliases: ["add"],
  summary: "create a namespace",
  usage: "NAME [K=V...]",
  flags: namespaceCreateFlags,
  args: { min: 1, names: "NAME [K=V...]" },
  examples: ["sbx ns create team-a", "sbx ns create team-a owner=me"],
  load: () => import("../commands/namespace-create.js"),
});

export const namespaceLsFlags = [quiet] as const;

const namespaceLs = defineCommand({
  name: "namespace ls",
  aliases: ["list"],
  summary: "list namespaces",
  usage: "[flags]",
  flags: namespaceLsFlags,
  args: { min: 0, max: 0, names: "" },
  examples: ["sbx ns ls", "sbx -o json ns ls"],
  load: () => import("../commands/namespace-ls.js"),
});

export const namespaceRmFlags = [] as const;

const namespaceRm = defineCommand({
  name: "namespace rm",
  aliases: ["remove", "delete"],
  summary: "remove empty namespaces",
  usage: "NAME...",
  flags: namespaceRmFlags,
  args: { min: 1, names: "NAME..." },
  complete: "namespace",
  examples: ["sbx ns rm team-a"],
  load: () => import("../commands/namespace-rm.js"),
});

export const namespaceLabelFlags = [] as const;

const namespaceLabel = defineCommand({
  name: "namespace label",
  summary: "set or remove a namespace's labels (K= removes K)",
  usage: "NAME [K=V...]",
  description: "Without K=V, prints the labels.",
  flags: namespaceLabelFlags,
  args: { min: 1, names: "NAME [K=V...]" },
  complete: "namespace",
  examples: [
    "sbx ns label team-a owner=me",
    "sbx ns label default containerd.io/defaults/sandboxer=shim",
    "sbx ns label team-a owner=",
  ],
  load: () => import("../commands/namespace-label.js"),
});

export const namespaceCommands = [
  namespaceCreate,
  namespaceLs,
  namespaceRm,
  namespaceLabel,
] as const;
