// The sbx executable against a real sandboxd and sbx-sandboxer (root): exit
// status, --rm cleanup, stdin, signals, JSON output, the default busybox rootfs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@sandboxd/client";
import { requireSandboxApi, startDaemon } from "../client/daemon.js";

const sbxBin = fileURLToPath(new URL("../../../packages/cli/bin/sbx", import.meta.url));

interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** sbx against a fresh sandboxd; undefined (and the test todo) while it has no Sandbox API. */
async function setup(t: {
  after: (fn: () => Promise<void>) => void;
  todo: (message: string) => void;
}) {
  const daemon = await startDaemon(t);
  if (!(await requireSandboxApi(t, daemon.address))) return undefined;
  const env = {
    ...daemon.env,
    PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin",
    SANDBOXD_ADDRESS: daemon.address,
    SANDBOXD_NAMESPACE: "cli-it",
    // The embedded default rootfs, prepared on first use, in the test's own directory.
    SANDBOXD_ROOTFS_CACHE: join(daemon.dir, "rootfs-cache"),
  };
  const start = (args: string[], input?: string) => {
    const child = spawn(sbxBin, args, { env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stdin.end(input);
    const done: Promise<Result> = once(child, "exit").then(([status]) => ({
      status: status as number | null,
      stdout,
      stderr,
    }));
    return { child, done };
  };
  const sbx = (args: string[], input?: string): Promise<Result> => start(args, input).done;
  const json = async (args: string[]): Promise<unknown> => {
    const r = await sbx(["-o", "json", ...args]);
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as unknown;
  };
  const client = await Client.connect({ address: daemon.address, namespace: "cli-it" });
  t.after(() => Promise.resolve(client.close()));
  return { sbx, start, json, client };
}

test("sbx run --rm: the exit status is sbx's, and nothing is left", async (t) => {
  const it = await setup(t);
  if (!it) return;
  const { sbx, client } = it;
  const r = await sbx(["run", "--rm", "x", "sh", "-c", "echo out; echo err >&2; exit 3"]);
  assert.equal(r.status, 3, r.stderr);
  assert.equal(r.stdout, "out\n");
  assert.equal(r.stderr, "err\n");
  assert.deepEqual(await client.containers(), []);
  assert.deepEqual(await client.sandboxes(), []);
  assert.deepEqual(await client.tasks(), []);
});

test("stdin reaches the container; the busybox rootfs is read-only", async (t) => {
  const it = await setup(t);
  if (!it) return;
  const { sbx } = it;
  const r = await sbx(["run", "--rm", "cat", "cat"], "piped\n");
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, "piped\n");
  const w = await sbx(["run", "--rm", "w", "touch", "/file"]);
  assert.notEqual(w.status, 0);
  assert.match(w.stderr, /Read-only file system/);
});

test("SIGTERM to sbx run reaches the container", async (t) => {
  const it = await setup(t);
  if (!it) return;
  const { start, json } = it;
  const { child, done } = start(["run", "--rm", "sleeper", "sleep", "1000"]);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const tasks = (await json(["task", "ls"])) as { status: string }[];
    if (tasks[0]?.status === "running") break;
    assert.ok(Date.now() < deadline, "the task did not start");
    await new Promise((r) => setImmediate(r));
  }
  child.kill("SIGTERM");
  const r = await done;
  assert.equal(r.status, 143, r.stderr);
  assert.deepEqual(await json(["sandbox", "ls"]), []);
});

test("sandbox run, ls, inspect, containers joining it, JSON fields, rm -f", async (t) => {
  const it = await setup(t);
  if (!it) return;
  const { sbx, json } = it;
  assert.equal((await sbx(["sandbox", "run", "--label", "app=web", "web"])).stdout, "web\n");
  const d = await sbx(["run", "-d", "--sandbox", "web", "server", "sleep", "1000"]);
  assert.equal(d.status, 0, d.stderr);
  const join2 = await sbx(["run", "--rm", "--sandbox", "web", "peer", "hostname"]);
  assert.equal(join2.status, 0, join2.stderr);
  assert.equal(join2.stdout, "web\n", "containers of a sandbox share its hostname");

  const [sandbox] = (await json(["sandbox", "ls"])) as Record<string, unknown>[];
  assert.deepEqual(Object.keys(sandbox!).sort(), [
    "containers",
    "createdAt",
    "id",
    "labels",
    "pid",
    "runtime",
    "sandboxer",
    "state",
  ]);
  assert.equal(sandbox!.state, "SANDBOX_READY");
  assert.deepEqual(sandbox!.containers, ["server"]);
  const [container] = (await json(["container", "ls"])) as Record<string, unknown>[];
  assert.deepEqual(Object.keys(container!).sort(), [
    "createdAt",
    "id",
    "image",
    "labels",
    "runtime",
    "sandbox",
    "updatedAt",
  ]);
  const [task] = (await json(["task", "ls"])) as Record<string, unknown>[];
  assert.deepEqual(Object.keys(task!).sort(), [
    "exitStatus",
    "exitedAt",
    "id",
    "pid",
    "status",
    "terminal",
  ]);
  const [inspect] = (await json(["sandbox", "inspect", "web"])) as Record<string, unknown>[];
  assert.equal((inspect!.status as { state: string }).state, "SANDBOX_READY");

  const exec = await sbx(["task", "exec", "server", "sh", "-c", "exit 4"]);
  assert.equal(exec.status, 4, exec.stderr);
  const refused = await sbx(["sandbox", "rm", "web"]);
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /still has containers \(server\)/);
  assert.equal((await sbx(["sandbox", "rm", "-f", "web"])).status, 0, "rm -f");
  assert.deepEqual(await json(["sandbox", "ls"]), []);
  assert.deepEqual(await json(["container", "ls"]), []);
});

test("a wrong id says which", async (t) => {
  const it = await setup(t);
  if (!it) return;
  const { sbx } = it;
  const r = await sbx(["sandbox", "rm", "ghost"]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^sbx: sandbox "ghost": not found\n/);
});
