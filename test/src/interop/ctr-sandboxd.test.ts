// containerd 1.6's own `ctr` (Debian's) drives sandboxd, which runs the stock
// containerd-shim-runc-v2. One sandboxd for the file, a namespace per test.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { openStack, waitUntil } from "@sandboxd/testing";
import { ctrInBackground, type Sandboxd } from "../daemon/harness.js";

let daemon: Sandboxd;
let rootfs: string;
let close: (() => Promise<void>) | undefined;

before(async () => {
  const opened = await openStack({ rootfs: true });
  ({ sandboxd: daemon, close, rootfs } = opened);
});
after(() => close?.());

test("ctr version reports sandboxd's server version and uuid", async () => {
  const r = await daemon.ctr(["version"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    /Server:\n\s+Version:\s+1\.7\.0\+sandboxd\.[0-9.]+\n\s+Revision:\s+sandboxd\n\s+UUID: [0-9a-f-]{36}/,
  );
  // The uuid is kept under root: the same on the next call.
  const again = await daemon.ctr(["version"]);
  assert.equal(again.stdout.match(/UUID: (\S+)/)?.[1], r.stdout.match(/UUID: (\S+)/)?.[1]);
});

test("ctr namespaces create, ls with labels, rm; rm of a namespace with a container fails", async () => {
  assert.equal((await daemon.ctr(["namespaces", "create", "ns-a", "team=blue"])).code, 0);
  const ls = await daemon.ctr(["namespaces", "ls"]);
  assert.match(ls.stdout, /^ns-a\s+team=blue\s*$/m);
  const dup = await daemon.ctr(["namespaces", "create", "ns-a"]);
  assert.notEqual(dup.code, 0);
  assert.match(dup.stderr, /namespace "ns-a": already exists/);
  assert.equal((await daemon.ctr(["namespaces", "rm", "ns-a"])).code, 0);
  assert.doesNotMatch((await daemon.ctr(["namespaces", "ls", "-q"])).stdout, /^ns-a$/m);

  const ns = "ns-busy";
  const run = await daemon.ctr(["run", "-d", "--rootfs", rootfs, "busy", "/bin/sleep", "60"], {
    namespace: ns,
  });
  assert.equal(run.code, 0, run.stderr);
  const rm = await daemon.ctr(["namespaces", "rm", ns]);
  assert.notEqual(rm.code, 0);
  assert.match(rm.stderr, /namespace "ns-busy" must be empty, but it still has containers/);
  await daemon.ctr(["tasks", "kill", "-s", "SIGKILL", "busy"], { namespace: ns });
  await waitUntil(
    async () => (await daemon.ctr(["tasks", "rm", "busy"], { namespace: ns })).code === 0,
    {
      what: "task busy to stop",
    },
  );
  assert.equal((await daemon.ctr(["containers", "rm", "busy"], { namespace: ns })).code, 0);
  assert.equal((await daemon.ctr(["namespaces", "rm", ns])).code, 0);
});

test("ctr run --rm prints the output and returns the process's exit code", async () => {
  const r = await daemon.ctr(
    [
      "run",
      "--rm",
      "--rootfs",
      rootfs,
      "hello",
      "/bin/sh",
      "-c",
      "echo hello; echo oops >&2; exit 7",
    ],
    { namespace: "run-rm" },
  );
  assert.equal(r.stdout, "hello\n");
  assert.equal(r.stderr, "oops\n");
  assert.equal(r.code, 7);
  // --rm removed the container and the task.
  assert.equal((await daemon.ctr(["containers", "ls", "-q"], { namespace: "run-rm" })).stdout, "");
  assert.equal((await daemon.ctr(["tasks", "ls", "-q"], { namespace: "run-rm" })).stdout, "");
});

test("ctr run -d, tasks ls RUNNING, containers ls/info, tasks kill, tasks rm, containers rm", async () => {
  const ns = "detached";
  const run = await daemon.ctr(
    ["run", "-d", "--label", "app=web", "--rootfs", rootfs, "web", "/bin/sleep", "600"],
    { namespace: ns },
  );
  assert.equal(run.code, 0, run.stderr);
  const ls = await daemon.ctr(["tasks", "ls"], { namespace: ns });
  assert.match(ls.stdout, /^web\s+\d+\s+RUNNING$/m);

  const cls = await daemon.ctr(["containers", "ls"], { namespace: ns });
  assert.match(cls.stdout, /^web\s+-\s+io\.containerd\.runc\.v2\s*$/m);
  const filtered = await daemon.ctr(["containers", "ls", "-q", "labels.app==web"], {
    namespace: ns,
  });
  assert.equal(filtered.stdout, "web\n");
  const none = await daemon.ctr(["containers", "ls", "-q", "labels.app==db"], { namespace: ns });
  assert.equal(none.stdout, "");
  const info = await daemon.ctr(["containers", "info", "web"], { namespace: ns });
  assert.equal(info.code, 0, info.stderr);
  const parsed = JSON.parse(info.stdout) as {
    ID: string;
    Labels: Record<string, string>;
    Runtime: { Name: string };
    Spec: { root: { path: string }; process: { args: string[] } };
  };
  assert.equal(parsed.ID, "web");
  assert.equal(parsed.Labels.app, "web");
  assert.equal(parsed.Runtime.Name, "io.containerd.runc.v2");
  assert.equal(parsed.Spec.root.path, rootfs);
  assert.deepEqual(parsed.Spec.process.args, ["/bin/sleep", "600"]);

  // A running task cannot be removed, nor can its container.
  assert.notEqual((await daemon.ctr(["tasks", "rm", "web"], { namespace: ns })).code, 0);
  const crm = await daemon.ctr(["containers", "rm", "web"], { namespace: ns });
  assert.notEqual(crm.code, 0);

  assert.equal(
    (await daemon.ctr(["tasks", "kill", "-s", "SIGKILL", "web"], { namespace: ns })).code,
    0,
  );
  await waitUntil(
    async () =>
      /^web\s+\d+\s+STOPPED$/m.test((await daemon.ctr(["tasks", "ls"], { namespace: ns })).stdout),
    { what: "task web to stop" },
  );
  const trm = await daemon.ctr(["tasks", "rm", "web"], { namespace: ns });
  assert.equal(trm.code, 0, trm.stderr);
  assert.equal((await daemon.ctr(["containers", "rm", "web"], { namespace: ns })).code, 0);
  assert.equal((await daemon.ctr(["containers", "ls", "-q"], { namespace: ns })).stdout, "");
});

test("ctr events shows /tasks/exit (and the rest of a task's life) across namespaces", async (t) => {
  const events = ctrInBackground(t, daemon.address, ["events"]);
  // `ctr events` subscribes before printing anything: wait until sandboxd has the subscriber
  // by publishing a marker event until it shows up.
  await waitUntil(
    async () => {
      await daemon.ctr(["namespaces", "create", `marker-${Date.now()}`]);
      return events.output().includes("/namespaces/create");
    },
    { what: "ctr events to subscribe" },
  );
  const r = await daemon.ctr(["run", "--rm", "--rootfs", rootfs, "ev", "/bin/sh", "-c", "exit 3"], {
    namespace: "events",
  });
  assert.equal(r.code, 3, r.stderr);
  await waitUntil(
    () =>
      /events\s+\/tasks\/exit\s+\{[^\n]*"container_id":"ev"[^\n]*"exit_status":3/.test(
        events.output(),
      ),
    {
      what: "/tasks/exit for ev",
    },
  );
  const topics = [
    "/containers/create",
    "/tasks/create",
    "/tasks/start",
    "/tasks/exit",
    "/tasks/delete",
    "/containers/delete",
  ];
  const seen = (topic: string): boolean =>
    new RegExp(`events\\s+${topic.replaceAll("/", "\\/")}\\s`).test(events.output());
  await waitUntil(() => topics.every(seen), {
    what: `${topics.join(", ")} in:\n${events.output()}`,
  });
  events.stop();
});

test("ctr tasks ps, metrics, pause/resume, exec; containers label; leases", async () => {
  const ns = "more";
  const ctr = (...args: string[]) => daemon.ctr(args, { namespace: ns });
  assert.equal((await ctr("run", "-d", "--rootfs", rootfs, "m", "/bin/sleep", "600")).code, 0);
  assert.match((await ctr("tasks", "ps", "m")).stdout, /^PID\s+INFO\n\d+\s+-/);
  const metrics = await ctr("tasks", "metrics", "m");
  assert.equal(metrics.code, 0, metrics.stderr);
  assert.match(metrics.stdout, /pids\.current\s+1/);
  assert.equal((await ctr("tasks", "pause", "m")).code, 0);
  assert.match((await ctr("tasks", "ls")).stdout, /^m\s+\d+\s+PAUSED$/m);
  assert.equal((await ctr("tasks", "resume", "m")).code, 0);
  assert.match((await ctr("tasks", "ls")).stdout, /^m\s+\d+\s+RUNNING$/m);
  const exec = await ctr(
    "tasks",
    "exec",
    "--exec-id",
    "e1",
    "m",
    "/bin/sh",
    "-c",
    "echo in-exec; exit 4",
  );
  assert.equal(exec.code, 4);
  assert.equal(exec.stdout, "in-exec\n");
  assert.equal((await ctr("containers", "label", "m", "a=b")).code, 0);
  assert.match((await ctr("containers", "info", "m")).stdout, /"a": "b"/);
  assert.equal((await ctr("leases", "create", "--id", "mylease", "x=y")).code, 0);
  assert.match((await ctr("leases", "ls")).stdout, /^mylease\s+.*x=y/m);
  assert.equal((await ctr("leases", "rm", "mylease")).code, 0);
  assert.doesNotMatch((await ctr("leases", "ls")).stdout, /mylease/);
  await ctr("tasks", "kill", "-s", "SIGKILL", "m");
  await waitUntil(async () => (await ctr("tasks", "rm", "m")).code === 0, {
    what: "task m to stop",
  });
  assert.equal((await ctr("containers", "rm", "m")).code, 0);
});

test("a runtime given as an absolute shim path; an unknown runtime fails like containerd", async () => {
  const ns = "runtimes";
  const abs = await daemon.ctr(
    [
      "run",
      "--rm",
      "--runtime",
      "/usr/bin/containerd-shim-runc-v2",
      "--rootfs",
      rootfs,
      "abs",
      "/bin/sh",
      "-c",
      "exit 9",
    ],
    { namespace: ns },
  );
  assert.equal(abs.code, 9, abs.stderr);
  const unknown = await daemon.ctr(
    ["run", "--rm", "--runtime", "io.containerd.nope.v1", "--rootfs", rootfs, "nope", "/bin/true"],
    { namespace: ns },
  );
  assert.notEqual(unknown.code, 0);
  assert.match(
    unknown.stderr,
    /ctr: failed to start shim: failed to resolve runtime path: runtime "io\.containerd\.nope\.v1" binary not installed "containerd-shim-nope-v1": file does not exist: unknown/,
  );
  // --rm removed the container after the failed task create; nothing else was left.
  assert.equal((await daemon.ctr(["containers", "ls", "-q"], { namespace: ns })).stdout, "");
  assert.equal((await daemon.ctr(["tasks", "ls", "-q"], { namespace: ns })).stdout, "");
});
