// What every command spec file shares: the spec types, `defineCommand`, and the
// flags several commands take. Each spec file exports its commands' flag lists
// `as const`, so a command module's `run(ctx, args: Parsed<typeof xFlags>)`
// gets its flags typed (a switch is boolean, a repeatable flag string[]).
import type { FlagSpec, Parsed } from "@sandboxd/core/args";
import type { Context } from "../context.js";

/** What a command module exports. */
export interface CommandModule {
  /** Returns the exit status. */
  run(ctx: Context, args: Parsed): Promise<number>;
}

export interface CommandSpec<F extends readonly FlagSpec[] = readonly FlagSpec[]> {
  /** Full name: `run`, `sandbox ls`. */
  name: string;
  /** Other words for the last part of the name (`list` for `ls`). */
  aliases?: readonly string[];
  summary: string;
  /** What follows the name in the usage line. */
  usage: string;
  /** Longer explanation (plain text, wrapped by hand). */
  description?: string;
  flags: F;
  /** Bounds on positional arguments. */
  args: { min: number; max?: number; names: string };
  /** After this many positionals the rest are passed through (`run ID CMD...`). */
  passthroughAfter?: number;
  /** What completion offers for positionals. */
  complete?: "sandbox" | "container" | "task" | "namespace" | "shell";
  examples: readonly string[];
  /** Needs no daemon (no connection is made). */
  offline?: boolean;
  load: () => Promise<CommandModule>;
}

export interface GroupSpec {
  name: string;
  aliases: readonly string[];
  summary: string;
}

/** A command spec, keeping its flags' literal types. */
export function defineCommand<const F extends readonly FlagSpec[]>(
  spec: CommandSpec<F>,
): CommandSpec<F> {
  return spec;
}

export const force = (what: string) =>
  ({
    name: "force",
    short: "f",
    type: "switch",
    description: what,
  }) as const satisfies FlagSpec;
export const quiet = {
  name: "quiet",
  short: "q",
  type: "switch",
  description: "print ids only",
} as const satisfies FlagSpec;
export const runtime = {
  name: "runtime",
  type: "value",
  valueName: "NAME",
  description: "runtime (default io.containerd.sbx.v1)",
} as const satisfies FlagSpec;
export const sandboxer = {
  name: "sandboxer",
  type: "value",
  valueName: "NAME",
  description: "sandbox controller: shim or a proxy sandboxer's name (default: sandboxd's)",
} as const satisfies FlagSpec;
export const label = {
  name: "label",
  short: "l",
  type: "value",
  multiple: true,
  valueName: "K=V",
  description: "add a label",
} as const satisfies FlagSpec;
export const env = {
  name: "env",
  short: "e",
  type: "value",
  multiple: true,
  valueName: "K=V",
  description: "set an environment variable",
} as const satisfies FlagSpec;
export const cwd = {
  name: "cwd",
  short: "w",
  type: "value",
  valueName: "DIR",
  description: "working directory inside the container",
} as const satisfies FlagSpec;
export const tty = {
  name: "tty",
  short: "t",
  type: "switch",
  description: "give the process a terminal",
} as const satisfies FlagSpec;
export const interactive = {
  name: "interactive",
  short: "i",
  type: "switch",
  description: "attach stdin even when it is a terminal (implied by -t, and when stdin is a pipe)",
} as const satisfies FlagSpec;
