// The specs of `sbx events`, `sbx version`, `sbx completion`: names, flags, help and examples (the code is in ../commands/).
import { defineCommand } from "./common.js";

export const eventsCommandFlags = [
  {
    name: "all-namespaces",
    short: "A",
    type: "switch",
    description: "events of every namespace",
  },
] as const;

const eventsCommand = defineCommand({
  name: "events",
  summary: "print events as they happen",
  usage: "[flags] [FILTER...]",
  description:
    "Shows the current namespace's events (all namespaces with -A). FILTERs use containerd's\n" +
    "syntax and are ORed; commas inside one AND: topic==/tasks/exit, 'topic~=^/sandboxes/',\n" +
    "event.container_id==web (values with / and other symbols are quoted for you).\n" +
    "Stops on Ctrl-C.",
  flags: eventsCommandFlags,
  args: { min: 0, names: "[FILTER...]" },
  examples: ["sbx events", "sbx events topic==/tasks/exit", "sbx -o json events -A"],
  load: () => import("../commands/events.js"),
});

const versionCommandFlags = [] as const;

const versionCommand = defineCommand({
  name: "version",
  summary: "show sbx's and sandboxd's versions",
  usage: "",
  flags: versionCommandFlags,
  args: { min: 0, max: 0, names: "" },
  examples: ["sbx version", "sbx -o json version"],
  load: () => import("../commands/version.js"),
});

export const completionCommandFlags = [] as const;

const completionCommand = defineCommand({
  name: "completion",
  summary: "print a shell completion script",
  usage: "bash|zsh",
  description:
    "bash: add  source <(sbx completion bash)  to ~/.bashrc\n" +
    'zsh:  add  source <(sbx completion zsh)  to ~/.zshrc (after "compinit")',
  flags: completionCommandFlags,
  args: { min: 1, max: 1, names: "bash|zsh" },
  examples: ["sbx completion bash > /etc/bash_completion.d/sbx", "source <(sbx completion zsh)"],
  offline: true,
  load: () => import("../commands/completion.js"),
});

export const otherCommands = [eventsCommand, versionCommand, completionCommand] as const;
