// sbx against a real sandboxd for what needs no Sandbox API: tasks and
// containers made through the SDK (runtime io.containerd.sbx.v1, no sandbox),
// exec with piped stdin and exit status, kill, metrics, events, namespaces,
// JSON fields. Root.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Client, defaultSpec } from "@sandboxd/client";
import { sbxStack } from "../client/daemon.js";
import { startStack } from "@sandboxd/testing";

const sbxBin = fileURLToPath(new URL("../../../packages/cli/bin/sbx", import.meta.url));

test("sbx task, container, events, namespace and version commands on sandboxd", async (t) => {
  const daemon = await startStack(t, sbxStack);
  const env = {
    ...daemon.env,
    PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin",
    SANDBOXD_ADDRESS: daemon.address,
    SANDBOXD_NAMESPACE: "cli-tasks",
  };
  const sbx = async (args: string[], input = "") => {
    const child = spawn(sbxBin, args, { env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stdin.end(input);
    const [status] = (await once(child, "exit")) as [number | null];
    return { status, stdout, stderr };
  };
  const json = async (args: string[]): Promise<unknown> => {
    const r = await sbx(["-o", "json", ...args]);
    assert.equal(r.status, 0, `${args.join(" ")}: ${r.stderr}`);
    return JSON.parse(r.stdout) as unknown;
  };

  const client = await Client.connect({ address: daemon.address, namespace: "cli-tasks" });
  t.after(() => Promise.resolve(client.close()));
  const container = await client.newContainer("web", {
    runtime: { name: "io.containerd.sbx.v1" },
    spec: defaultSpec({
      id: "web",
      namespace: "cli-tasks",
      args: ["sleep", "1000"],
      rootfs: daemon.rootfs,
      readonlyRootfs: true,
    }),
    labels: { app: "web" },
  });
  const task = await container.newTask();
  await task.start();

  // Events, as JSON lines, from before anything below happens.
  const events = spawn(sbxBin, ["-o", "json", "events", "topic==/tasks/exit"], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  t.after(() => Promise.resolve(events.kill("SIGKILL")));
  const lines = createInterface({ input: events.stdout })[Symbol.asyncIterator]();

  const tasks = (await json(["task", "ls"])) as Record<string, unknown>[];
  assert.deepEqual(tasks, [
    {
      id: "web",
      pid: task.pid,
      status: "running",
      exitStatus: null,
      exitedAt: null,
      terminal: false,
    },
  ]);
  assert.deepEqual(
    ((await json(["task", "ps", "web"])) as { pid: number }[]).map((p) => p.pid).includes(task.pid),
    true,
  );

  const exec = await sbx(
    ["task", "exec", "web", "sh", "-c", 'while read l; do echo "<$l>"; done; exit 4'],
    "a\nb\n",
  );
  assert.equal(exec.status, 4, exec.stderr);
  assert.equal(exec.stdout, "<a>\n<b>\n");

  const metrics = (await json(["task", "metrics", "web"])) as { id: string; cgroup: string };
  assert.equal(metrics.id, "web");
  assert.notEqual(metrics.cgroup, "unknown");

  const [c] = (await json(["container", "ls"])) as Record<string, unknown>[];
  assert.deepEqual(
    { id: c!.id, sandbox: c!.sandbox, runtime: c!.runtime, labels: c!.labels },
    { id: "web", sandbox: "", runtime: "io.containerd.sbx.v1", labels: { app: "web" } },
  );
  const [info] = (await json(["container", "info", "web"])) as {
    spec: { process: { args: string[] } };
  }[];
  assert.deepEqual(info!.spec.process.args, ["sleep", "1000"]);

  const refused = await sbx(["container", "rm", "web"]);
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /sbx container rm -f web/);

  // Generate exits until the events stream reports one (it connects asynchronously).
  let line: IteratorResult<string> | undefined;
  const next = lines.next();
  for (let i = 0; line === undefined && i < 50; i++) {
    const r = await sbx(["task", "exec", "web", "true"]);
    assert.equal(r.status, 0, r.stderr);
    line = await Promise.race([
      next,
      new Promise<undefined>((resolve) => setTimeout(resolve, 100, undefined)),
    ]);
  }
  assert.ok(line && !line.done, "sbx events printed an event");
  const event = JSON.parse(line.value) as Record<string, unknown>;
  assert.deepEqual(Object.keys(event).sort(), ["event", "namespace", "timestamp", "topic", "type"]);
  assert.equal(event.topic, "/tasks/exit");
  assert.equal(event.type, "containerd.events.TaskExit");
  assert.equal(event.namespace, "cli-tasks");

  assert.equal((await sbx(["task", "kill", "-s", "KILL", "web"])).status, 0);
  assert.equal((await sbx(["container", "rm", "-f", "web"])).status, 0);
  assert.deepEqual(await json(["container", "ls"]), []);
  assert.deepEqual(await json(["task", "ls"]), []);

  assert.equal((await sbx(["ns", "create", "cli-other", "owner=me"])).status, 0);
  assert.deepEqual(
    (
      (await json(["ns", "label", "cli-other", "env=dev", "owner="])) as {
        labels: Record<string, string>;
      }
    ).labels,
    { env: "dev" },
  );
  assert.equal((await sbx(["ns", "rm", "cli-other"])).status, 0);

  const version = (await json(["version"])) as { server: { version: string; address: string } };
  assert.equal(version.server.address, daemon.address);
  assert.notEqual(version.server.version, "");

  const missing = await sbx(["task", "kill", "ghost"]);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /ghost/);
});
