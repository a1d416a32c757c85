import { test } from "node:test";
import assert from "node:assert/strict";
import type { FlagSpec } from "./args.js";
import { flagHelp, keyValues, parseArgs, UsageError, valueFlags } from "./args.js";

const specs: FlagSpec[] = [
  { name: "rm", type: "switch", description: "" },
  { name: "detach", short: "d", type: "switch", description: "" },
  { name: "tty", short: "t", type: "switch", description: "" },
  { name: "env", short: "e", type: "value", multiple: true, description: "" },
  { name: "namespace", short: "n", type: "value", env: "NS", default: "default", description: "" },
  {
    name: "output",
    short: "o",
    type: "value",
    choices: ["table", "json"],
    default: "table",
    description: "",
  },
];

const parse = (argv: string[], passthroughAfter?: number, env: Record<string, string> = {}) =>
  parseArgs(argv, specs, { command: "run", passthroughAfter, env });

test("long, short, clustered and = forms", () => {
  const { flags, positionals } = parse([
    "--rm",
    "-dt",
    "-e",
    "A=1",
    "--env=B=2",
    "-eC=3",
    "-n",
    "x",
    "id",
  ]);
  assert.deepEqual(flags, {
    rm: true,
    detach: true,
    tty: true,
    env: ["A=1", "B=2", "C=3"],
    namespace: "x",
    output: "table",
  });
  assert.deepEqual(positionals, ["id"]);
});

test("passthrough keeps the command's own flags", () => {
  const { flags, positionals } = parse(["--rm", "x", "sh", "-c", "exit 3", "--rm"], 1);
  assert.equal(flags.rm, true);
  assert.deepEqual(positionals, ["x", "sh", "-c", "exit 3", "--rm"]);
});

test("-- ends flags", () => {
  assert.deepEqual(parse(["--", "-d", "x"]).positionals, ["-d", "x"]);
});

test("defaults come from the environment, then the spec", () => {
  assert.equal(parse([], undefined, { NS: "env-ns" }).flags.namespace, "env-ns");
  assert.equal(parse(["-n", "flag-ns"], undefined, { NS: "env-ns" }).flags.namespace, "flag-ns");
  assert.equal(parse([]).flags.namespace, "default");
});

test("mistakes name the flag", () => {
  const cases: [string[], RegExp][] = [
    [["--bogus"], /unknown flag --bogus for "sbx run"/],
    [["-z"], /unknown flag -z/],
    [["--namespace"], /flag --namespace needs a value/],
    [["-n"], /flag -n needs a value/],
    [["-o", "yaml"], /flag -o must be one of table, json, not "yaml"/],
    [["--rm=maybe"], /flag --rm takes no value/],
  ];
  for (const [argv, message] of cases) {
    assert.throws(
      () => parse(argv),
      (err) => err instanceof UsageError && message.test(err.message) && err.command === "run",
      argv.join(" "),
    );
  }
});

test("negative numbers are positionals", () => {
  assert.deepEqual(parse(["-1"]).positionals, ["-1"]);
});

test("keyValues", () => {
  assert.deepEqual(keyValues(["a=1", "b=", "c=x=y"], "label", "x"), { a: "1", b: "", c: "x=y" });
  assert.throws(() => keyValues(["a"], "label", "x"), /label "a" must look like KEY=VALUE/);
});

test("flags come back typed from their specs; absent switches and lists are false and []", () => {
  const { flags } = parseArgs(
    ["-q"],
    [
      { name: "quiet", short: "q", type: "switch", description: "" },
      { name: "label", type: "value", multiple: true, description: "" },
      { name: "out", type: "value", default: "table", description: "" },
      { name: "cwd", type: "value", description: "" },
    ],
    { command: "x" },
  );
  // These assignments are the test: they compile only with the inferred types.
  const quiet: boolean = flags.quiet;
  const labels: string[] = flags.label;
  const out: string = flags.out;
  const cwd: string | undefined = flags.cwd;
  assert.deepEqual([quiet, labels, out, cwd], [true, [], "table", undefined]);
});

test("the program and the unknown-flag wording are the caller's", () => {
  assert.throws(
    () =>
      parseArgs(["--frob"], [], {
        program: "sandboxd",
        command: "",
        unknownFlag: (shown) => `flag provided but not defined: ${shown}`,
      }),
    /^UsageError: flag provided but not defined: --frob$/,
  );
  assert.throws(
    () => parseArgs(["-z"], [], { program: "sbx-sandboxer", command: "" }),
    /unknown flag -z for "sbx-sandboxer"/,
  );
});

test("help lists every flag from its spec, aligned, with its extras once", () => {
  const lines = flagHelp([
    { name: "rm", type: "switch", description: "remove it" },
    {
      name: "env",
      short: "e",
      type: "value",
      multiple: true,
      valueName: "K=V",
      description: "env",
    },
    {
      name: "namespace",
      short: "n",
      type: "value",
      env: "NS",
      default: "default",
      description: "ns",
    },
  ]);
  assert.deepEqual(lines, [
    "      --rm                remove it",
    "  -e, --env K=V           env (repeatable)",
    "  -n, --namespace VALUE   ns ($NS, default default)",
  ]);
});

test("value flags from rows parse like their objects, short names included", () => {
  const specs = valueFlags([
    ["config", "FILE", "TOML config", "c"],
    ["root", "DIR", "persistent data"],
  ]);
  assert.deepEqual(specs, [
    { name: "config", type: "value", valueName: "FILE", description: "TOML config", short: "c" },
    { name: "root", type: "value", valueName: "DIR", description: "persistent data" },
  ]);
  const { flags } = parseArgs(["-c", "a.toml"], specs, { command: "" });
  const config: string | undefined = flags.config;
  assert.equal(config, "a.toml");
  assert.equal(flags.root, undefined);
});
