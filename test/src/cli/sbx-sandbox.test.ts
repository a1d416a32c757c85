// `sbx sandbox run|ls|inspect|stop|pause|resume|rm|metrics` and containers
// joining a sandbox, against a real sandboxd and sbx-sandboxer (root), with
// the JSON fields the CLI README promises.
import { test } from "node:test";
import assert from "node:assert/strict";
import { waitUntil } from "@sandboxd/testing";
import { assertEmpty, setupSbx } from "./harness.js";

test("sandbox run, ls, inspect, containers joining it, JSON fields, rm -f", async (t) => {
  const { sbx, json, client } = await setupSbx(t);
  const run = await sbx(["sandbox", "run", "--label", "app=web", "web"]);
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stdout, "web\n");
  const d = await sbx(["run", "-d", "--sandbox", "web", "server", "sleep", "1000"]);
  assert.equal(d.status, 0, d.stderr);
  assert.equal(d.stdout, "server\n");
  const peer = await sbx(["run", "--rm", "--sandbox", "web", "peer", "hostname"]);
  assert.equal(peer.status, 0, peer.stderr);
  assert.equal(peer.stdout, "web\n", "containers of a sandbox share its hostname");

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
  assert.deepEqual(sandbox!.labels, { app: "web" });
  assert.equal(sandbox!.runtime, "io.containerd.sbx.v1");
  assert.ok(!Number.isNaN(Date.parse(sandbox!.createdAt as string)), "createdAt is ISO 8601");
  // Filters use containerd's syntax.
  assert.equal(((await json(["sandbox", "ls", "labels.app==web"])) as unknown[]).length, 1);
  assert.equal(((await json(["sandbox", "ls", "labels.app==db"])) as unknown[]).length, 0);
  const quiet = await sbx(["sandbox", "ls", "-q"]);
  assert.equal(quiet.stdout, "web\n");
  const table = await sbx(["sandbox", "ls"]);
  assert.match(table.stdout, /^SANDBOX +STATE +PID +RUNTIME +SANDBOXER +CONTAINERS/);
  assert.match(
    table.stdout,
    /\nweb +ready +(\d+|-) +io\.containerd\.sbx\.v1 +shim +1 +.* ago +app=web\n/,
  );

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
  assert.equal(container!.sandbox, "web");
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
  assert.deepEqual(Object.keys(inspect!).sort(), [
    "containers",
    "createdAt",
    "extensions",
    "id",
    "labels",
    "runtime",
    "sandboxer",
    "spec",
    "status",
    "updatedAt",
  ]);
  const status = inspect!.status as Record<string, unknown>;
  assert.equal(status.state, "SANDBOX_READY");
  assert.match(status.address as string, /^ttrpc\+unix:\/\//);
  assert.deepEqual(inspect!.containers, ["server"]);

  const exec = await sbx(["task", "exec", "server", "sh", "-c", "exit 4"]);
  assert.equal(exec.status, 4, exec.stderr);
  const refused = await sbx(["sandbox", "rm", "web"]);
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /still has containers \(server\)/);
  const rm = await sbx(["sandbox", "rm", "-f", "web"]);
  assert.equal(rm.status, 0, rm.stderr);
  assert.equal(rm.stdout, "web\n");
  await assertEmpty(client);
});

test("sandbox pause, resume, metrics, stop, rm", async (t) => {
  const { sbx, json, client } = await setupSbx(t);
  const run = await sbx(["-o", "json", "sandbox", "run", "pod"]);
  assert.equal(run.status, 0, run.stderr);
  const made = JSON.parse(run.stdout) as Record<string, unknown>;
  assert.deepEqual(Object.keys(made).sort(), ["address", "createdAt", "id", "pid", "version"]);
  assert.equal(made.id, "pod");
  const d = await sbx(["run", "-d", "--sandbox", "pod", "busy", "sleep", "1000"]);
  assert.equal(d.status, 0, d.stderr);

  const paused = await sbx(["sandbox", "pause", "pod"]);
  assert.equal(paused.status, 0, paused.stderr);
  assert.equal(((await json(["task", "ls"])) as { status: string }[])[0]?.status, "paused");
  const resumed = await sbx(["sandbox", "resume", "pod"]);
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.equal(((await json(["task", "ls"])) as { status: string }[])[0]?.status, "running");

  const metrics = (await json(["sandbox", "metrics", "pod"])) as Record<string, unknown>;
  const m = Array.isArray(metrics) ? (metrics[0] as Record<string, unknown>) : metrics;
  assert.deepEqual(Object.keys(m).sort(), ["cgroup", "data", "id", "timestamp"]);
  assert.equal(m.id, "pod");
  assert.notEqual(m.cgroup, "unknown");
  const table = await sbx(["sandbox", "metrics", "pod"]);
  assert.equal(table.status, 0, table.stderr);
  assert.notEqual(table.stdout, "");

  // Stop ends the sandbox (and the task in it); rm then deletes what remains.
  const stop = await sbx(["sandbox", "stop", "--timeout", "0", "pod"]);
  assert.equal(stop.status, 0, stop.stderr);
  const [stopped] = (await json(["sandbox", "ls"])) as { state: string }[];
  assert.notEqual(stopped?.state, "SANDBOX_READY");
  const rm = await sbx(["sandbox", "rm", "-f", "pod"]);
  assert.equal(rm.status, 0, rm.stderr);
  await assertEmpty(client);
  // Stop and rm of what is gone: rm names it, stop too.
  const again = await sbx(["sandbox", "stop", "pod"]);
  assert.equal(again.status, 1);
  assert.match(again.stderr, /sandbox "pod": not found/);
});

test("run -d with labels, exec output, ps, info, task metrics, rm of a stopped task, -n", async (t) => {
  const { sbx, json, client } = await setupSbx(t);
  const d = await sbx(["run", "-d", "--label", "app=web", "web", "sleep", "1000"]);
  assert.equal(d.status, 0, d.stderr);
  assert.equal(d.stdout, "web\n");
  const [sandbox] = (await json(["sandbox", "ls"])) as Record<string, unknown>[];
  assert.deepEqual(
    { id: sandbox!.id, labels: sandbox!.labels, containers: sandbox!.containers },
    { id: "web", labels: { app: "web" }, containers: ["web"] },
    "run made the container's own sandbox, labelled like it",
  );
  const exec = await sbx(["task", "exec", "web", "sh", "-c", "echo in-exec; exit 4"]);
  assert.equal(exec.status, 4, exec.stderr);
  assert.equal(exec.stdout, "in-exec\n");
  const [task] = (await json(["task", "ls"])) as { pid: number }[];
  const ps = (await json(["task", "ps", "web"])) as { pid: number; execId: string }[];
  assert.ok(ps.some((p) => p.pid === task!.pid));
  const [info] = (await json(["container", "info", "web"])) as {
    sandbox: string;
    labels: Record<string, string>;
    spec: { process: { args: string[] } };
  }[];
  assert.deepEqual(info!.spec.process.args, ["sleep", "1000"]);
  assert.equal(info!.sandbox, "web");
  assert.deepEqual(info!.labels, { app: "web" });
  const metrics = (await json(["task", "metrics", "web"])) as Record<string, unknown>;
  const m = Array.isArray(metrics) ? (metrics[0] as Record<string, unknown>) : metrics;
  assert.deepEqual(Object.keys(m).sort(), ["cgroup", "data", "id", "timestamp"]);

  assert.equal((await sbx(["task", "kill", "-s", "KILL", "web"])).status, 0);
  await waitUntil(
    async () => ((await json(["task", "ls"])) as { status: string }[])[0]?.status === "stopped",
    { what: "the task to stop" },
  );
  const rm = await sbx(["container", "rm", "web"]);
  assert.equal(rm.status, 0, `a stopped task goes with its container: ${rm.stderr}`);
  assert.equal((await sbx(["sandbox", "rm", "web"])).status, 0);
  await assertEmpty(client);

  // Another namespace, by -n.
  assert.equal((await sbx(["ns", "create", "team-a", "owner=me"])).status, 0);
  const other = await sbx(["-n", "team-a", "run", "--rm", "x", "sh", "-c", "exit 2"]);
  assert.equal(other.status, 2, other.stderr);
  const list = (await json(["ns", "ls"])) as { name: string; labels: Record<string, string> }[];
  assert.deepEqual(
    list.find((n) => n.name === "team-a"),
    { name: "team-a", labels: { owner: "me" } },
  );
  assert.equal((await sbx(["ns", "rm", "team-a"])).status, 0);
});
