// CRI conformance, part 1: what critest's "Runtime info", "PodSandbox",
// "Container" (basic ops, exec sync, stats, logs) and "Idempotence" specs
// assert, against a real sandboxd + sbx-sandboxer + runc + CNI.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, before, describe, test } from "node:test";
import {
  CgroupDriver,
  ContainerEventType,
  ContainerState,
  PodSandboxState,
} from "@sandboxd/api/cri/runtime/v1/api_pb";
import { isAlreadyExists, isNotFound } from "@sandboxd/errdefs";
import { waitUntil } from "@sandboxd/testing";
import { containerConfig, openCri, podConfig, runContainer, type CriWorld } from "./harness.js";

const rfc3339Nano = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;

describe("CRI runtime.v1 over sandboxd + sbx-sandboxer", { timeout: 180_000 }, () => {
  let w: CriWorld;
  before(async () => {
    w = await openCri();
  });
  after(async () => {
    await w?.close();
  });

  describe("Runtime info", () => {
    test("runtime should return version info", async () => {
      const v = await w.rt.version({ version: "v1" });
      assert.equal(v.runtimeApiVersion, "v1");
      assert.equal(v.runtimeName, "sandboxd");
      assert.notEqual(v.runtimeVersion, "");
    });

    test("runtime should return runtime conditions (RuntimeReady, NetworkReady), handlers and cgroup driver", async () => {
      const s = await w.rt.status({ verbose: false });
      const cond = new Map(s.status?.conditions.map((c) => [c.type, c.status]));
      assert.equal(cond.get("RuntimeReady"), true);
      assert.equal(cond.get("NetworkReady"), true);
      const sbx = s.runtimeHandlers.find((h) => h.name === "sbx");
      assert.equal(sbx?.features?.recursiveReadOnlyMounts, true);
      const rc = await w.rt.runtimeConfig({});
      assert.equal(rc.linux?.cgroupDriver, CgroupDriver.CGROUPFS);
    });
  });

  describe("PodSandbox", () => {
    test("runtime should support basic operations on PodSandbox", async () => {
      const config = podConfig(w, "basic", {
        annotations: { "cri.test/annotation": "a" },
      });
      const { podSandboxId: id } = await w.rt.runPodSandbox({ config });
      const st = await w.rt.podSandboxStatus({ podSandboxId: id });
      assert.equal(st.status?.state, PodSandboxState.SANDBOX_READY);
      assert.equal(st.status?.metadata?.name, config.metadata?.name);
      assert.deepEqual(st.status?.labels, config.labels);
      assert.deepEqual(st.status?.annotations, config.annotations);
      assert.match(st.status?.network?.ip ?? "", /^\d+\.\d+\.\d+\.\d+$/);
      // ListPodSandbox: by id, by state, by label.
      const byId = await w.rt.listPodSandbox({ filter: { id } });
      assert.deepEqual(
        byId.items.map((p) => p.id),
        [id],
      );
      const ready = await w.rt.listPodSandbox({
        filter: { state: { state: PodSandboxState.SANDBOX_READY } },
      });
      assert.ok(ready.items.some((p) => p.id === id));
      const byLabel = await w.rt.listPodSandbox({
        filter: { labelSelector: { "cri.test": "no" } },
      });
      assert.ok(!byLabel.items.some((p) => p.id === id));
      // The same name twice is refused.
      await assert.rejects(w.rt.runPodSandbox({ config }), isAlreadyExists);

      await w.rt.stopPodSandbox({ podSandboxId: id });
      const stopped = await w.rt.podSandboxStatus({ podSandboxId: id });
      assert.equal(stopped.status?.state, PodSandboxState.SANDBOX_NOTREADY);
      const notReady = await w.rt.listPodSandbox({
        filter: { id, state: { state: PodSandboxState.SANDBOX_NOTREADY } },
      });
      assert.equal(notReady.items.length, 1);

      await w.rt.removePodSandbox({ podSandboxId: id });
      const gone = await w.rt.listPodSandbox({ filter: { id } });
      assert.equal(gone.items.length, 0);
      await assert.rejects(w.rt.podSandboxStatus({ podSandboxId: id }), isNotFound);
    });
  });

  describe("Idempotence", () => {
    test("runtime should support stopping/removing a PodSandbox twice and a missing one", async () => {
      const { podSandboxId: id } = await w.rt.runPodSandbox({ config: podConfig(w, "idem") });
      await w.rt.stopPodSandbox({ podSandboxId: id });
      await w.rt.stopPodSandbox({ podSandboxId: id });
      await w.rt.removePodSandbox({ podSandboxId: id });
      await w.rt.removePodSandbox({ podSandboxId: id });
      await w.rt.stopPodSandbox({ podSandboxId: id });
    });

    test("runtime should support stopping/removing a container twice and a missing one", async () => {
      const pod = podConfig(w, "idem-c");
      const { podId, id } = await runContainer(
        w,
        pod,
        containerConfig(w, "idem", ["sleep", "3600"]),
      );
      await w.rt.stopContainer({ containerId: id, timeout: 0n });
      await w.rt.stopContainer({ containerId: id, timeout: 0n });
      await w.rt.removeContainer({ containerId: id });
      await w.rt.removeContainer({ containerId: id });
      await w.rt.stopContainer({ containerId: id, timeout: 0n });
      await w.rt.removePodSandbox({ podSandboxId: podId });
    });
  });

  describe("Container", () => {
    test("runtime should support basic operations on container (create, start, status, list, stop, remove)", async () => {
      const pod = podConfig(w, "ctr");
      const { podSandboxId: podId } = await w.rt.runPodSandbox({ config: pod });
      const config = containerConfig(w, "basic", ["sleep", "3600"], { labels: { tier: "a" } });
      const { containerId: id } = await w.rt.createContainer({
        podSandboxId: podId,
        config,
        sandboxConfig: pod,
      });
      const created = await w.rt.containerStatus({ containerId: id });
      assert.equal(created.status?.state, ContainerState.CONTAINER_CREATED);
      assert.notEqual(created.status?.createdAt, 0n);
      const listed = await w.rt.listContainers({
        filter: { podSandboxId: podId, state: { state: ContainerState.CONTAINER_CREATED } },
      });
      assert.deepEqual(
        listed.containers.map((c) => c.id),
        [id],
      );

      await w.rt.startContainer({ containerId: id });
      const running = await w.rt.containerStatus({ containerId: id });
      assert.equal(running.status?.state, ContainerState.CONTAINER_RUNNING);
      assert.notEqual(running.status?.startedAt, 0n);
      const byLabel = await w.rt.listContainers({ filter: { labelSelector: { tier: "a" } } });
      assert.ok(byLabel.containers.some((c) => c.id === id));
      const none = await w.rt.listContainers({ filter: { labelSelector: { tier: "b" } } });
      assert.ok(!none.containers.some((c) => c.id === id));

      await w.rt.stopContainer({ containerId: id, timeout: 10n });
      const exited = await w.rt.containerStatus({ containerId: id });
      assert.equal(exited.status?.state, ContainerState.CONTAINER_EXITED);
      assert.notEqual(exited.status?.finishedAt, 0n);
      assert.equal(exited.status?.exitCode, 143);

      await w.rt.removeContainer({ containerId: id });
      const after = await w.rt.listContainers({ filter: { id } });
      assert.equal(after.containers.length, 0);
      await w.rt.removePodSandbox({ podSandboxId: podId });
    });

    test("a container that exits on its own is EXITED with its code and reason", async () => {
      const pod = podConfig(w, "exit");
      const { podId, id } = await runContainer(
        w,
        pod,
        containerConfig(w, "exit", ["sh", "-c", "exit 3"]),
      );
      const st = await waitUntil(
        async () => {
          const s = await w.rt.containerStatus({ containerId: id });
          return s.status?.state === ContainerState.CONTAINER_EXITED && s.status;
        },
        { timeoutMs: 20_000, what: "the container to exit" },
      );
      assert.equal(st.exitCode, 3);
      assert.equal(st.reason, "Error");
      await w.rt.removePodSandbox({ podSandboxId: podId });
    });

    test("runtime should support execSync, and execSync with timeout kills only the exec", async () => {
      const pod = podConfig(w, "exec");
      const { podId, id } = await runContainer(
        w,
        pod,
        containerConfig(w, "exec", ["sleep", "3600"]),
      );
      const r = await w.rt.execSync({
        containerId: id,
        cmd: ["sh", "-c", "echo hello; echo oops >&2; exit 4"],
        timeout: 0n,
      });
      assert.equal(Buffer.from(r.stdout).toString(), "hello\n");
      assert.equal(Buffer.from(r.stderr).toString(), "oops\n");
      assert.equal(r.exitCode, 4);
      await assert.rejects(w.rt.execSync({ containerId: id, cmd: ["sleep", "30"], timeout: 1n }));
      const ps = await w.rt.execSync({
        containerId: id,
        cmd: ["sh", "-c", "ps -o args | grep 'sleep 30' | grep -v grep || true"],
        timeout: 0n,
      });
      assert.equal(Buffer.from(ps.stdout).toString(), "");
      assert.equal(Buffer.from(ps.stderr).toString(), "");
      const still = await w.rt.containerStatus({ containerId: id });
      assert.equal(still.status?.state, ContainerState.CONTAINER_RUNNING);
      await w.rt.removePodSandbox({ podSandboxId: podId });
    });

    test("runtime should support ListContainerStats and ContainerStats", async () => {
      const pod = podConfig(w, "stats");
      const { podId, id } = await runContainer(
        w,
        pod,
        containerConfig(w, "stats", ["sleep", "3600"]),
      );
      const one = await w.rt.containerStats({ containerId: id });
      assert.equal(one.stats?.attributes?.id, id);
      assert.ok((one.stats?.memory?.workingSetBytes?.value ?? 0n) > 0n);
      const list = await w.rt.listContainerStats({ filter: { podSandboxId: podId } });
      assert.deepEqual(
        list.stats.map((s) => s.attributes?.id),
        [id],
      );
      assert.ok(list.stats[0]?.cpu?.timestamp);
      await w.rt.removePodSandbox({ podSandboxId: podId });
    });

    test("container OOM: exit 137 and reason OOMKilled (15 MiB limit, dd of 20 MiB)", async () => {
      const pod = podConfig(w, "oom");
      const limit = 15n * 1024n * 1024n;
      const { podId, id } = await runContainer(
        w,
        pod,
        containerConfig(w, "oom", ["sh", "-c", "dd if=/dev/zero of=/dev/null bs=20M"], {
          linux: { resources: { memoryLimitInBytes: limit, memorySwapLimitInBytes: limit } },
        }),
      );
      const st = await waitUntil(
        async () => {
          const s = (await w.rt.containerStatus({ containerId: id })).status;
          return s?.state === ContainerState.CONTAINER_EXITED && s.reason === "OOMKilled" && s;
        },
        { timeoutMs: 30_000, what: "the container to be OOM killed" },
      );
      assert.equal(st.exitCode, 137);
      await w.rt.removePodSandbox({ podSandboxId: podId });
    });

    test("runtime should support UpdateContainerResources (memory limit reaches the cgroup)", async () => {
      const pod = podConfig(w, "update");
      const { podId, id } = await runContainer(w, pod, containerConfig(w, "u", ["sleep", "3600"]));
      const limit = 64n * 1024n * 1024n;
      await w.rt.updateContainerResources({
        containerId: id,
        linux: { memoryLimitInBytes: limit },
      });
      const r = await w.rt.execSync({
        containerId: id,
        cmd: [
          "sh",
          "-c",
          "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max",
        ],
        timeout: 0n,
      });
      assert.equal(Buffer.from(r.stdout).toString().trim(), String(limit));
      await w.rt.removePodSandbox({ podSandboxId: podId });
    });

    test("GetContainerEvents streams created, started, stopped and deleted", async () => {
      const abort = new AbortController();
      const seen: { id: string; type: number }[] = [];
      const stream = w.rt.getContainerEvents({}, { signal: abort.signal });
      const reading = (async () => {
        try {
          for await (const e of stream)
            seen.push({ id: e.containerId, type: e.containerEventType });
        } catch {
          // cancelled
        }
      })();
      const pod = podConfig(w, "events");
      const { podId, id } = await runContainer(
        w,
        pod,
        containerConfig(w, "e", ["sh", "-c", "exit 0"]),
      );
      await w.rt.removePodSandbox({ podSandboxId: podId });
      await waitUntil(() => seen.filter((e) => e.id === id).length >= 4, {
        timeoutMs: 20_000,
        what: "four events for the container",
      });
      assert.deepEqual(
        seen.filter((e) => e.id === id).map((e) => e.type),
        [
          ContainerEventType.CONTAINER_CREATED_EVENT,
          ContainerEventType.CONTAINER_STARTED_EVENT,
          ContainerEventType.CONTAINER_STOPPED_EVENT,
          ContainerEventType.CONTAINER_DELETED_EVENT,
        ],
      );
      abort.abort();
      await reading;
    });

    test("runtime should support log: CRI format, and ReopenContainerLog", async () => {
      const pod = podConfig(w, "log");
      const { podId, id } = await runContainer(
        w,
        pod,
        containerConfig(w, "log", [
          "sh",
          "-c",
          "echo hello; echo bad >&2; printf partial; sleep 3600",
        ]),
      );
      const st = await w.rt.containerStatus({ containerId: id });
      const path = st.status?.logPath ?? "";
      assert.equal(path, `${pod.logDirectory}/log.log`);
      const lines = await waitUntil(
        async () => {
          const text = await readFile(path, "utf8").catch(() => "");
          const l = text.split("\n").filter(Boolean);
          return l.length >= 2 && l;
        },
        { timeoutMs: 20_000, what: "two log lines" },
      );
      const parsed = lines.map((l) => l.split(" "));
      for (const [ts] of parsed) assert.match(ts ?? "", rfc3339Nano);
      assert.deepEqual(parsed.map((p) => p.slice(1).join(" ")).sort(), [
        "stderr F bad",
        "stdout F hello",
      ]);
      await w.rt.reopenContainerLog({ containerId: id });
      await w.rt.stopContainer({ containerId: id, timeout: 0n });
      await assert.rejects(w.rt.reopenContainerLog({ containerId: id }));
      const final = (await readFile(path, "utf8")).split("\n").filter(Boolean);
      assert.equal(final.at(-1)?.split(" ").slice(1).join(" "), "stdout F partial");
      await w.rt.removePodSandbox({ podSandboxId: podId });
    });
  });
});
