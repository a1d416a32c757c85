// A pod driven over the sandboxer's own APIs, the way sandboxd drives it: the
// gRPC Controller for the sandbox, the ttrpc Task service for its containers.
import assert from "node:assert/strict";
import { mkdir, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { JsonTypeUrl, packJson, unpackAs } from "@sandboxd/api";
import { MetricsSchema } from "@sandboxd/api/cgroups/cgroup1/stats/metrics_pb";
import { MetricsSchema as V2MetricsSchema } from "@sandboxd/api/cgroups/cgroup2/stats/metrics_pb";
import { Status } from "@sandboxd/api/types/task/task_pb";
import { isNotFound } from "@sandboxd/errdefs";
import { bundle, collect, feed, fifos, sandboxerFixture } from "./helpers.js";

test("a pod: two containers share its network, exec, pause/resume, metrics; stop and shutdown leave nothing", async (t) => {
  const f = await sandboxerFixture(t);
  const ctl = f.controller();
  const tasks = f.tasks();

  await ctl.create({
    sandboxId: "web",
    sandbox: {
      sandboxId: "web",
      runtime: { name: "io.containerd.sbx.v1" },
      labels: { app: "web" },
    },
  });
  assert.equal((await ctl.status({ sandboxId: "web" })).state, "SANDBOX_NOTREADY");
  const started = await ctl.start({ sandboxId: "web" });
  assert.equal(started.address, `ttrpc+unix://${f.sbx.taskSocket}`);
  assert.equal(started.version, 3);
  assert.deepEqual(started.labels, { app: "web" });
  const status = await ctl.status({ sandboxId: "web", verbose: true });
  assert.equal(status.state, "SANDBOX_READY");
  const subnetPrefix = f.sbx.subnet.split(".").slice(0, 3).join(".");
  assert.ok(
    status.info.ip?.startsWith(`${subnetPrefix}.`),
    `pod ip ${status.info.ip} in ${f.sbx.subnet}`,
  );
  assert.equal(status.info.hostname, "web");
  assert.equal(status.version, 3);

  // The server: busybox httpd on the pod's network.
  const www = join(f.dir, "www");
  await mkdir(www, { recursive: true });
  await writeFile(join(www, "index.html"), "hello from the pod\n");
  const serverIo = await fifos(f, "server");
  const serverOut = collect(serverIo.stdout);
  const serverBundle = await bundle(f, "server", {
    args: ["/bin/httpd", "-f", "-p", "8080", "-h", "/www"],
    sandboxId: "web",
    mounts: [{ destination: "/www", type: "bind", source: www, options: ["rbind", "ro"] }],
    resources: { memory: { limit: 64 << 20 }, pids: { limit: 64 } },
  });
  const created = await tasks.create({
    id: "server",
    bundle: serverBundle,
    stdout: serverIo.stdout,
    stderr: serverIo.stderr,
  });
  assert.ok(created.pid > 0);
  const connected = await tasks.connect({ id: "server" });
  assert.equal(connected.taskPid, created.pid);
  assert.equal((await tasks.state({ id: "server" })).status, Status.CREATED);
  await tasks.start({ id: "server" });
  assert.equal((await tasks.state({ id: "server" })).status, Status.RUNNING);

  // The client fetches over localhost: same network namespace, no fixed sleeps (it retries).
  const clientIo = await fifos(f, "client");
  const clientOut = collect(clientIo.stdout);
  const clientBundle = await bundle(f, "client", {
    args: [
      "/bin/sh",
      "-c",
      "for i in $(seq 1 200); do wget -q -O - http://127.0.0.1:8080/index.html && exit 0; sleep 0.05; done; exit 9",
    ],
    sandboxId: "web",
  });
  await tasks.create({
    id: "client",
    bundle: clientBundle,
    stdout: clientIo.stdout,
    stderr: clientIo.stderr,
  });
  const clientWait = tasks.wait({ id: "client" });
  await tasks.start({ id: "client" });
  assert.equal((await clientWait).exitStatus, 0);
  assert.equal(await clientOut, "hello from the pod\n");

  // exec in the server: the pod's hostname and /etc files; stdin reaches it and EOF ends it.
  const execIo = await fifos(f, "exec");
  const execOut = collect(execIo.stdout);
  await tasks.exec({
    id: "server",
    execId: "look",
    stdin: execIo.stdin,
    stdout: execIo.stdout,
    stderr: execIo.stderr,
    spec: packJson(JsonTypeUrl.Process, {
      args: ["/bin/sh", "-c", "hostname; grep -c web /etc/hosts; cat"],
      cwd: "/",
      env: ["PATH=/bin"],
      user: { uid: 0, gid: 0 },
    }),
  });
  const execWait = tasks.wait({ id: "server", execId: "look" });
  const execPid = (await tasks.start({ id: "server", execId: "look" })).pid;
  const pids = await tasks.pids({ id: "server" });
  assert.ok(pids.processes.some((p) => p.pid === created.pid));
  assert.ok(
    pids.processes.some(
      (p) => p.pid === execPid && p.info?.typeUrl === "containerd.runc.v1.ProcessDetails",
    ),
  );
  await feed(execIo.stdin, "typed in\n");
  assert.equal((await execWait).exitStatus, 0);
  assert.equal(await execOut, "web\n1\ntyped in\n");
  assert.equal((await tasks.state({ id: "server", execId: "look" })).status, Status.STOPPED);
  await tasks.delete({ id: "server", execId: "look" });

  // Task pause/resume: one container.
  await tasks.pause({ id: "server" });
  assert.equal((await tasks.state({ id: "server" })).status, Status.PAUSED);
  await tasks.resume({ id: "server" });
  assert.equal((await tasks.state({ id: "server" })).status, Status.RUNNING);

  // Sandbox pause/resume: the whole pod's cgroup.
  await f.admin().pauseSandbox({ namespace: "default", sandboxId: "web" });
  assert.equal((await ctl.status({ sandboxId: "web" })).info.paused, "true");
  assert.equal((await tasks.state({ id: "server" })).status, Status.PAUSED);
  await f.admin().resumeSandbox({ namespace: "default", sandboxId: "web" });
  assert.equal((await tasks.state({ id: "server" })).status, Status.RUNNING);

  // Real metrics from the pod's cgroup, and the container's own.
  const metric = (await ctl.metrics({ sandboxId: "web" })).metrics;
  assert.equal(metric?.id, "web");
  if (metric?.data?.typeUrl === "io.containerd.cgroups.v1.Metrics") {
    const m = unpackAs(metric.data, MetricsSchema);
    assert.ok((m?.cpu?.usage?.total ?? 0n) > 0n, "cpu usage");
    assert.ok((m?.memory?.usage?.usage ?? 0n) > 0n, "memory usage");
    assert.ok((m?.pids?.current ?? 0n) >= 1n, "pids");
    // The pod is sized as the sum of its containers: only the server has a limit, the client none.
    assert.ok((m?.memory?.usage?.limit ?? 0n) > 64n << 20n);
  } else {
    assert.equal(metric?.data?.typeUrl, "io.containerd.cgroups.v2.Metrics");
    const m = unpackAs(metric.data, V2MetricsSchema);
    assert.ok((m?.cpu?.usageUsec ?? 0n) > 0n && (m?.memory?.usage ?? 0n) > 0n);
  }
  const stats = await tasks.stats({ id: "server" });
  assert.match(stats.stats?.typeUrl ?? "", /^io\.containerd\.cgroups\.v[12]\.Metrics$/);
  const viaTtrpc = await f.sandbox().sandboxMetrics({ sandboxId: "web" });
  assert.equal(viaTtrpc.metrics?.id, "web");

  // Stop: containers are killed and the pod is no longer ready; Wait answers.
  const podWait = ctl.wait({ sandboxId: "web" });
  await ctl.stop({ sandboxId: "web", timeoutSecs: 1 });
  await podWait;
  assert.equal((await ctl.status({ sandboxId: "web" })).state, "SANDBOX_NOTREADY");
  assert.equal((await tasks.state({ id: "server" })).status, Status.STOPPED);
  await serverOut;
  await ctl.stop({ sandboxId: "web" });
  await tasks.delete({ id: "client" });
  await ctl.shutdown({ sandboxId: "web" });
  await ctl.shutdown({ sandboxId: "web" });
  await assert.rejects(ctl.status({ sandboxId: "web" }), (e: Error) => isNotFound(e));
  await assert.rejects(tasks.state({ id: "server" }), /not found/);
  // The pod's IP lease is released (host-local keeps one file per leased address).
  const leases = await readdir(join(f.sbx.stateDir, "cni", "sbx")).catch(() => []);
  assert.deepEqual(
    leases.filter((n) => /^\d+\.\d+\.\d+\.\d+$/.test(n)),
    [],
  );
  await f.checkLeaks();
});

test("a task that names no sandbox gets an implicit one, gone with the task", async (t) => {
  const f = await sandboxerFixture(t);
  const tasks = f.tasks("other-ns");
  const io = await fifos(f, "solo");
  const out = collect(io.stdout);
  const b = await bundle(f, "solo", { args: ["/bin/sh", "-c", "echo solo; exit 4"] });
  await tasks.create({ id: "solo", bundle: b, stdout: io.stdout, stderr: io.stderr });
  const status = await f.controller("other-ns").status({ sandboxId: "solo" });
  assert.equal(status.state, "SANDBOX_READY");
  const wait = tasks.wait({ id: "solo" });
  await tasks.start({ id: "solo" });
  assert.equal((await wait).exitStatus, 4);
  assert.equal(await out, "solo\n");
  const deleted = await tasks.delete({ id: "solo" });
  assert.equal(deleted.exitStatus, 4);
  await assert.rejects(f.controller("other-ns").status({ sandboxId: "solo" }), (e: Error) =>
    isNotFound(e),
  );
  await f.checkLeaks();
});

test("a pod's cgroup is sized as the sum of its containers' limits, and follows Update", async (t) => {
  const f = await sandboxerFixture(t, { network: false });
  const ctl = f.controller();
  const tasks = f.tasks();
  await ctl.create({ sandboxId: "sized" });
  await ctl.start({ sandboxId: "sized" });
  const limits = async (): Promise<{ memory: bigint; pids: bigint }> => {
    const data = (await ctl.metrics({ sandboxId: "sized" })).metrics?.data;
    if (data?.typeUrl === "io.containerd.cgroups.v1.Metrics") {
      const m = unpackAs(data, MetricsSchema);
      return { memory: m?.memory?.usage?.limit ?? 0n, pids: m?.pids?.limit ?? 0n };
    }
    const m = unpackAs(data!, V2MetricsSchema);
    return { memory: m?.memory?.usageLimit ?? 0n, pids: m?.pids?.limit ?? 0n };
  };
  // Roomy limits: a created container's process is runc init, a Go program whose threads
  // count against pids.max (a limit of 5 starved it under load) and whose pages against memory.
  for (const [id, mem, pids] of [
    ["a", 64, 100],
    ["b", 32, 50],
  ] as const) {
    const b = await bundle(f, id, {
      args: ["/bin/sleep", "1000"],
      sandboxId: "sized",
      resources: { memory: { limit: mem << 20 }, pids: { limit: pids } },
    });
    await tasks.create({ id, bundle: b, stdout: "", stderr: "" });
  }
  assert.deepEqual(await limits(), { memory: 96n << 20n, pids: 150n });
  await tasks.update({
    id: "b",
    resources: packJson(JsonTypeUrl.LinuxResources, {
      memory: { limit: 128 << 20 },
      pids: { limit: 200 },
    }),
  });
  assert.deepEqual(await limits(), { memory: 192n << 20n, pids: 300n });
  await tasks.delete({ id: "b" });
  assert.deepEqual(await limits(), { memory: 64n << 20n, pids: 100n });
  await ctl.shutdown({ sandboxId: "sized" });
  await f.checkLeaks();
});

test("a pod that shares its pid namespace: containers see each other's processes", async (t) => {
  const f = await sandboxerFixture(t, { network: false });
  const ctl = f.controller();
  const tasks = f.tasks();
  await ctl.create({ sandboxId: "shared", annotations: { "io.sandboxd.pod.share-pid": "true" } });
  await ctl.start({ sandboxId: "shared" });
  assert.ok((await ctl.status({ sandboxId: "shared" })).pid > 0, "the pid namespace holder's pid");
  const sleeper = await bundle(f, "sleeper", { args: ["/bin/sleep", "1234"], sandboxId: "shared" });
  await tasks.create({ id: "sleeper", bundle: sleeper, stdout: "", stderr: "" });
  await tasks.start({ id: "sleeper" });
  const io = await fifos(f, "ps");
  const out = collect(io.stdout);
  const ps = await bundle(f, "ps", { args: ["/bin/ps", "-o", "args"], sandboxId: "shared" });
  await tasks.create({ id: "ps", bundle: ps, stdout: io.stdout, stderr: io.stderr });
  const wait = tasks.wait({ id: "ps" });
  await tasks.start({ id: "ps" });
  assert.equal((await wait).exitStatus, 0);
  assert.match(await out, /sleep 1234/);
  await ctl.stop({ sandboxId: "shared", timeoutSecs: 0 });
  await ctl.shutdown({ sandboxId: "shared" });
  await f.checkLeaks();
});
