// The argument parser: GNU-style flags (`--name value`, `--name=value`, `-n
// value`, `-abc`), global flags anywhere before the command's own arguments
// end, repeatable flags, and commands whose trailing words are passed through
// verbatim (`sbx run ID CMD...`). node:util parseArgs cannot stop at the first
// positional, so this is written out.

/** A flag a command (or sbx itself) accepts. */
export interface FlagSpec {
  /** Long name without dashes, e.g. `namespace`. */
  name: string;
  /** One-letter alias, e.g. `n`. */
  short?: string;
  /** A value flag takes an argument; a switch does not. */
  type: "switch" | "value";
  /** May be given more than once (values collect into a list). */
  multiple?: boolean;
  /** Name of the value in help, e.g. `NAME`. */
  valueName?: string;
  /** Allowed values (checked by the parser). */
  choices?: readonly string[];
  /** Environment variable that supplies a default. */
  env?: string;
  /** Default shown in help and used when absent. */
  default?: string;
  description: string;
}

/** Parsed flags: switches are booleans, value flags strings, multiple flags lists. */
export type Flags = Record<string, string | boolean | string[] | undefined>;

export interface Parsed {
  flags: Flags;
  positionals: string[];
}

/** A mistake in how sbx was called: exit status 2 and a pointer to --help. */
export class UsageError extends Error {
  /** The command whose help to point at (e.g. `sandbox rm`), or "" for sbx itself. */
  readonly command: string;
  constructor(message: string, command = "") {
    super(message);
    this.name = "UsageError";
    this.command = command;
  }
}

export interface ParseOptions {
  /** The command, for error messages (e.g. `sandbox rm`). */
  command: string;
  /**
   * After this many positionals, every remaining word is a positional, flags
   * included (`sbx run ID CMD...`: 1).
   */
  passthroughAfter?: number | undefined;
  env?: Record<string, string | undefined>;
}

/** Parses `argv` against `specs`. Throws UsageError. */
export function parseArgs(
  argv: readonly string[],
  specs: readonly FlagSpec[],
  options: ParseOptions,
): Parsed {
  const byLong = new Map(specs.map((s) => [s.name, s]));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short!, s]));
  const flags: Flags = {};
  const positionals: string[] = [];
  const where = options.command ? `sbx ${options.command}` : "sbx";

  const set = (spec: FlagSpec, value: string | boolean, shown: string): void => {
    if (spec.type === "value" && spec.choices && !spec.choices.includes(value as string)) {
      throw new UsageError(
        `flag ${shown} must be one of ${spec.choices.join(", ")}, not ${JSON.stringify(value)}`,
        options.command,
      );
    }
    if (spec.multiple) {
      const list = (flags[spec.name] as string[] | undefined) ?? [];
      list.push(value as string);
      flags[spec.name] = list;
    } else {
      flags[spec.name] = value;
    }
  };

  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (options.passthroughAfter !== undefined && positionals.length >= options.passthroughAfter) {
      positionals.push(...argv.slice(i));
      break;
    }
    if (word === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (word.startsWith("--")) {
      const eq = word.indexOf("=");
      const name = word.slice(2, eq < 0 ? undefined : eq);
      const spec = byLong.get(name);
      if (!spec) throw new UsageError(`unknown flag --${name} for "${where}"`, options.command);
      if (spec.type === "switch") {
        if (eq >= 0) {
          const v = word.slice(eq + 1);
          if (v !== "true" && v !== "false") {
            throw new UsageError(
              `flag --${name} takes no value (got ${JSON.stringify(v)})`,
              options.command,
            );
          }
          set(spec, v === "true", `--${name}`);
        } else set(spec, true, `--${name}`);
        continue;
      }
      let value: string | undefined;
      if (eq >= 0) value = word.slice(eq + 1);
      else if (i + 1 < argv.length) value = argv[++i];
      if (value === undefined) {
        throw new UsageError(
          `flag --${name} needs a value (${spec.valueName ?? "VALUE"})`,
          options.command,
        );
      }
      set(spec, value, `--${name}`);
      continue;
    }
    if (word.startsWith("-") && word.length > 1 && !/^-\d/.test(word)) {
      // A cluster of short switches, the last of which may take a value (`-it`, `-nfoo`, `-n foo`).
      for (let j = 1; j < word.length; j++) {
        const letter = word[j]!;
        const spec = byShort.get(letter);
        if (!spec) throw new UsageError(`unknown flag -${letter} for "${where}"`, options.command);
        if (spec.type === "switch") {
          set(spec, true, `-${letter}`);
          continue;
        }
        let value: string | undefined = word.slice(j + 1);
        if (value.startsWith("=")) value = value.slice(1);
        if (value === "") value = i + 1 < argv.length ? argv[++i] : undefined;
        if (value === undefined) {
          throw new UsageError(
            `flag -${letter} needs a value (${spec.valueName ?? "VALUE"})`,
            options.command,
          );
        }
        set(spec, value, `-${letter}`);
        break;
      }
      continue;
    }
    positionals.push(word);
  }

  for (const spec of specs) {
    if (flags[spec.name] !== undefined) continue;
    const fromEnv = spec.env ? options.env?.[spec.env] : undefined;
    const value = fromEnv || spec.default;
    if (value !== undefined && spec.type === "value")
      set(spec, value, spec.env && fromEnv ? `$${spec.env}` : `--${spec.name}`);
  }
  return { flags, positionals };
}

/** A string flag's value (undefined when absent). */
export function str(flags: Flags, name: string): string | undefined {
  const v = flags[name];
  return typeof v === "string" ? v : undefined;
}

/** A switch's value. */
export function bool(flags: Flags, name: string): boolean {
  return flags[name] === true;
}

/** A repeatable flag's values. */
export function list(flags: Flags, name: string): string[] {
  const v = flags[name];
  return Array.isArray(v) ? v : [];
}

/** Parses `K=V` words (labels); `K=` keeps an empty value, a bare `K` is an error. */
export function keyValues(
  words: readonly string[],
  what: string,
  command: string,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const word of words) {
    const eq = word.indexOf("=");
    if (eq <= 0)
      throw new UsageError(`${what} ${JSON.stringify(word)} must look like KEY=VALUE`, command);
    out[word.slice(0, eq)] = word.slice(eq + 1);
  }
  return out;
}
