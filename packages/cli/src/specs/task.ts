// The specs of `sbx task ...`: names, flags, help and examples (the code is in ../commands/).
import { defineCommand, quiet, env, cwd, tty, interactive } from "./common.js";

export const taskLsFlags = [quiet] as const;

const taskLs = defineCommand({
  name: "task ls",
  aliases: ["list"],
  summary: "list tasks",
  usage: "[flags]",
  flags: taskLsFlags,
  args: { min: 0, max: 0, names: "" },
  examples: ["sbx task ls", "sbx -o json task ls"],
  load: () => import("../commands/task-ls.js"),
});

export const taskPsFlags = [] as const;

const taskPs = defineCommand({
  name: "task ps",
  summary: "list a task's processes",
  usage: "ID",
  flags: taskPsFlags,
  args: { min: 1, max: 1, names: "ID" },
  complete: "task",
  examples: ["sbx task ps web"],
  load: () => import("../commands/task-ps.js"),
});

export const taskExecFlags = [
  tty,
  interactive,
  {
    name: "exec-id",
    type: "value",
    valueName: "ID",
    description: "id of the new process (default: generated)",
  },
  env,
  cwd,
  { name: "detach", short: "d", type: "switch", description: "start it and return" },
] as const;

const taskExec = defineCommand({
  name: "task exec",
  summary: "run a command in a running task",
  usage: "[flags] ID CMD [ARG...]",
  description: "sbx exits with the command's exit status.",
  flags: taskExecFlags,
  args: { min: 2, names: "ID CMD..." },
  passthroughAfter: 1,
  complete: "task",
  examples: [
    "sbx task exec web ps",
    "sbx task exec -t web sh",
    "sbx task exec --exec-id dbg web cat /etc/hosts",
  ],
  load: () => import("../commands/task-exec.js"),
});

export const taskKillFlags = [
  {
    name: "signal",
    short: "s",
    type: "value",
    valueName: "SIGNAL",
    default: "SIGTERM",
    description: "signal name or number",
  },
  { name: "all", short: "a", type: "switch", description: "signal every process of the task" },
  {
    name: "exec-id",
    type: "value",
    valueName: "ID",
    description: "signal this exec process instead",
  },
] as const;

const taskKill = defineCommand({
  name: "task kill",
  summary: "signal tasks",
  usage: "[flags] ID...",
  flags: taskKillFlags,
  args: { min: 1, names: "ID..." },
  complete: "task",
  examples: ["sbx task kill web", "sbx task kill -s KILL -a web", "sbx task kill -s 1 web"],
  load: () => import("../commands/task-kill.js"),
});

export const taskAttachFlags = [] as const;

const taskAttach = defineCommand({
  name: "task attach",
  summary: "connect to a running task's stdio",
  usage: "ID",
  description:
    "Works for tasks started with FIFOs that are still there (e.g. by the SDK); tasks started\n" +
    "with sbx run -d have no stdio to attach to.",
  flags: taskAttachFlags,
  args: { min: 1, max: 1, names: "ID" },
  complete: "task",
  examples: ["sbx task attach web"],
  load: () => import("../commands/task-attach.js"),
});

export const taskMetricsFlags = [] as const;

const taskMetrics = defineCommand({
  name: "task metrics",
  aliases: ["stats"],
  summary: "show a task's resource usage",
  usage: "ID",
  flags: taskMetricsFlags,
  args: { min: 1, max: 1, names: "ID" },
  complete: "task",
  examples: ["sbx task metrics web", "sbx -o json task metrics web"],
  load: () => import("../commands/task-metrics.js"),
});

export const taskCommands = [taskLs, taskPs, taskExec, taskKill, taskAttach, taskMetrics] as const;
