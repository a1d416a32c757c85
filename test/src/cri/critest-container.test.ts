// critest "Container": basic operations one spec per test (create, start,
// stop, remove when created / running / stopped), execSync and its timeout,
// the CRI log and its reopening after a rename (kubelet's rotation). The
// stats specs are in the stats suite; volumes in security.test.ts.
import assert from "node:assert/strict";
import { readFile, rename, stat } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ContainerState, type PodSandboxConfig } from "@sandboxd/api/cri/runtime/v1/api_pb";
import { waitUntil } from "@sandboxd/testing";
import { containerConfig, openCri, podConfig, type CriWorld } from "./harness.js";

describe("critest Container", { timeout: 240_000 }, () => {
  let w: CriWorld;
  let pod: PodSandboxConfig;
  let podId = "";
  let n = 0;
  before(async () => {
    w = await openCri();
    pod = podConfig(w, "ctr");
    podId = (await w.rt.runPodSandbox({ config: pod })).podSandboxId;
  });
  after(async () => {
    await w?.close();
  });

  const create = async (cmd: string[] = ["sleep", "3600"]) => {
    const config = containerConfig(w, `c${n++}`, cmd);
    const { containerId } = await w.rt.createContainer({
      podSandboxId: podId,
      config,
      sandboxConfig: pod,
    });
    return { id: containerId, logPath: join(pod.logDirectory, config.logPath) };
  };
  const state = async (id: string) =>
    (await w.rt.containerStatus({ containerId: id })).status?.state;
  const listed = async (id: string) =>
    (await w.rt.listContainers({ filter: { id } })).containers.some((c) => c.id === id);
  const logLines = async (path: string) =>
    (await readFile(path, "utf8").catch(() => "")).split("\n").filter(Boolean);

  test("runtime should support creating container", async () => {
    const { id } = await create();
    assert.equal(await listed(id), true);
    assert.equal(await state(id), ContainerState.CONTAINER_CREATED);
  });

  test("runtime should support starting container", async () => {
    const { id } = await create();
    await w.rt.startContainer({ containerId: id });
    assert.equal(await state(id), ContainerState.CONTAINER_RUNNING);
  });

  test("runtime should support stopping container", async () => {
    const { id } = await create();
    await w.rt.startContainer({ containerId: id });
    await w.rt.stopContainer({ containerId: id, timeout: 60n });
    assert.equal(await state(id), ContainerState.CONTAINER_EXITED);
  });

  test("runtime should support removing created container", async () => {
    const { id } = await create();
    await w.rt.removeContainer({ containerId: id });
    assert.equal(await listed(id), false);
  });

  test("runtime should support removing running container", async () => {
    const { id } = await create();
    await w.rt.startContainer({ containerId: id });
    await w.rt.removeContainer({ containerId: id });
    assert.equal(await listed(id), false);
  });

  test("runtime should support removing stopped container", async () => {
    const { id } = await create();
    await w.rt.startContainer({ containerId: id });
    await w.rt.stopContainer({ containerId: id, timeout: 60n });
    await w.rt.removeContainer({ containerId: id });
    assert.equal(await listed(id), false);
  });

  test("runtime should support execSync", async () => {
    const { id } = await create();
    await w.rt.startContainer({ containerId: id });
    const r = await w.rt.execSync({ containerId: id, cmd: ["echo", "hello"], timeout: 0n });
    assert.equal(Buffer.from(r.stdout).toString(), "hello\n");
    assert.equal(r.exitCode, 0);
  });

  test("runtime should support execSync with timeout: the timed-out process is gone", async () => {
    const { id } = await create();
    await w.rt.startContainer({ containerId: id });
    await assert.rejects(w.rt.execSync({ containerId: id, cmd: ["sleep", "4321"], timeout: 1n }));
    // critest runs `pgrep sleep || true`; busybox here has no pgrep, /proc says the same.
    const check = await w.rt.execSync({
      containerId: id,
      cmd: [
        "sh",
        "-c",
        `for f in /proc/[0-9]*/cmdline; do [ "$(tr '\\0' ' ' < $f 2>/dev/null)" = "sleep 4321 " ] && echo $f; done; true`,
      ],
      timeout: 60n,
    });
    assert.equal(Buffer.from(check.stderr).toString(), "");
    assert.equal(Buffer.from(check.stdout).toString().trim(), "");
  });

  test("runtime should support starting container with log", async () => {
    const { id, logPath } = await create(["echo", "hello, world"]);
    await w.rt.startContainer({ containerId: id });
    await waitUntil(async () => (await state(id)) === ContainerState.CONTAINER_EXITED, {
      timeoutMs: 60_000,
      what: "the container to exit",
    });
    const lines = await logLines(logPath);
    assert.equal(lines.length, 1);
    const [ts = "", stream, tag, ...rest] = lines[0]?.split(" ") ?? [];
    assert.ok(!Number.isNaN(Date.parse(ts)), ts);
    assert.deepEqual([stream, tag, rest.join(" ")], ["stdout", "F", "hello, world"]);
  });

  test("runtime should support reopening container log", async () => {
    const { id, logPath } = await create([
      "sh",
      "-c",
      "while true; do echo hello; sleep 0.2; done",
    ]);
    await w.rt.startContainer({ containerId: id });
    await waitUntil(async () => (await logLines(logPath)).length > 0, {
      timeoutMs: 60_000,
      what: "the first log lines",
    });
    await rename(logPath, `${logPath}.new`);
    await w.rt.reopenContainerLog({ containerId: id });
    assert.ok(await stat(logPath), "the new log file exists as soon as ReopenContainerLog returns");
    await waitUntil(async () => (await logLines(logPath)).length > 0, {
      timeoutMs: 60_000,
      what: "lines in the new log file",
    });
    const old = (await logLines(`${logPath}.new`)).length;
    await waitUntil(async () => (await logLines(logPath)).length > 3, {
      timeoutMs: 60_000,
      what: "more lines in the new log file",
    });
    assert.equal((await logLines(`${logPath}.new`)).length, old, "the old file no longer grows");
    await w.rt.removeContainer({ containerId: id });
  });
});
