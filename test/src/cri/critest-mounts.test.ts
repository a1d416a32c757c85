// critest "Container Mount Readonly": a read-only volume whose host path has a
// tmpfs submount. Plain read-only leaves the submount writable (the kernel
// applies MS_RDONLY to the top mount only); recursive read-only (runc's
// `rro`) reaches the submount. rro is refused unless the mount is read-only
// and private, and the handler advertises the feature in Status.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { MountPropagation } from "@sandboxd/api/cri/runtime/v1/api_pb";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { MountSchema } from "@sandboxd/api/cri/runtime/v1/api_pb";
import { containerConfig, openCri, podConfig, type CriWorld } from "./harness.js";

describe("critest Container Mount Readonly", { timeout: 180_000 }, () => {
  let w: CriWorld;
  let podId = "";
  let pod: ReturnType<typeof podConfig>;
  let hostPath = "";
  let n = 0;
  before(async () => {
    w = await openCri();
    // A host path with a tmpfs mounted below it, as critest's createHostPathForRROMount.
    hostPath = join(w.dir, "rro-host");
    await mkdir(join(hostPath, "tmpfs"), { recursive: true });
    execFileSync("mount", ["-t", "tmpfs", "none", join(hostPath, "tmpfs")]);
    pod = podConfig(w, "rro", { linux: { securityContext: { privileged: true } } });
    podId = (await w.rt.runPodSandbox({ config: pod })).podSandboxId;
  });
  after(async () => {
    if (podId) await w.rt.removePodSandbox({ podSandboxId: podId }).catch(() => undefined);
    if (hostPath) execFileSync("umount", ["-l", join(hostPath, "tmpfs")]);
    await w?.close();
  });

  const create = (mount: MessageInitShape<typeof MountSchema>) =>
    w.rt.createContainer({
      podSandboxId: podId,
      config: containerConfig(w, `m${n++}`, ["sleep", "3600"], { mounts: [mount] }),
      sandboxConfig: pod,
    });

  async function touchSubmount(mount: MessageInitShape<typeof MountSchema>) {
    const { containerId } = await create(mount);
    const st = await w.rt.containerStatus({ containerId });
    assert.equal(st.status?.mounts.length, 1);
    await w.rt.startContainer({ containerId });
    const r = await w.rt.execSync({
      containerId,
      cmd: ["sh", "-c", "touch /mnt/tmpfs/file 2>&1"],
      timeout: 0n,
    });
    return { code: r.exitCode, out: Buffer.from(r.stdout).toString() };
  }

  test("the default handler advertises recursive read-only mounts", async () => {
    const st = await w.rt.status({});
    const h = st.runtimeHandlers.find((x) => x.name === "");
    assert.equal(h?.features?.recursiveReadOnlyMounts, true);
  });

  test("should support non-recursive readonly mounts (the submount stays writable)", async () => {
    const r = await touchSubmount({ hostPath, containerPath: "/mnt", readonly: true });
    assert.equal(r.code, 0, r.out);
  });

  test("should support recursive readonly mounts (the submount is read-only too)", async () => {
    const r = await touchSubmount({
      hostPath,
      containerPath: "/mnt",
      readonly: true,
      recursiveReadOnly: true,
    });
    assert.notEqual(r.code, 0);
    assert.match(r.out, /Read-only file system/);
  });

  const rejects = (m: { propagation?: MountPropagation; readonly?: boolean }, why: RegExp) =>
    assert.rejects(
      create({ hostPath, containerPath: "/mnt", readonly: true, recursiveReadOnly: true, ...m }),
      why,
    );

  test("should reject a recursive readonly mount with PROPAGATION_HOST_TO_CONTAINER", async () => {
    await rejects(
      { propagation: MountPropagation.PROPAGATION_HOST_TO_CONTAINER },
      /recursive_read_only needs private propagation/,
    );
  });

  test("should reject a recursive readonly mount with PROPAGATION_BIDIRECTIONAL", async () => {
    await rejects(
      { propagation: MountPropagation.PROPAGATION_BIDIRECTIONAL },
      /recursive_read_only needs private propagation/,
    );
  });

  test("should reject a recursive readonly mount with ReadOnly: false", async () => {
    await rejects({ readonly: false }, /recursive_read_only needs readonly/);
  });
});
