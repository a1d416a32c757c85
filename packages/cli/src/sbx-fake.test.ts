// The sbx executable against the SDK's fake daemon: real processes, real
// FIFOs, no root. (test/src/cli runs the same against a real sandboxd.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startFakeDaemon } from "@sandboxd/client/testing";

const bin = fileURLToPath(new URL("../bin/sbx", import.meta.url));

interface Result {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

async function setup(t: { after: (fn: () => Promise<void>) => void }) {
  const dir = await mkdtemp(join(tmpdir(), "sbx-cli-test-"));
  const daemon = await startFakeDaemon({ dir });
  t.after(async () => {
    await daemon.close();
    await rm(dir, { recursive: true, force: true });
  });
  const env = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    SANDBOXD_ADDRESS: daemon.address,
    TMPDIR: dir,
  };
  const start = (args: string[], input?: string) => {
    const child = spawn(bin, args, { env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stdin.end(input);
    const done = once(child, "exit").then(([status, signal]) => ({
      status: status as number | null,
      signal: signal as NodeJS.Signals | null,
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
  return { daemon, sbx, start, json, dir };
}

test("sbx run passes the container's exit status on, and --rm leaves nothing", async (t) => {
  const { sbx, json } = await setup(t);
  const r = await sbx([
    "run",
    "--rm",
    "--rootfs",
    "/",
    "x",
    "sh",
    "-c",
    "echo out; echo err >&2; exit 3",
  ]);
  assert.equal(r.status, 3, r.stderr);
  assert.equal(r.stdout, "out\n");
  assert.equal(r.stderr, "err\n");
  assert.deepEqual(await json(["sandbox", "ls"]), []);
  assert.deepEqual(await json(["container", "ls"]), []);
  assert.deepEqual(await json(["task", "ls"]), []);
});

test("sbx run without --rm keeps the stopped container and its sandbox", async (t) => {
  const { sbx, json } = await setup(t);
  assert.equal((await sbx(["run", "--rootfs", "/", "keep", "true"])).status, 0);
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
  assert.equal(container!.id, "keep");
  assert.equal(container!.sandbox, "keep");
  assert.equal(container!.runtime, "io.containerd.sbx.v1");
  assert.match(container!.createdAt as string, /^\d{4}-\d\d-\d\dT/);
  const again = await sbx(["run", "--rootfs", "/", "keep", "true"]);
  assert.equal(again.status, 1);
  assert.match(again.stderr, /sandbox "keep": already exists\n.*sbx sandbox rm -f keep/);
  const refused = await sbx(["sandbox", "rm", "keep"]);
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /still has containers \(keep\).*\n.*"sbx sandbox rm -f keep"/);
  assert.equal((await sbx(["sandbox", "rm", "-f", "keep"])).status, 0);
  assert.deepEqual(await json(["container", "ls"]), []);
});

test("stdin reaches the container", async (t) => {
  const { sbx } = await setup(t);
  const r = await sbx(["run", "--rm", "--rootfs", "/", "cat", "cat"], "piped input\n");
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, "piped input\n");
});

test("SIGTERM to sbx is forwarded to the container", async (t) => {
  const { start, json } = await setup(t);
  const { child, done } = start(["run", "--rm", "--rootfs", "/", "sleeper", "sleep", "1000"]);
  // Wait until the task runs, then signal sbx.
  const deadline = Date.now() + 10_000;
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

test("detached run, exec, ps, kill, JSON fields", async (t) => {
  const { sbx, json } = await setup(t);
  const d = await sbx(["run", "-d", "--label", "app=web", "--rootfs", "/", "web", "sleep", "1000"]);
  assert.equal(d.status, 0, d.stderr);
  assert.equal(d.stdout, "web\n");

  const sandboxes = (await json(["sandbox", "ls"])) as Record<string, unknown>[];
  assert.equal(sandboxes.length, 1);
  assert.deepEqual(Object.keys(sandboxes[0]!).sort(), [
    "containers",
    "createdAt",
    "id",
    "labels",
    "pid",
    "runtime",
    "sandboxer",
    "state",
  ]);
  assert.equal(sandboxes[0]!.state, "SANDBOX_READY");
  assert.deepEqual(sandboxes[0]!.containers, ["web"]);
  assert.deepEqual(sandboxes[0]!.labels, { app: "web" });

  const tasks = (await json(["task", "ls"])) as Record<string, unknown>[];
  assert.deepEqual(Object.keys(tasks[0]!).sort(), [
    "exitStatus",
    "exitedAt",
    "id",
    "pid",
    "status",
    "terminal",
  ]);
  assert.equal(tasks[0]!.status, "running");

  const exec = await sbx(["task", "exec", "web", "sh", "-c", "echo in-exec; exit 4"]);
  assert.equal(exec.status, 4, exec.stderr);
  assert.equal(exec.stdout, "in-exec\n");

  const ps = (await json(["task", "ps", "web"])) as { pid: number }[];
  assert.equal(ps[0]!.pid, tasks[0]!.pid);

  const inspect = (await json(["sandbox", "inspect", "web"])) as Record<string, unknown>[];
  assert.equal(inspect[0]!.id, "web");
  assert.deepEqual(inspect[0]!.containers, ["web"]);
  assert.equal((inspect[0]!.status as { state: string }).state, "SANDBOX_READY");
  const info = (await json(["container", "info", "web"])) as {
    spec: { process: { args: string[] } };
  }[];
  assert.deepEqual(info[0]!.spec.process.args, ["sleep", "1000"]);

  const metrics = (await json(["task", "metrics", "web"])) as Record<string, unknown>;
  assert.deepEqual(Object.keys(metrics).sort(), ["cgroup", "data", "id", "timestamp"]);

  const version = (await json(["version"])) as {
    client: { version: string };
    server: { version: string };
  };
  assert.equal(version.server.version, "v0.0.0-fake");

  assert.equal((await sbx(["task", "kill", "-s", "KILL", "web"])).status, 0);
  const running = await sbx(["container", "rm", "web"]);
  assert.equal(running.status, 0, "a stopped task is removed with its container");
  assert.equal((await sbx(["sandbox", "rm", "web"])).status, 0);
});

test("a wrong id says which", async (t) => {
  const { sbx } = await setup(t);
  for (const [args, message] of [
    [["sandbox", "rm", "ghost"], /^sbx: sandbox "ghost": not found\n/],
    [["container", "info", "ghost"], /^sbx: container "ghost": not found\n/],
    [["task", "kill", "ghost"], /^sbx: container "ghost": not found\n/],
  ] as const) {
    const r = await sbx([...args]);
    assert.equal(r.status, 1, args.join(" "));
    assert.match(r.stderr, message);
  }
});

test("namespaces", async (t) => {
  const { sbx, json } = await setup(t);
  assert.equal((await sbx(["ns", "create", "team-a", "owner=me"])).status, 0);
  assert.equal((await sbx(["ns", "label", "team-a", "env=dev", "owner="])).status, 0);
  const list = (await json(["ns", "ls"])) as { name: string; labels: Record<string, string> }[];
  assert.deepEqual(
    list.find((n) => n.name === "team-a"),
    { name: "team-a", labels: { env: "dev" } },
  );
  assert.equal(
    (await sbx(["-n", "team-a", "run", "--rm", "--rootfs", "/", "x", "true"])).status,
    0,
  );
  assert.equal((await sbx(["ns", "rm", "team-a"])).status, 0);
});

test("the FIFO directory is cleaned up", async (t) => {
  const { sbx, dir } = await setup(t);
  assert.equal((await sbx(["run", "--rm", "--rootfs", "/", "x", "echo", "hi"])).status, 0);
  const left = (await readdir(dir)).filter((f) => f !== "fake.sock" && f !== "node-compile-cache");
  assert.deepEqual(left, []);
});
