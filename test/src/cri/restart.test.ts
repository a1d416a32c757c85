// CRI after a kill -9 of sandboxd: pods and containers are listed with the
// right state, a running container's log keeps being written (its FIFOs are
// read again), exec works, and an exit that happened while sandboxd was down
// is recorded.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, before, describe, test } from "node:test";
import { ContainerState, PodSandboxState } from "@sandboxd/api/cri/runtime/v1/api_pb";
import { waitUntil } from "@sandboxd/testing";
import { containerConfig, openCri, podConfig, runContainer, type CriWorld } from "./harness.js";

const lines = async (path: string): Promise<string[]> =>
  (await readFile(path, "utf8").catch(() => "")).split("\n").filter(Boolean);

describe("CRI across a kill -9 of sandboxd", { timeout: 180_000 }, () => {
  let w: CriWorld;
  before(async () => {
    w = await openCri();
  });
  after(async () => {
    await w?.close();
  });

  test("pods and containers survive; logs keep flowing; exec works; exits while down are recorded", async () => {
    const pod = podConfig(w, "restart");
    const ticker = containerConfig(w, "ticker", [
      "sh",
      "-c",
      "i=0; while true; do echo tick$i; i=$((i+1)); sleep 0.1; done",
    ]);
    const { podId, id } = await runContainer(w, pod, ticker);
    const { containerId: shortId } = await w.rt.createContainer({
      podSandboxId: podId,
      config: containerConfig(w, "short", ["sh", "-c", "read x; exit 7"], {
        stdin: true,
        stdinOnce: true,
      }),
      sandboxConfig: pod,
    });
    await w.rt.startContainer({ containerId: shortId });
    const logPath = (await w.rt.containerStatus({ containerId: id })).status?.logPath ?? "";
    await waitUntil(async () => (await lines(logPath)).length >= 3, {
      what: "ticks before the kill",
    });

    await w.restartDaemon();

    const pods = await w.rt.listPodSandbox({ filter: { id: podId } });
    assert.equal(pods.items[0]?.state, PodSandboxState.SANDBOX_READY);
    const st = await w.rt.containerStatus({ containerId: id });
    assert.equal(st.status?.state, ContainerState.CONTAINER_RUNNING);
    const before = (await lines(logPath)).length;
    await waitUntil(async () => (await lines(logPath)).length >= before + 5, {
      timeoutMs: 20_000,
      what: "the log to keep growing after the restart",
    });
    for (const l of await lines(logPath)) assert.match(l, /^\S+ stdout F tick\d+$/);
    const r = await w.rt.execSync({ containerId: id, cmd: ["echo", "after"], timeout: 0n });
    assert.equal(Buffer.from(r.stdout).toString(), "after\n");

    // The short container still waits on its stdin (held open by the CRI across the restart):
    // stopping it shows the re-armed exit watch records the exit.
    await w.rt.stopContainer({ containerId: shortId, timeout: 0n });
    const short = await w.rt.containerStatus({ containerId: shortId });
    assert.equal(short.status?.state, ContainerState.CONTAINER_EXITED);

    await w.rt.stopContainer({ containerId: id, timeout: 0n });
    const stopped = await w.rt.containerStatus({ containerId: id });
    assert.equal(stopped.status?.state, ContainerState.CONTAINER_EXITED);
    assert.equal(stopped.status?.exitCode, 137);
    await w.rt.removePodSandbox({ podSandboxId: podId });
  });

  test("a container that exits while sandboxd is down is EXITED with its code after the restart", async () => {
    const pod = podConfig(w, "down");
    const { podId, id } = await runContainer(
      w,
      pod,
      containerConfig(w, "c", ["sh", "-c", "while [ ! -e /tmp/go ]; do sleep 0.1; done; exit 5"]),
    );
    // Kill sandboxd, then let the container exit meanwhile: runc exec (the sandboxer's runc
    // root) creates the file it polls for.
    await w.daemon.kill();
    const { run } = await import("@sandboxd/testing");
    const stateRoot = `${w.sandboxer.stateDir}/runc/k8s.io`;
    await run("runc", ["--root", stateRoot, "exec", id, "touch", "/tmp/go"]);
    await waitUntil(
      async () => {
        const out = await run("runc", ["--root", stateRoot, "state", id]).catch(() => undefined);
        return !out || /"status": "stopped"/.test(out.stdout.toString());
      },
      { timeoutMs: 20_000, what: "the container to exit while sandboxd is down" },
    );
    await w.restartDaemon();
    const st = await waitUntil(
      async () => {
        const s = (await w.rt.containerStatus({ containerId: id })).status;
        return s?.state === ContainerState.CONTAINER_EXITED && s;
      },
      { timeoutMs: 20_000, what: "the exit to be recorded after the restart" },
    );
    assert.equal(st.exitCode, 5);
    await w.rt.removePodSandbox({ podSandboxId: podId });
  });
});
