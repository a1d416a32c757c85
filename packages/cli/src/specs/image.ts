// The specs of `sbx pull` and `sbx image ...`: names, flags, help and examples (the code is in ../commands/).
import { defineCommand, quiet } from "./common.js";

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

export const imageLsFlags = [
  quiet,
  {
    name: "filter",
    type: "value",
    multiple: true,
    valueName: "FILTER",
    description: "containerd filter, e.g. name~=busybox",
  },
] as const;

const imageLs = defineCommand({
  name: "image ls",
  aliases: ["list"],
  summary: "list images",
  usage: "[flags]",
  flags: imageLsFlags,
  args: { min: 0, max: 0, names: "" },
  examples: ["sbx image ls", "sbx -o json image ls"],
  load: () => import("../commands/image-ls.js"),
});

export const imageInspectFlags = [] as const;

const imageInspect = defineCommand({
  name: "image inspect",
  summary: "show image records as JSON",
  usage: "IMAGE...",
  flags: imageInspectFlags,
  args: { min: 1, names: "IMAGE..." },
  examples: ["sbx image inspect busybox"],
  load: () => import("../commands/image-inspect.js"),
});

export const imageRmFlags = [
  { name: "async", type: "switch", description: "return before garbage collection" },
] as const;

const imageRm = defineCommand({
  name: "image rm",
  aliases: ["remove", "delete"],
  summary: "remove image names (and, unless --async, collect what nothing references)",
  usage: "[flags] IMAGE...",
  flags: imageRmFlags,
  args: { min: 1, names: "IMAGE..." },
  examples: ["sbx image rm 127.0.0.1:5000/library/busybox:latest"],
  load: () => import("../commands/image-rm.js"),
});

export const imageTagFlags = [] as const;

const imageTag = defineCommand({
  name: "image tag",
  summary: "give an image another name",
  usage: "SOURCE TARGET",
  flags: imageTagFlags,
  args: { min: 2, max: 2, names: "SOURCE TARGET" },
  examples: ["sbx image tag 127.0.0.1:5000/library/busybox:latest busybox:mine"],
  load: () => import("../commands/image-tag.js"),
});

export const imagePruneFlags = [
  {
    name: "all",
    short: "a",
    type: "switch",
    description: "remove every image no container uses, not only the dangling ones",
  },
] as const;

const imagePrune = defineCommand({
  name: "image prune",
  summary: "remove unused images: dangling ones (no tag), or with --all every one not in use",
  usage: "[flags]",
  description:
    "As nerdctl's: an image is dangling when its name has no tag (pulled by digest,\n" +
    "repo@sha256:...); an image a container of the namespace was made from is kept.\n" +
    "Content and snapshots nothing else references are collected before it returns.",
  flags: imagePruneFlags,
  args: { min: 0, max: 0, names: "" },
  examples: ["sbx image prune", "sbx image prune --all"],
  load: () => import("../commands/image-prune.js"),
});

export const imageImportFlags = [
  {
    name: "base-name",
    type: "value",
    valueName: "NAME",
    description: "name for entries tagged only by a tag (NAME:TAG; default import-DATE)",
  },
  {
    name: "platform",
    type: "value",
    valueName: "OS/ARCH[/VARIANT]",
    description: "platform to unpack (default: the daemon's)",
  },
  { name: "no-unpack", type: "switch", description: "record the images without unpacking" },
] as const;

const imageImport = defineCommand({
  name: "image import",
  summary: "import images from an OCI or docker-archive tar (FILE, or - for stdin)",
  usage: "[flags] FILE",
  description:
    "The archive streams to the daemon, which checks every blob's digest and size before\n" +
    "committing anything, records the names the archive gives and unpacks them.",
  flags: imageImportFlags,
  args: { min: 1, max: 1, names: "FILE" },
  examples: ["sbx image import busybox.tar", "docker save busybox | sbx image import -"],
  load: () => import("../commands/image-import.js"),
});

export const imageExportFlags = [
  {
    name: "platform",
    type: "value",
    valueName: "OS/ARCH[/VARIANT]",
    description: "platform of manifest.json's entries (default: the daemon's)",
  },
  {
    name: "skip-manifest-json",
    type: "switch",
    description: "leave out docker's manifest.json (OCI layout only)",
  },
] as const;

const imageExport = defineCommand({
  name: "image export",
  summary: "export images as an OCI archive with docker's manifest.json (FILE, or - for stdout)",
  usage: "[flags] FILE IMAGE...",
  flags: imageExportFlags,
  args: { min: 2, names: "FILE IMAGE..." },
  examples: ["sbx image export busybox.tar busybox", "sbx image export - busybox | docker load"],
  load: () => import("../commands/image-export.js"),
});

export const imageCommands = [
  pull,
  imageLs,
  imageInspect,
  imageRm,
  imageTag,
  imageImport,
  imageExport,
  imagePrune,
];
