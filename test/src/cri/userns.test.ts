// critest "Security Context › UserNamespaces", plus what a pod with its own user
// namespace needs beyond critest: its root can write its rootfs (what it writes is
// owned by the mapped host uid on the host, root inside), the image's files are
// root's inside, all containers share the pod's user namespace, and nothing of it
// (namespace pins, idmapped mounts) outlives the pod.
import assert from "node:assert/strict";
import { chmod, readFile, stat } from "node:fs/promises";
import { after, before, describe, test } from "node:test";
import { isInvalidArgument } from "@sandboxd/errdefs";
import {
  NamespaceMode,
  type IDMapping,
  type PodSandboxConfig,
} from "@sandboxd/api/cri/runtime/v1/api_pb";
import { containerConfig, openCri, podConfig, type CriWorld } from "./harness.js";

const mapping = { containerId: 0, hostId: 1000, length: 100000 };

describe("critest UserNamespaces (sbx-sandboxer pods)", { timeout: 300_000 }, () => {
  let w: CriWorld;
  let n = 0;
  before(async () => {
    w = await openCri();
    // mkdtemp makes the world's directory 0700; a pod's root (host uid 1000) must pass
    // through it to its rootfs, as it passes /var/lib and /run on a node.
    await chmod(w.dir, 0o711);
  });
  after(async () => {
    await w?.close();
  });

  type Userns = { mode: NamespaceMode; uids?: IDMapping[]; gids?: IDMapping[] };
  const pod = (userns: Userns): PodSandboxConfig =>
    podConfig(w, "userns", {
      linux: { securityContext: { namespaceOptions: { usernsOptions: userns } } },
    });

  async function start(podSandboxId: string, p: PodSandboxConfig, cmd: string[]) {
    const config = containerConfig(w, `c${n++}`, cmd, {
      linux: { securityContext: { namespaceOptions: p.linux?.securityContext?.namespaceOptions } },
    });
    const { containerId } = await w.rt.createContainer({ podSandboxId, config, sandboxConfig: p });
    await w.rt.startContainer({ containerId });
    return containerId;
  }
  const sh = async (id: string, script: string) => {
    const r = await w.rt.execSync({ containerId: id, cmd: ["sh", "-c", script], timeout: 0n });
    assert.equal(r.exitCode, 0, Buffer.from(r.stderr).toString());
    return Buffer.from(r.stdout).toString();
  };
  const pidOf = async (id: string) => {
    const info = (await w.rt.containerStatus({ containerId: id, verbose: true })).info.info;
    const pid = (JSON.parse(info ?? "{}") as { pid?: number }).pid;
    assert.ok(pid, "the verbose status names the container's pid");
    return pid;
  };
  const mountsMentioning = async (text: string) =>
    (await readFile("/proc/self/mountinfo", "utf8")).split("\n").filter((l) => l.includes(text));

  test("the sbx handler (and the default one) advertises user namespaces", async () => {
    const s = await w.rt.status({ verbose: true });
    for (const name of ["sbx", ""]) {
      const h = s.runtimeHandlers.find((x) => x.name === name);
      assert.equal(h?.features?.userNamespaces, true, `handler ${JSON.stringify(name)}`);
    }
    // critest probes idmap support on the parent of the CRI config's stateDir.
    const cfg = JSON.parse(s.info.config ?? "{}") as { stateDir?: string };
    assert.ok(cfg.stateDir?.startsWith(w.dir), cfg.stateDir);
  });

  test("runtime should support NamespaceMode_NODE: the container sees the host's uid_map", async () => {
    const p = pod({ mode: NamespaceMode.NODE });
    const { podSandboxId } = await w.rt.runPodSandbox({ config: p });
    try {
      const id = await start(podSandboxId, p, ["sleep", "3600"]);
      const host = (await readFile("/proc/self/uid_map", "utf8")).trim().split(/\s+/);
      assert.deepEqual((await sh(id, "cat /proc/self/uid_map")).trim().split(/\s+/), host);
    } finally {
      await w.rt.removePodSandbox({ podSandboxId });
    }
  });

  const refusals: [string, Userns, RegExp][] = [
    [
      "more than one mapping",
      {
        mode: NamespaceMode.POD,
        uids: [mapping, { ...mapping, hostId: 2000 }] as IDMapping[],
        gids: [mapping, { ...mapping, hostId: 2000 }] as IDMapping[],
      },
      /userns_options\.uids: exactly one mapping is supported, got 2/,
    ],
    [
      "container ID 0 is not mapped",
      {
        mode: NamespaceMode.POD,
        uids: [{ ...mapping, containerId: 1 }] as IDMapping[],
        gids: [{ ...mapping, containerId: 1 }] as IDMapping[],
      },
      /container id 0 must be mapped/,
    ],
    ["NamespaceMode_CONTAINER", { mode: NamespaceMode.CONTAINER }, /mode CONTAINER/],
    ["NamespaceMode_TARGET", { mode: NamespaceMode.TARGET }, /mode TARGET/],
    [
      "mappings with NamespaceMode_NODE",
      { mode: NamespaceMode.NODE, uids: [mapping] as IDMapping[] },
      /mode NODE takes no mappings/,
    ],
  ];
  for (const [what, userns, message] of refusals) {
    test(`runtime should fail if ${what}: InvalidArgument, and no pod is left`, async () => {
      const before = (await w.rt.listPodSandbox({})).items.length;
      await assert.rejects(
        w.rt.runPodSandbox({ config: pod(userns) }),
        (e: unknown) => e instanceof Error && isInvalidArgument(e) && message.test(e.message),
      );
      assert.equal((await w.rt.listPodSandbox({})).items.length, before);
    });
  }

  test("runtime should support NamespaceMode_POD: mapped ids, a writable rootfs, one user namespace per pod, nothing left", async () => {
    const p = pod({
      mode: NamespaceMode.POD,
      uids: [mapping] as IDMapping[],
      gids: [mapping] as IDMapping[],
    });
    const { podSandboxId } = await w.rt.runPodSandbox({ config: p });
    let removed = false;
    try {
      const first = await start(podSandboxId, p, ["sleep", "3600"]);
      const second = await start(podSandboxId, p, ["sleep", "3601"]);
      assert.deepEqual((await sh(first, "cat /proc/self/uid_map")).trim().split(/\s+/), [
        "0",
        "1000",
        "100000",
      ]);
      assert.deepEqual((await sh(first, "cat /proc/self/gid_map")).trim().split(/\s+/), [
        "0",
        "1000",
        "100000",
      ]);
      // One user namespace for the pod, not the host's.
      const userns = (id: string) => sh(id, "readlink /proc/self/ns/user");
      assert.equal(await userns(first), await userns(second));
      assert.notEqual(
        (await userns(first)).trim(),
        (await readFile("/proc/self/uid_map", "utf8")).trim(),
      );
      // The image's files are root's inside; the container's root writes its rootfs.
      assert.equal(await sh(first, "id -u; stat -c '%u:%g' /bin /etc/passwd"), "0\n0:0\n0:0\n");
      assert.equal(
        await sh(
          first,
          "echo hello > /made-inside && mkdir /etc/more && stat -c '%u:%g' /made-inside /etc/more",
        ),
        "0:0\n0:0\n",
      );
      // On the host the same file is the mapped host uid's.
      const root = `/proc/${await pidOf(first)}/root`;
      const made = await stat(`${root}/made-inside`);
      assert.deepEqual([made.uid, made.gid], [1000, 1000]);
      assert.equal(await readFile(`${root}/made-inside`, "utf8"), "hello\n");
      // The other container has its own rootfs, also writable.
      assert.equal(await sh(second, "test ! -e /made-inside && touch /x && echo ok"), "ok\n");
      assert.ok((await mountsMentioning(podSandboxId)).length > 0, "the pod's pins are mounted");
      await w.rt.removePodSandbox({ podSandboxId });
      removed = true;
      assert.deepEqual(
        await mountsMentioning(podSandboxId),
        [],
        "no pin or idmapped mount is left",
      );
      for (const id of [first, second]) assert.deepEqual(await mountsMentioning(id), []);
    } finally {
      if (!removed) await w.rt.removePodSandbox({ podSandboxId });
    }
  });
});
