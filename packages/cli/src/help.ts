// Help text, made from the command table.
import { flagHelp as flagLines } from "@sandboxd/core/args";
import type { CommandSpec, GroupSpec } from "./commands.js";
import { commands, globalFlags, groupCommands, groups } from "./commands.js";

function commandRows(list: readonly { name: string; summary: string }[]): string[] {
  const width = Math.max(...list.map((c) => c.name.length));
  return list.map((c) => `  ${c.name.padEnd(width)}   ${c.summary}`);
}

/** `sbx --help`. */
export function mainHelp(): string {
  const top = commands.filter((c) => !c.name.includes(" "));
  return [
    "sbx: the command line of sandboxd (sandboxes, containers and tasks, like ctr)",
    "",
    "Usage: sbx [flags] COMMAND [ARGS...]",
    "",
    "Commands:",
    ...commandRows([
      ...top.filter((c) => c.name === "run"),
      ...groups.map((g: GroupSpec) => ({
        name: g.name,
        summary: `${g.summary} (${g.aliases.join(", ")})`,
      })),
      ...top.filter((c) => c.name !== "run"),
    ]),
    "",
    "Flags (anywhere before a command's own arguments):",
    ...flagLines(globalFlags),
    "",
    "Examples:",
    "  sbx run --rm hello echo hello world",
    "  sbx run -d web httpd -f -p 8080",
    "  sbx sandbox ls",
    "  sbx -n team-a -o json container ls",
    "",
    'Run "sbx COMMAND --help" for more about a command.',
    "",
  ].join("\n");
}

/** `sbx sandbox --help`. */
export function groupHelp(group: GroupSpec): string {
  const commands = groupCommands(group.name);
  // One example per command, so the group's help shows it in use too.
  const examples = commands.flatMap((c) => c.examples.slice(0, 1));
  const list = commands.map((c) => ({
    name: c.name.split(" ")[1]!,
    summary: c.aliases?.length ? `${c.summary} (${c.aliases.join(", ")})` : c.summary,
  }));
  return [
    `sbx ${group.name}: ${group.summary}`,
    "",
    `Usage: sbx ${group.name} COMMAND [ARGS...]   (also: ${group.aliases.map((a) => `sbx ${a}`).join(", ")})`,
    "",
    "Commands:",
    ...commandRows(list),
    "",
    `Run "sbx ${group.name} COMMAND --help" for more about a command.`,
    "",
    "Examples:",
    ...examples.map((e) => `  ${e}`),
    "",
  ].join("\n");
}

/** `sbx run --help`. */
export function commandHelp(spec: CommandSpec): string {
  const lines = [
    `sbx ${spec.name}: ${spec.summary}`,
    "",
    `Usage: sbx ${spec.name} ${spec.usage}`.trimEnd(),
  ];
  if (spec.aliases?.length) {
    const prefix = spec.name.includes(" ") ? `sbx ${spec.name.split(" ")[0]} ` : "sbx ";
    lines.push(`Aliases: ${spec.aliases.map((a) => prefix + a).join(", ")}`);
  }
  if (spec.description) lines.push("", spec.description);
  if (spec.flags.length) lines.push("", "Flags:", ...flagLines(spec.flags));
  lines.push("", "Global flags:", ...flagLines(globalFlags));
  lines.push("", "Examples:", ...spec.examples.map((e) => `  ${e}`), "");
  return lines.join("\n");
}
