// The filters of every CRI List call (cri-api semantics, as containerd applies
// them: an id is a unique prefix, then exact; state; label selector needing
// every pair; pod sandbox id), and GetContainerEvents for containers and pods
// with the pod's status and its containers' statuses filled in.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  ContainerEventType,
  ContainerState,
  PodSandboxState,
  type ContainerEventResponse,
} from "@sandboxd/api/cri/runtime/v1/api_pb";
import { waitUntil } from "@sandboxd/testing";
import { containerConfig, openCri, podConfig, type CriWorld } from "./harness.js";

let w: CriWorld;
before(async () => {
  w = await openCri();
});
after(async () => {
  await w?.close();
});

const sorted = (ids: (string | undefined)[]) => [...ids].sort();

describe("List filters", () => {
  let podA = "";
  let podB = "";
  let running = "";
  let created = "";
  let inB = "";
  before(async () => {
    const a = podConfig(w, "fa", { labels: { group: "f", pod: "a" } });
    const b = podConfig(w, "fb", { labels: { group: "f", pod: "b" } });
    podA = (await w.rt.runPodSandbox({ config: a })).podSandboxId;
    podB = (await w.rt.runPodSandbox({ config: b })).podSandboxId;
    const mk = async (pod: string, cfg: typeof a, name: string, labels: Record<string, string>) =>
      (
        await w.rt.createContainer({
          podSandboxId: pod,
          config: containerConfig(w, name, ["sleep", "3600"], { labels }),
          sandboxConfig: cfg,
        })
      ).containerId;
    running = await mk(podA, a, "run", { tier: "x", c: "run" });
    created = await mk(podA, a, "made", { tier: "x", c: "made" });
    inB = await mk(podB, b, "other", { tier: "y" });
    await w.rt.startContainer({ containerId: running });
    await w.rt.startContainer({ containerId: inB });
    await w.rt.stopPodSandbox({ podSandboxId: podB });
  });

  test("ListPodSandbox: id (full, unique prefix, unknown), state, label selector", async () => {
    const ids = async (filter: Parameters<typeof w.rt.listPodSandbox>[0]["filter"]) =>
      sorted((await w.rt.listPodSandbox({ filter })).items.map((p) => p.id));
    assert.deepEqual(await ids({ id: podA }), [podA]);
    assert.deepEqual(await ids({ id: podA.slice(0, 16) }), [podA]);
    assert.deepEqual(await ids({ id: "not-a-pod" }), []);
    assert.deepEqual(await ids({ labelSelector: { group: "f" } }), sorted([podA, podB]));
    assert.deepEqual(await ids({ labelSelector: { group: "f", pod: "b" } }), [podB]);
    assert.deepEqual(await ids({ labelSelector: { group: "f", pod: "c" } }), []);
    assert.deepEqual(
      await ids({
        state: { state: PodSandboxState.SANDBOX_NOTREADY },
        labelSelector: { group: "f" },
      }),
      [podB],
    );
    assert.deepEqual(
      await ids({ state: { state: PodSandboxState.SANDBOX_READY }, labelSelector: { group: "f" } }),
      [podA],
    );
    assert.deepEqual(await ids({ id: podB, state: { state: PodSandboxState.SANDBOX_READY } }), []);
  });

  test("ListContainers: id prefix, pod sandbox id (prefix too), state, label selector", async () => {
    const ids = async (filter: Parameters<typeof w.rt.listContainers>[0]["filter"]) =>
      sorted((await w.rt.listContainers({ filter })).containers.map((c) => c.id));
    assert.deepEqual(await ids({ id: running.slice(0, 16) }), [running]);
    assert.deepEqual(await ids({ podSandboxId: podA }), sorted([running, created]));
    assert.deepEqual(await ids({ podSandboxId: podB.slice(0, 16) }), [inB]);
    assert.deepEqual(await ids({ podSandboxId: "no-such-pod" }), []);
    assert.deepEqual(
      await ids({ podSandboxId: podA, state: { state: ContainerState.CONTAINER_CREATED } }),
      [created],
    );
    assert.deepEqual(
      await ids({ podSandboxId: podA, state: { state: ContainerState.CONTAINER_RUNNING } }),
      [running],
    );
    assert.deepEqual(
      await ids({
        state: { state: ContainerState.CONTAINER_EXITED },
        labelSelector: { tier: "y" },
      }),
      [inB],
    );
    assert.deepEqual(await ids({ labelSelector: { tier: "x" } }), sorted([running, created]));
    assert.deepEqual(await ids({ labelSelector: { tier: "x", c: "made" } }), [created]);
    assert.deepEqual(await ids({ id: running, podSandboxId: podB }), []);
  });

  test("ListContainerStats and ListPodSandboxStats: id prefix, pod sandbox id, label selector", async () => {
    const cs = async (filter: Parameters<typeof w.rt.listContainerStats>[0]["filter"]) =>
      sorted((await w.rt.listContainerStats({ filter })).stats.map((s) => s.attributes?.id));
    assert.deepEqual(await cs({ podSandboxId: podA }), sorted([running, created]));
    // No filter: every container, created ones included (critest's "filter is nil" specs).
    const all = await cs(undefined);
    assert.ok(all.includes(running) && all.includes(created), `nil filter: ${all.join(", ")}`);
    assert.deepEqual(await cs({ id: created.slice(0, 16) }), [created]);
    assert.deepEqual(await cs({ podSandboxId: podA, labelSelector: { c: "run" } }), [running]);
    assert.deepEqual(await cs({ podSandboxId: "no-such-pod" }), []);
    const ps = async (filter: Parameters<typeof w.rt.listPodSandboxStats>[0]["filter"]) =>
      sorted((await w.rt.listPodSandboxStats({ filter })).stats.map((s) => s.attributes?.id));
    // podB is stopped: no stats (containerd lists ready pods only).
    assert.deepEqual(await ps({ labelSelector: { group: "f" } }), [podA]);
    assert.deepEqual(await ps({ id: podA.slice(0, 16) }), [podA]);
    assert.deepEqual(await ps({ id: podB }), []);
  });
});

describe("GetContainerEvents", () => {
  test("pod and container events carry the pod's status and its containers' statuses", async () => {
    const abort = new AbortController();
    const seen: ContainerEventResponse[] = [];
    const reading = (async () => {
      try {
        for await (const e of w.rt.getContainerEvents({}, { signal: abort.signal })) seen.push(e);
      } catch {
        // cancelled
      }
    })();
    // The subscription is live once an event of ours arrives; a pod makes the first ones.
    const pod = podConfig(w, "ev");
    const { podSandboxId: podId } = await w.rt.runPodSandbox({ config: pod });
    const { containerId: id } = await w.rt.createContainer({
      podSandboxId: podId,
      config: containerConfig(w, "ev", ["sleep", "3600"]),
      sandboxConfig: pod,
    });
    await w.rt.startContainer({ containerId: id });
    await w.rt.stopContainer({ containerId: id, timeout: 0n });
    await w.rt.removeContainer({ containerId: id });
    await w.rt.stopPodSandbox({ podSandboxId: podId });
    await w.rt.stopPodSandbox({ podSandboxId: podId });
    await w.rt.removePodSandbox({ podSandboxId: podId });
    const ours = () => seen.filter((e) => e.containerId === podId || e.containerId === id);
    await waitUntil(() => ours().length >= 8, { timeoutMs: 60_000, what: "eight events" });
    abort.abort();
    await reading;
    const E = ContainerEventType;
    assert.deepEqual(
      ours().map((e) => [e.containerId === podId ? "pod" : "ctr", e.containerEventType]),
      [
        ["pod", E.CONTAINER_CREATED_EVENT],
        ["pod", E.CONTAINER_STARTED_EVENT],
        ["ctr", E.CONTAINER_CREATED_EVENT],
        ["ctr", E.CONTAINER_STARTED_EVENT],
        ["ctr", E.CONTAINER_STOPPED_EVENT],
        ["ctr", E.CONTAINER_DELETED_EVENT],
        ["pod", E.CONTAINER_STOPPED_EVENT],
        ["pod", E.CONTAINER_DELETED_EVENT],
      ],
    );
    const [podCreated, , cCreated, cStarted, cStopped, cDeleted, podStopped, podDeleted] = ours();
    for (const e of ours()) {
      assert.equal(e.podSandboxStatus?.id, podId, "every event names the pod");
      assert.ok(e.createdAt > 0n);
    }
    assert.equal(podCreated?.podSandboxStatus?.state, PodSandboxState.SANDBOX_READY);
    assert.equal(podCreated?.podSandboxStatus?.metadata?.name, pod.metadata?.name);
    const stateIn = (e: ContainerEventResponse | undefined) =>
      e?.containersStatuses.map((s) => [s.id, s.state]);
    assert.deepEqual(stateIn(cCreated), [[id, ContainerState.CONTAINER_CREATED]]);
    assert.deepEqual(stateIn(cStarted), [[id, ContainerState.CONTAINER_RUNNING]]);
    assert.deepEqual(stateIn(cStopped), [[id, ContainerState.CONTAINER_EXITED]]);
    assert.deepEqual(stateIn(cDeleted), []);
    assert.equal(podStopped?.podSandboxStatus?.state, PodSandboxState.SANDBOX_NOTREADY);
    assert.equal(podDeleted?.podSandboxStatus?.state, PodSandboxState.SANDBOX_NOTREADY);
    // StopPodSandbox again (kubelet repeats it): no second event.
    assert.equal(
      seen.filter(
        (e) => e.containerId === podId && e.containerEventType === E.CONTAINER_STOPPED_EVENT,
      ).length,
      1,
    );
  });
});
