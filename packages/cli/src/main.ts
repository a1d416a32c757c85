// Finds the command, parses its flags, runs it, and turns errors into
// messages and exit statuses. Nothing here loads the SDK.
import type { Writable } from "node:stream";
import { parseArgs, UsageError } from "@sandboxd/core/args";
import type { FlagSpec } from "@sandboxd/core/args";
import { commands, findCommand, findGroup, globalFlags, groups } from "./commands.js";
import type { CommandSpec } from "./commands.js";
import { localCaller } from "./caller.js";
import type { Caller } from "./caller.js";
import { createContext } from "./context.js";
import type { Globals, SharedConnection } from "./context.js";
import { describeError } from "./errors.js";
import { commandHelp, groupHelp, mainHelp } from "./help.js";

export interface MainOptions {
  stdout?: Writable;
  stderr?: Writable;
  env?: Record<string, string | undefined>;
  /** Where sbx was run from; this process when not given. */
  caller?: Caller;
  /** A connection to use instead of making one per call (sandboxd's CLI server). */
  shared?: SharedConnection;
}

/** Runs sbx with `argv` (without node and the script); returns the exit status. */
export async function main(argv: readonly string[], options: MainOptions = {}): Promise<number> {
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  const env = options.env ?? process.env;
  let globals: Globals = {
    address: "",
    namespace: "",
    output: "table",
    debug: argv.includes("--debug"),
  };
  let spec: CommandSpec | undefined;
  try {
    const resolved = resolve(argv);
    if (resolved.kind === "help") {
      stdout.write(resolved.text);
      return 0;
    }
    if (resolved.kind === "version") {
      stdout.write(`sbx ${await cliVersion()}\n`);
      return 0;
    }
    spec = resolved.spec;
    const parsed = parseArgs(resolved.rest, [...globalFlags, ...spec.flags], {
      command: spec.name,
      passthroughAfter: spec.passthroughAfter,
      env,
    });
    if (parsed.flags.help) {
      stdout.write(commandHelp(spec));
      return 0;
    }
    globals = {
      address: parsed.flags.address,
      namespace: parsed.flags.namespace,
      output: parsed.flags.output,
      debug: parsed.flags.debug,
    };
    checkArgCount(spec, parsed.positionals.length);
    const ctx = createContext(
      globals,
      { stdout, stderr },
      env,
      options.caller ?? localCaller(),
      options.shared,
    );
    try {
      const module = await spec.load();
      return await module.run(ctx, parsed);
    } finally {
      ctx.close();
    }
  } catch (err) {
    const { text, status } = describeError(err, {
      address: globals.address || env.SANDBOXD_ADDRESS || "/run/sandboxd/sandboxd.sock",
      debug: globals.debug,
      ...(spec ? { command: spec.name } : {}),
    });
    stderr.write(text);
    return status;
  }
}

type Resolved =
  | { kind: "help"; text: string }
  | { kind: "version" }
  | { kind: "command"; spec: CommandSpec; rest: string[] };

/**
 * Splits argv into the command and its arguments. Global flags may come before
 * the command words (`sbx -n x sandbox ls`); they are handed on with the rest.
 */
export function resolve(argv: readonly string[]): Resolved {
  const leading: string[] = [];
  let i = 0;
  const valueFlags = new Set(
    globalFlags
      .filter((f: FlagSpec) => f.type === "value")
      .flatMap((f: FlagSpec) => [`--${f.name}`, ...(f.short ? [`-${f.short}`] : [])]),
  );
  for (; i < argv.length; i++) {
    const word = argv[i]!;
    if (!word.startsWith("-") || word === "-") break;
    if (word === "--version") return { kind: "version" };
    leading.push(word);
    if (valueFlags.has(word) && i + 1 < argv.length) leading.push(argv[++i]!);
  }
  const words = argv.slice(i);
  const wantsHelp = leading.includes("--help") || leading.includes("-h");
  if (words.length === 0) {
    if (wantsHelp || leading.length === 0) return { kind: "help", text: mainHelp() };
    throw new UsageError("no command given");
  }
  if (words[0] === "help") {
    const target = words.slice(1);
    if (target.length === 0) return { kind: "help", text: mainHelp() };
    const found = findCommand(target);
    if (found) return { kind: "help", text: commandHelp(found.spec) };
    const group = findGroup(target[0]!);
    if (group) return { kind: "help", text: groupHelp(group) };
    throw new UsageError(`unknown command ${JSON.stringify(target.join(" "))}`);
  }
  const found = findCommand(words);
  if (!found) {
    const group = findGroup(words[0]!);
    if (group) {
      const next = words[1];
      if (next === undefined || next === "--help" || next === "-h" || wantsHelp) {
        return { kind: "help", text: groupHelp(group) };
      }
      throw new UsageError(`unknown command "${group.name} ${next}"`, group.name);
    }
    throw new UsageError(`unknown command ${JSON.stringify(words[0])}${suggest(words[0]!)}`);
  }
  return { kind: "command", spec: found.spec, rest: [...leading, ...words.slice(found.used)] };
}

function suggest(word: string): string {
  const names = [
    ...new Set([...commands.map((c) => c.name.split(" ")[0]!), ...groups.map((g) => g.name)]),
  ];
  const close = names.find(
    (n) => distance(n, word) <= 2 || (word.length >= 3 && n.startsWith(word)),
  );
  return close ? ` (did you mean "${close}"?)` : "";
}

/** Levenshtein distance, for "did you mean". */
export function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(
        row[j]! + 1,
        next[j - 1]! + 1,
        row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    row = next;
  }
  return row[b.length]!;
}

function checkArgCount(spec: CommandSpec, count: number): void {
  const { min, max, names } = spec.args;
  if (count < min) {
    throw new UsageError(
      `"sbx ${spec.name}" needs ${min === 1 ? "an argument" : `${min} arguments`}: ${names}`,
      spec.name,
    );
  }
  if (max !== undefined && count > max) {
    throw new UsageError(
      max === 0
        ? `"sbx ${spec.name}" takes no arguments`
        : `"sbx ${spec.name}" takes at most ${max} argument${max === 1 ? "" : "s"}: ${names}`,
      spec.name,
    );
  }
}

async function cliVersion(): Promise<string> {
  return (await import("./package-version.js")).cliVersion();
}
