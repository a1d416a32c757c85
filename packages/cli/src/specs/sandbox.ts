// The specs of `sbx sandbox ...`: names, flags, help and examples (the code is in ../commands/).
import { defineCommand, force, quiet, runtime, sandboxer, label } from "./common.js";

export const sandboxRunFlags = [runtime, sandboxer, label] as const;

const sandboxRun = defineCommand({
  name: "sandbox run",
  aliases: ["create"],
  summary: "create and start a sandbox",
  usage: "[flags] ID",
  flags: sandboxRunFlags,
  args: { min: 1, max: 1, names: "ID" },
  examples: ["sbx sandbox run web", "sbx sandbox run --label app=web web"],
  load: () => import("../commands/sandbox-run.js"),
});

export const sandboxLsFlags = [quiet] as const;

const sandboxLs = defineCommand({
  name: "sandbox ls",
  aliases: ["list"],
  summary: "list sandboxes",
  usage: "[flags] [FILTER...]",
  description: "FILTERs use containerd's syntax: id==web, labels.app==web, id~=^db.",
  flags: sandboxLsFlags,
  args: { min: 0, names: "[FILTER...]" },
  examples: [
    "sbx sandbox ls",
    "sbx sandbox ls -q",
    "sbx sandbox ls labels.app==web",
    "sbx -o json sandbox ls",
  ],
  load: () => import("../commands/sandbox-ls.js"),
});

export const sandboxInspectFlags = [] as const;

const sandboxInspect = defineCommand({
  name: "sandbox inspect",
  aliases: ["info"],
  summary: "show sandboxes in detail (JSON)",
  usage: "ID...",
  flags: sandboxInspectFlags,
  args: { min: 1, names: "ID..." },
  complete: "sandbox",
  examples: ["sbx sandbox inspect web"],
  load: () => import("../commands/sandbox-inspect.js"),
});

export const sandboxStopFlags = [
  {
    name: "timeout",
    type: "value",
    valueName: "SECONDS",
    default: "10",
    description: "grace period before SIGKILL",
  },
] as const;

const sandboxStop = defineCommand({
  name: "sandbox stop",
  summary: "stop sandboxes (their containers get SIGTERM, then SIGKILL)",
  usage: "[flags] ID...",
  flags: sandboxStopFlags,
  args: { min: 1, names: "ID..." },
  complete: "sandbox",
  examples: ["sbx sandbox stop web", "sbx sandbox stop --timeout 0 web db"],
  load: () => import("../commands/sandbox-stop.js"),
});

export const sandboxPauseFlags = [] as const;

const sandboxPause = defineCommand({
  name: "sandbox pause",
  summary: "pause every container of sandboxes",
  usage: "ID...",
  flags: sandboxPauseFlags,
  args: { min: 1, names: "ID..." },
  complete: "sandbox",
  examples: ["sbx sandbox pause web"],
  load: () => import("../commands/sandbox-pause.js"),
});

export const sandboxResumeFlags = [] as const;

const sandboxResume = defineCommand({
  name: "sandbox resume",
  summary: "resume every container of sandboxes",
  usage: "ID...",
  flags: sandboxResumeFlags,
  args: { min: 1, names: "ID..." },
  complete: "sandbox",
  examples: ["sbx sandbox resume web"],
  load: () => import("../commands/sandbox-resume.js"),
});

export const sandboxRmFlags = [force("also remove its containers, killing what runs")] as const;

const sandboxRm = defineCommand({
  name: "sandbox rm",
  aliases: ["remove", "delete"],
  summary: "remove sandboxes",
  usage: "[flags] ID...",
  description: "Refuses a sandbox that still has containers, unless --force.",
  flags: sandboxRmFlags,
  args: { min: 1, names: "ID..." },
  complete: "sandbox",
  examples: ["sbx sandbox rm web", "sbx sandbox rm -f web db"],
  load: () => import("../commands/sandbox-rm.js"),
});

export const sandboxMetricsFlags = [] as const;

const sandboxMetrics = defineCommand({
  name: "sandbox metrics",
  aliases: ["stats"],
  summary: "show a sandbox's resource usage",
  usage: "ID",
  flags: sandboxMetricsFlags,
  args: { min: 1, max: 1, names: "ID" },
  complete: "sandbox",
  examples: ["sbx sandbox metrics web", "sbx -o json sandbox metrics web"],
  load: () => import("../commands/sandbox-metrics.js"),
});

export const sandboxCommands = [
  sandboxRun,
  sandboxLs,
  sandboxInspect,
  sandboxStop,
  sandboxPause,
  sandboxResume,
  sandboxRm,
  sandboxMetrics,
] as const;
