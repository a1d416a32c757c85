// critest "Runtime info", "PodSandbox" basic operations and "Idempotence",
// one spec per test as critest splits them, plus what crictl info and
// critest's skip logic read from Status: the verbose "config" entry, and the
// feature flags (recursive read-only mounts per handler, no user namespaces,
// SupplementalGroupsPolicy).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { PodSandboxState } from "@sandboxd/api/cri/runtime/v1/api_pb";
import { isNotFound } from "@sandboxd/errdefs";
import { containerConfig, openCri, podConfig, runContainer, type CriWorld } from "./harness.js";

describe("critest Runtime info, PodSandbox, Idempotence", { timeout: 180_000 }, () => {
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
      for (const f of [v.version, v.runtimeName, v.runtimeVersion, v.runtimeApiVersion])
        assert.notEqual(f, "");
    });

    test("runtime should return runtime conditions", async () => {
      const s = await w.rt.status({});
      const conds = s.status?.conditions ?? [];
      for (const type of ["RuntimeReady", "NetworkReady"])
        assert.equal(conds.find((c) => c.type === type)?.status, true, type);
      assert.deepEqual(s.info, {}, "no info unless verbose");
    });

    test("Status features: every handler (and the default) has rro and user namespaces (sbx handlers); SupplementalGroupsPolicy", async () => {
      const s = await w.rt.status({});
      const names = s.runtimeHandlers.map((h) => h.name).sort();
      assert.deepEqual(names, ["", "sbx"]);
      for (const h of s.runtimeHandlers) {
        assert.equal(h.features?.recursiveReadOnlyMounts, true, h.name);
        // the sbx runtime type runs user-namespaced pods (userns.test.ts)
        assert.equal(h.features?.userNamespaces, true, h.name);
      }
      assert.equal(s.features?.supplementalGroupsPolicy, true);
    });

    test("verbose Status carries the CRI configuration as JSON under 'config' (crictl info)", async () => {
      const s = await w.rt.status({ verbose: true });
      const config = JSON.parse(s.info.config ?? "null") as {
        defaultRuntimeName?: string;
        runtimes?: Record<string, { sandboxer?: string }>;
      };
      assert.equal(config.defaultRuntimeName, "sbx");
      assert.equal(config.runtimes?.sbx?.sandboxer, "sbx");
    });
  });

  describe("PodSandbox", () => {
    test("runtime should support running PodSandbox", async () => {
      const { podSandboxId: id } = await w.rt.runPodSandbox({ config: podConfig(w, "run") });
      const listed = await w.rt.listPodSandbox({ filter: { id } });
      assert.deepEqual(
        listed.items.map((p) => [p.id, p.state]),
        [[id, PodSandboxState.SANDBOX_READY]],
      );
      await w.rt.stopPodSandbox({ podSandboxId: id });
      await w.rt.removePodSandbox({ podSandboxId: id });
    });

    test("runtime should support stopping PodSandbox", async () => {
      const { podSandboxId: id } = await w.rt.runPodSandbox({ config: podConfig(w, "stop") });
      await w.rt.stopPodSandbox({ podSandboxId: id });
      const st = await w.rt.podSandboxStatus({ podSandboxId: id });
      assert.equal(st.status?.state, PodSandboxState.SANDBOX_NOTREADY);
      await w.rt.removePodSandbox({ podSandboxId: id });
    });

    test("runtime should support removing PodSandbox", async () => {
      const { podSandboxId: id } = await w.rt.runPodSandbox({ config: podConfig(w, "rm") });
      await w.rt.stopPodSandbox({ podSandboxId: id });
      await w.rt.removePodSandbox({ podSandboxId: id });
      assert.equal((await w.rt.listPodSandbox({ filter: { id } })).items.length, 0);
      await assert.rejects(w.rt.podSandboxStatus({ podSandboxId: id }), isNotFound);
    });
  });

  describe("Idempotence", () => {
    const missing = "0123456789abcdef".repeat(4);
    test("StopPodSandbox should not return an error if not found", async () => {
      await w.rt.stopPodSandbox({ podSandboxId: missing });
    });
    test("StopPodSandbox should not return an error if already stopped", async () => {
      const { podSandboxId: id } = await w.rt.runPodSandbox({ config: podConfig(w, "idem") });
      await w.rt.stopPodSandbox({ podSandboxId: id });
      await w.rt.stopPodSandbox({ podSandboxId: id });
      await w.rt.removePodSandbox({ podSandboxId: id });
    });
    test("RemovePodSandbox should not return an error if not found", async () => {
      await w.rt.removePodSandbox({ podSandboxId: missing });
    });
    test("StopContainer should not return an error if not found", async () => {
      await w.rt.stopContainer({ containerId: missing, timeout: 0n });
    });
    test("StopContainer should not return an error if already stopped", async () => {
      const { podId, id } = await runContainer(
        w,
        podConfig(w, "idem-c"),
        containerConfig(w, "c", ["sleep", "3600"]),
      );
      await w.rt.stopContainer({ containerId: id, timeout: 0n });
      await w.rt.stopContainer({ containerId: id, timeout: 0n });
      await w.rt.removePodSandbox({ podSandboxId: podId });
    });
    test("RemoveContainer should not return an error if not found", async () => {
      await w.rt.removeContainer({ containerId: missing });
    });
  });
});
