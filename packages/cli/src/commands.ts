// Every command's name, flags, help and examples, without its code: help and
// completion read this table, and `load` imports a command only when it runs.
// The specs live in specs/, one file per command group.
import type { FlagSpec } from "@sandboxd/core/args";
import type { CommandSpec, GroupSpec } from "./specs/common.js";
import { containerCommands } from "./specs/container.js";
import { imageCommands } from "./specs/image.js";
import { namespaceCommands } from "./specs/namespace.js";
import { otherCommands } from "./specs/other.js";
import { runCommands } from "./specs/run.js";
import { sandboxCommands } from "./specs/sandbox.js";
import { taskCommands } from "./specs/task.js";

export type { CommandModule, CommandSpec, GroupSpec } from "./specs/common.js";

export const DEFAULT_ADDRESS = "/run/sandboxd/sandboxd.sock";

/** Flags every command accepts. */
export const globalFlags = [
  {
    name: "address",
    type: "value",
    valueName: "PATH",
    env: "SANDBOXD_ADDRESS",
    default: DEFAULT_ADDRESS,
    description: "sandboxd's socket",
  },
  {
    name: "namespace",
    short: "n",
    type: "value",
    valueName: "NAME",
    env: "SANDBOXD_NAMESPACE",
    default: "default",
    description: "namespace to work in",
  },
  {
    name: "output",
    short: "o",
    type: "value",
    valueName: "FORMAT",
    choices: ["table", "json"],
    default: "table",
    description: "output format: table (for people) or json (for scripts)",
  },
  { name: "debug", type: "switch", description: "print stack traces and error causes" },
  { name: "help", short: "h", type: "switch", description: "show help" },
] as const satisfies readonly FlagSpec[];

export const groups: readonly GroupSpec[] = [
  { name: "sandbox", aliases: ["sandboxes", "sb"], summary: "manage sandboxes (pods)" },
  { name: "container", aliases: ["containers", "c"], summary: "manage containers" },
  { name: "task", aliases: ["tasks", "t"], summary: "manage running containers' processes" },
  { name: "namespace", aliases: ["namespaces", "ns"], summary: "manage namespaces" },
  { name: "image", aliases: ["images", "i"], summary: "manage images" },
];

/** Every command, in help order. */
export const commands: readonly CommandSpec[] = [
  ...runCommands,
  ...sandboxCommands,
  ...containerCommands,
  ...taskCommands,
  ...otherCommands.filter((c) => c.name === "events"),
  ...namespaceCommands,
  ...imageCommands,
  ...otherCommands.filter((c) => c.name !== "events"),
];

/** The group a word names (by name or alias). */
export function findGroup(word: string): GroupSpec | undefined {
  return groups.find((g) => g.name === word || g.aliases.includes(word));
}

/** The command named by `words` (group aliases and command aliases allowed), and how many words it used. */
export function findCommand(
  words: readonly string[],
): { spec: CommandSpec; used: number } | undefined {
  const [first, second] = words;
  if (first === undefined) return undefined;
  const group = findGroup(first);
  if (group) {
    if (second === undefined) return undefined;
    const spec = commands.find((c) => {
      const [g, sub] = c.name.split(" ");
      return g === group.name && (sub === second || (c.aliases ?? []).includes(second));
    });
    return spec ? { spec, used: 2 } : undefined;
  }
  const spec = commands.find(
    (c) => c.name === first || (!c.name.includes(" ") && (c.aliases ?? []).includes(first)),
  );
  return spec ? { spec, used: 1 } : undefined;
}

/** The commands of a group. */
export function groupCommands(group: string): CommandSpec[] {
  return commands.filter((c) => c.name.startsWith(`${group} `));
}
