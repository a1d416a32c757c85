// sbx in-process: help, usage errors, and the daemon-down message. No daemon.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { commands, groups } from "./commands.js";
import { distance, main, resolve } from "./main.js";

function sink(): Writable & { text: string } {
  const w = new Writable({
    write(chunk: Buffer, _enc, cb) {
      w.text += chunk.toString();
      cb();
    },
  }) as Writable & { text: string };
  w.text = "";
  return w;
}

async function sbx(argv: string[], env: Record<string, string> = {}) {
  const stdout = sink();
  const stderr = sink();
  const status = await main(argv, { stdout, stderr, env });
  return { status, stdout: stdout.text, stderr: stderr.text };
}

test("--help on every command exits 0 and shows usage and examples", async () => {
  for (const c of commands) {
    for (const argv of [
      [...c.name.split(" "), "--help"],
      ["help", ...c.name.split(" ")],
      ["-h", ...c.name.split(" ")],
    ]) {
      const r = await sbx(argv);
      assert.equal(r.status, 0, argv.join(" "));
      assert.match(r.stdout, new RegExp(`Usage: sbx ${c.name}`), argv.join(" "));
      assert.match(r.stdout, /Examples:\n {2}sbx /, argv.join(" "));
      assert.equal(r.stderr, "");
    }
    assert.ok(c.examples.length > 0, `${c.name} has examples`);
  }
  for (const g of groups) {
    for (const word of [g.name, ...g.aliases]) {
      const r = await sbx([word, "--help"]);
      assert.equal(r.status, 0);
      assert.match(r.stdout, new RegExp(`Usage: sbx ${g.name} COMMAND`));
    }
  }
  for (const argv of [[], ["--help"], ["-h"], ["help"]]) {
    const r = await sbx(argv);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /Usage: sbx \[flags\] COMMAND/);
  }
});

test("--help wins over missing arguments", async () => {
  assert.equal((await sbx(["sandbox", "rm", "--help"])).status, 0);
  assert.equal((await sbx(["run", "-h"])).status, 0);
});

test("usage mistakes exit 2 and point at the command's help", async () => {
  const cases: [string[], RegExp][] = [
    [
      ["sandbox", "rm"],
      /"sbx sandbox rm" needs an argument: ID\.\.\.\nSee "sbx sandbox rm --help"/,
    ],
    [["version", "extra"], /"sbx version" takes no arguments/],
    [["run", "--bogus", "x"], /unknown flag --bogus for "sbx run"/],
    [["-o", "yaml", "sandbox", "ls"], /flag -o must be one of table, json, not "yaml"/],
    [["sandbox", "frob"], /unknown command "sandbox frob"\nSee "sbx sandbox --help"/],
    [["rn", "x"], /unknown command "rn" \(did you mean "run"\?\)/],
    [["sandbox", "stop", "--timeout", "soon", "x"], /flag --timeout must be a number of seconds/],
    [["completion", "fish"], /completion for "fish" is not available/],
  ];
  for (const [argv, message] of cases) {
    const r = await sbx(argv);
    assert.equal(r.status, 2, argv.join(" "));
    assert.match(r.stderr, message, argv.join(" "));
    assert.equal(r.stdout, "");
  }
});

test("a daemon that is down: what happened and how to start it, exit 1, no stack", async () => {
  const address = "/nonexistent/sandboxd.sock";
  for (const argv of [["version"], ["sandbox", "ls"], ["--address", address, "container", "ls"]]) {
    const r = await sbx(argv, { SANDBOXD_ADDRESS: address });
    assert.equal(r.status, 1, argv.join(" "));
    assert.match(
      r.stderr,
      /^sbx: cannot connect to sandboxd at \/nonexistent\/sandboxd\.sock: the socket does not exist\. Is sandboxd running\?/,
    );
    assert.match(r.stderr, /sandboxd --config/);
    assert.match(r.stderr, /npm run demo/);
    assert.match(r.stderr, /--address/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  }
  const debug = await sbx(["--debug", "version"], { SANDBOXD_ADDRESS: address });
  assert.match(debug.stderr, /\n\s+at /, "a stack trace with --debug");
});

test("global flags before the command are handed to it", () => {
  const r = resolve(["-n", "x", "--output", "json", "sb", "ls", "-q"]);
  assert.equal(r.kind, "command");
  if (r.kind === "command") {
    assert.equal(r.spec.name, "sandbox ls");
    assert.deepEqual(r.rest, ["-n", "x", "--output", "json", "-q"]);
  }
});

test("completion needs no daemon", async () => {
  const r = await sbx(["completion", "bash"], { SANDBOXD_ADDRESS: "/nonexistent" });
  assert.equal(r.status, 0);
  assert.match(r.stdout, /complete -F _sbx sbx/);
});

test("distance", () => {
  assert.equal(distance("run", "rn"), 1);
  assert.equal(distance("sandbox", "sandbox"), 0);
  assert.equal(distance("", "abc"), 3);
});
