// The sbx executable with no daemon: the daemon-down message, and --help on
// every command through the real launcher. No root needed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);
const sbxBin = fileURLToPath(new URL("../../../packages/cli/bin/sbx", import.meta.url));

async function sbx(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await execFileAsync(sbxBin, args, {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env },
    });
    return { status: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { status: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test("sbx says the daemon is down, how to start it, and exits 1", async () => {
  const address = "/run/sandboxd-test-nonexistent/sandboxd.sock";
  for (const args of [
    ["version"],
    ["--address", address, "sandbox", "ls"],
    ["run", "--rm", "--rootfs", "/", "x", "true"],
  ]) {
    const r = await sbx(args, { SANDBOXD_ADDRESS: address });
    assert.equal(r.status, 1, `${args.join(" ")}: ${r.stderr}`);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, new RegExp(`^sbx: cannot connect to sandboxd at ${address}`));
    assert.match(r.stderr, /Is sandboxd running\?/);
    assert.match(r.stderr, /sandboxd --config/);
    assert.match(r.stderr, /npm run demo/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace without --debug");
  }
});

test("--help on every command exits 0 and shows examples", async () => {
  const { stdout } = await sbx(["completion", "bash"]);
  // The command list, from sbx itself (the completion script's top level and groups).
  const groups = ["sandbox", "container", "task", "namespace"];
  const top = ["run", "events", "version", "completion"];
  const subs: Record<string, string[]> = {};
  for (const g of groups) {
    const m = new RegExp(`\\n\\s+${g}\\) COMPREPLY=\\(\\$\\(compgen -W "([^"]+)"`).exec(stdout);
    assert.ok(m, `completion lists ${g}'s commands`);
    subs[g] = m[1]!.split(" ");
  }
  const all = [
    ...top.map((c) => [c]),
    ...groups.flatMap((g) => [[g], ...subs[g]!.map((s) => [g, s])]),
  ];
  assert.ok(all.length > 30);
  for (const words of all) {
    const r = await sbx([...words, "--help"], { SANDBOXD_ADDRESS: "/nonexistent" });
    assert.equal(r.status, 0, `sbx ${words.join(" ")} --help: ${r.stderr}`);
    assert.match(r.stdout, /Usage: sbx /);
    assert.match(r.stdout, /\nExamples:\n {2}\S/, `sbx ${words.join(" ")} --help shows examples`);
  }
});

test("sbx --version needs no daemon", async () => {
  const r = await sbx(["--version"], { SANDBOXD_ADDRESS: "/nonexistent" });
  assert.equal(r.status, 0);
  assert.match(r.stdout, /^sbx \d+\.\d+\.\d+\n$/);
});
