import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { bashCompletion, zshCompletion } from "./completion.js";
import { commands } from "./commands.js";

// Runs the completion function in bash for a command line; returns the offers.
function complete(line: string): string[] {
  const words = line.split(" ");
  const script = `${bashCompletion()}
sbx() { local a; for a; do case $a in sandbox|container|task|namespace) echo "fake-$a-id"; return ;; esac; done; }
COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")})
COMP_CWORD=${words.length - 1}
_sbx
printf '%s\\n' "\${COMPREPLY[@]}"`;
  return execFileSync("bash", ["-c", script], { encoding: "utf8" }).split("\n").filter(Boolean);
}

test("the scripts are valid shell", () => {
  execFileSync("bash", ["-n", "-c", bashCompletion()]);
  assert.match(zshCompletion(), /bashcompinit/);
});

test("completes commands, subcommands, flags and values", () => {
  assert.deepEqual(complete("sbx ru"), ["run"]);
  assert.ok(complete("sbx ").includes("sandbox"));
  assert.deepEqual(complete("sbx sandbox r"), ["run", "resume", "rm", "remove"]);
  assert.deepEqual(complete("sbx sb l"), ["ls", "list"]);
  assert.ok(complete("sbx run --r").includes("--rm"));
  assert.ok(complete("sbx run --r").includes("--rootfs"));
  assert.deepEqual(complete("sbx -o "), ["table", "json"]);
  assert.deepEqual(complete("sbx sandbox ls -o j"), ["json"]);
  assert.deepEqual(complete("sbx completion "), ["bash", "zsh"]);
});

test("completes ids by asking sbx", () => {
  assert.deepEqual(complete("sbx sandbox rm "), ["fake-sandbox-id"]);
  assert.deepEqual(complete("sbx -n x container info "), ["fake-container-id"]);
  assert.deepEqual(complete("sbx task kill -s KILL "), ["fake-task-id"]);
  assert.deepEqual(complete("sbx run --sandbox "), ["fake-sandbox-id"]);
});

test("every command is completed", () => {
  const top = complete("sbx ");
  for (const c of commands) assert.ok(top.includes(c.name.split(" ")[0]!), c.name);
});
