// CRI conformance, part 4: critest's "Multiple Containers" (two containers in
// one pod share its network: the web server answers on the pod IP and on
// localhost from its neighbour; logs and exec for both) and "Container Mount
// Propagation" (private, host-to-container = rslave, bidirectional = rshared).
import assert from "node:assert/strict";
import { mkdir, readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { MountPropagation } from "@sandboxd/api/cri/runtime/v1/api_pb";
import { run, waitUntil } from "@sandboxd/testing";
import { containerConfig, openCri, podConfig, type CriWorld } from "./harness.js";

describe("CRI pods with several containers, mount propagation", { timeout: 180_000 }, () => {
  let w: CriWorld;
  before(async () => {
    w = await openCri();
  });
  after(async () => {
    await w?.close();
  });

  test("Multiple Containers: a web server and a client in one pod share its network; logs and exec in both", async () => {
    const pod = podConfig(w, "multi");
    const { podSandboxId: podId } = await w.rt.runPodSandbox({ config: pod });
    const ids: string[] = [];
    for (const [name, cmd] of [
      [
        "web",
        "mkdir -p /tmp/www && echo multi > /tmp/www/index.html && echo web-up && exec httpd -f -p 8080 -h /tmp/www",
      ],
      ["client", "echo client-up; exec sleep 3600"],
    ] as const) {
      const { containerId } = await w.rt.createContainer({
        podSandboxId: podId,
        config: containerConfig(w, name, ["sh", "-c", cmd]),
        sandboxConfig: pod,
      });
      await w.rt.startContainer({ containerId });
      ids.push(containerId);
    }
    const [web, client] = ids as [string, string];
    const body = await waitUntil(
      async () => {
        const r = await w.rt.execSync({
          containerId: client,
          cmd: ["sh", "-c", "wget -q -O - http://127.0.0.1:8080/ 2>/dev/null"],
          timeout: 0n,
        });
        return r.exitCode === 0 && Buffer.from(r.stdout).toString();
      },
      { timeoutMs: 20_000, what: "the neighbour's web server on localhost" },
    );
    assert.equal(body, "multi\n");
    for (const [id, text] of [
      [web, "web-up"],
      [client, "client-up"],
    ] as const) {
      const path = (await w.rt.containerStatus({ containerId: id })).status?.logPath ?? "";
      const log = await waitUntil(
        async () => {
          const t = await readFile(path, "utf8").catch(() => "");
          return t.includes(text) && t;
        },
        { what: `${text} in its log` },
      );
      assert.match(log, new RegExp(`^\\S+ stdout F ${text}$`, "m"));
      const r = await w.rt.execSync({ containerId: id, cmd: ["echo", "exec-ok"], timeout: 0n });
      assert.equal(Buffer.from(r.stdout).toString(), "exec-ok\n");
    }
    const listed = await w.rt.listContainers({ filter: { podSandboxId: podId } });
    assert.deepEqual(listed.containers.map((c) => c.id).sort(), [...ids].sort());
    await w.rt.removePodSandbox({ podSandboxId: podId });
    assert.equal(
      (await w.rt.listContainers({ filter: { podSandboxId: podId } })).containers.length,
      0,
    );
  });

  /**
   * critest's propagation check: a host directory is made a shared mount, mounted into the
   * container with `propagation`; a mount made on the host below it is (or is not) seen inside,
   * and a mount made inside is (or is not) seen on the host.
   */
  async function propagation(
    p: MountPropagation,
  ): Promise<{ hostToCtr: boolean; ctrToHost: boolean }> {
    const base = join(w.dir, `prop-${p}`);
    await mkdir(base, { recursive: true });
    await run("mount", ["--bind", base, base]);
    await run("mount", ["--make-rshared", base]);
    // As critest: a privileged container needs a privileged pod.
    const pod = podConfig(w, `prop${p}`, { linux: { securityContext: { privileged: true } } });
    const { podSandboxId: podId } = await w.rt.runPodSandbox({ config: pod });
    try {
      const { containerId: id } = await w.rt.createContainer({
        podSandboxId: podId,
        config: containerConfig(w, "c", ["sleep", "3600"], {
          mounts: [{ containerPath: "/mnt/prop", hostPath: base, propagation: p }],
          linux: { securityContext: { privileged: true } },
        }),
        sandboxConfig: pod,
      });
      await w.rt.startContainer({ containerId: id });
      await mkdir(join(base, "from-host"), { recursive: true });
      await run("mount", ["-t", "tmpfs", "host-tmpfs", join(base, "from-host")]);
      const seen = await w.rt.execSync({
        containerId: id,
        cmd: [
          "sh",
          "-c",
          "grep -q ' /mnt/prop/from-host ' /proc/self/mountinfo && echo yes || echo no",
        ],
        timeout: 0n,
      });
      await w.rt.execSync({
        containerId: id,
        cmd: [
          "sh",
          "-c",
          "mkdir -p /mnt/prop/from-ctr && mount -t tmpfs ctr-tmpfs /mnt/prop/from-ctr",
        ],
        timeout: 0n,
      });
      const mounts = await readFile("/proc/self/mountinfo", "utf8");
      return {
        hostToCtr: Buffer.from(seen.stdout).toString().trim() === "yes",
        ctrToHost: mounts.includes(` ${join(base, "from-ctr")} `),
      };
    } finally {
      await w.rt.removePodSandbox({ podSandboxId: podId });
      for (const m of ["from-ctr", "from-host", ""]) {
        await run("umount", ["-l", join(base, m)]).catch(() => undefined);
      }
      if (await stat(base).catch(() => undefined)) await rm(base, { recursive: true, force: true });
    }
  }

  test("mount with 'rprivate' propagation: neither way", async () => {
    assert.deepEqual(await propagation(MountPropagation.PROPAGATION_PRIVATE), {
      hostToCtr: false,
      ctrToHost: false,
    });
  });

  test("mount with 'rslave' propagation: host to container only", async () => {
    assert.deepEqual(await propagation(MountPropagation.PROPAGATION_HOST_TO_CONTAINER), {
      hostToCtr: true,
      ctrToHost: false,
    });
  });

  test("mount with 'rshared' propagation: both ways", async () => {
    assert.deepEqual(await propagation(MountPropagation.PROPAGATION_BIDIRECTIONAL), {
      hostToCtr: true,
      ctrToHost: true,
    });
  });
});
