/**
 * The one argument parser of sbx, sandboxd and sbx-sandboxer
 * (`@sandboxd/core/args`, import-free so executables load it first): GNU-style
 * flags (`--name value`, `--name=value`, `-n value`, `-abc`), flags anywhere
 * before the arguments end, repeatable flags, trailing words passed through
 * verbatim (`sbx run ID CMD...`), defaults from the environment. Results are
 * typed from the specs: declare them `as const` (or inline in `parseArgs`),
 * and a switch comes back as `boolean`, a repeatable flag as `string[]`, a
 * value flag with a default as `string`, any other as `string | undefined`.
 * Help lists the flags from the same specs (`flagHelp`), so the two agree.
 */

/** A flag a command (or a program itself) accepts. */
export interface FlagSpec<Name extends string = string> {
  /** Long name without dashes, e.g. `namespace`. */
  name: Name;
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

/** A value flag written as one row: name, value name (help), description, one-letter alias. */
export type ValueFlagRow = readonly [
  name: string,
  valueName: string,
  description: string,
  short?: string,
];

/** The spec of a value flag of `valueFlags`, its name kept literal for typed results. */
export interface ValueFlag<Name extends string> extends FlagSpec<Name> {
  type: "value";
}

/**
 * Value flags from a table of rows, for programs whose flags are mostly plain
 * values (sandboxd, sbx-sandboxer): shorter to read than one object each.
 */
export function valueFlags<const R extends readonly ValueFlagRow[]>(
  rows: R,
): ValueFlag<R[number][0]>[] {
  return rows.map(([name, valueName, description, short]) => ({
    name,
    type: "value",
    valueName,
    description,
    ...(short !== undefined ? { short } : {}),
  }));
}

/** Parsed flags of unknown specs: switches are booleans, value flags strings, multiple flags lists. */
export type Flags = Record<string, string | boolean | string[] | undefined>;

/** The value one flag spec parses to (a flag with `choices` gets their union). */
export type FlagValue<S extends FlagSpec> = S extends { type: "switch" }
  ? boolean
  : S extends { multiple: true }
    ? string[]
    : S extends { default: string }
      ? Choice<S>
      : Choice<S> | undefined;

type Choice<S extends FlagSpec> = S extends { choices: readonly (infer C extends string)[] }
  ? C
  : string;

/**
 * The parsed flags of `F`, keyed by long name: typed for specs whose names are
 * literal; specs typed only as FlagSpec add an index signature of any flag.
 */
export type FlagsOf<F extends readonly FlagSpec[]> = {
  readonly [S in F[number] as string extends S["name"] ? never : S["name"]]: FlagValue<S>;
} & (string extends F[number]["name"] ? Flags : unknown);

export interface Parsed<F extends readonly FlagSpec[] = readonly FlagSpec[]> {
  flags: FlagsOf<F>;
  positionals: string[];
}

/** A mistake in how a program was called: exit status 2 and a pointer to --help. */
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
  /** The program, for error messages (default `sbx`). */
  program?: string | undefined;
  /** The command, for error messages (e.g. `sandbox rm`); "" for the program itself. */
  command: string;
  /** How an unknown flag is reported (default: `unknown flag --x for "sbx run"`). */
  unknownFlag?: ((shown: string, where: string) => string) | undefined;
  /**
   * After this many positionals, every remaining word is a positional, flags
   * included (`sbx run ID CMD...`: 1).
   */
  passthroughAfter?: number | undefined;
  env?: Record<string, string | undefined>;
}

/**
 * Parses `argv` against `specs`. Absent switches are false, absent repeatable
 * flags empty lists. Throws UsageError.
 */
export function parseArgs<const F extends readonly FlagSpec[]>(
  argv: readonly string[],
  specs: F,
  options: ParseOptions,
): Parsed<F> {
  const byLong = new Map(specs.map((s) => [s.name, s]));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short!, s]));
  const flags: Flags = {};
  const positionals: string[] = [];
  const program = options.program ?? "sbx";
  const where = options.command ? `${program} ${options.command}` : program;
  const unknown = (shown: string): UsageError =>
    new UsageError(
      options.unknownFlag
        ? options.unknownFlag(shown, where)
        : `unknown flag ${shown} for "${where}"`,
      options.command,
    );

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
      if (!spec) throw unknown(`--${name}`);
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
        if (!spec) throw unknown(`-${letter}`);
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
    else if (spec.type === "switch") flags[spec.name] = false;
    else if (spec.multiple) flags[spec.name] = [];
  }
  return { flags: flags as FlagsOf<F>, positionals };
}

/**
 * One help line per flag, aligned: `-n, --name VALUE   description (extras)`,
 * where the extras say repeatable, the environment variable and the default.
 */
export function flagHelp(flags: readonly FlagSpec[]): string[] {
  const left = flags.map((f) => {
    const names = `${f.short ? `-${f.short}, ` : "    "}--${f.name}`;
    return f.type === "value" ? `${names} ${f.valueName ?? "VALUE"}` : names;
  });
  const width = Math.max(...left.map((l) => l.length));
  return flags.map((f, i) => {
    const extras = [
      f.multiple ? "repeatable" : "",
      f.env ? `$${f.env}` : "",
      f.default !== undefined ? `default ${f.default}` : "",
    ].filter(Boolean);
    const suffix = extras.length ? ` (${extras.join(", ")})` : "";
    return `  ${left[i]!.padEnd(width)}   ${f.description}${suffix}`;
  });
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
