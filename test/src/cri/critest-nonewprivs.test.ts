// critest "Security Context › NoNewPrivs": a setuid-root binary, run as uid
// 1000, gains euid 0 unless no_new_privs is set. The stand-in for the e2e
// nonewprivs image is a static C program printing its effective uid, built
// here with the machine's gcc and shipped setuid root in an image layer (so
// the image unpacker must keep the setuid bit, as containerd's does).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ContainerState } from "@sandboxd/api/cri/runtime/v1/api_pb";
import { requireBinary, waitUntil } from "@sandboxd/testing";
import { containerConfig, podConfig } from "./harness.js";
import { openRegistryWorld, type RegistryWorld } from "./registry-world.js";

const source = `#include <stdio.h>
#include <unistd.h>
int main(void) { printf("Effective uid: %d\\n", (int)geteuid()); return 0; }
`;

describe("critest NoNewPrivs", { timeout: 240_000 }, () => {
  let r: RegistryWorld;
  let image = "";
  before(async () => {
    await requireBinary("/usr/bin/gcc", "gcc");
    r = await openRegistryWorld();
    const c = join(r.w.dir, "nnp.c");
    const bin = join(r.w.dir, "nnp");
    await writeFile(c, source);
    execFileSync("gcc", ["-static", "-O2", "-o", bin, c]);
    const { name } = await r.push(
      "e2e-test-images/nonewprivs",
      "1.3",
      [{ name: "usr/local/bin/nnp", mode: 0o4755, uid: 0, gid: 0, data: await readFile(bin) }],
      { Entrypoint: ["/usr/local/bin/nnp"], Cmd: [] },
    );
    image = name;
    await r.im.pullImage({ image: { image } });
  });
  after(async () => {
    await r?.close();
  });

  async function effectiveUid(noNewPrivs: boolean): Promise<string> {
    const { w } = r;
    const pod = podConfig(w, "nnp");
    const { podSandboxId } = await w.rt.runPodSandbox({ config: pod });
    try {
      const cfg = containerConfig(w, "nnp", [], {
        image: { image },
        linux: { securityContext: { noNewPrivs, runAsUser: { value: 1000n } } },
      });
      const { containerId } = await w.rt.createContainer({
        podSandboxId,
        config: cfg,
        sandboxConfig: pod,
      });
      await w.rt.startContainer({ containerId });
      await waitUntil(
        async () =>
          (await w.rt.containerStatus({ containerId })).status?.state ===
          ContainerState.CONTAINER_EXITED,
        { timeoutMs: 60_000, what: "nnp to exit" },
      );
      const log = await readFile(join(pod.logDirectory, cfg.logPath), "utf8");
      return log
        .split("\n")
        .filter(Boolean)
        .map((l) => l.split(" ").slice(3).join(" "))
        .join("\n");
    } finally {
      await w.rt.removePodSandbox({ podSandboxId });
    }
  }

  test("should not allow privilege escalation when true", async () => {
    assert.equal(await effectiveUid(true), "Effective uid: 1000");
  });

  test("should allow privilege escalation when false", async () => {
    assert.equal(await effectiveUid(false), "Effective uid: 0");
  });
});
