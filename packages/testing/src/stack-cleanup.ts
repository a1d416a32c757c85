/**
 * The stack's steps around a test that talk to the sandboxer: the warm-up
 * before a leak baseline, and the removal of what a failed test left behind
 * where sandboxd can no longer reach it.
 */
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { Channel } from "@sandboxd/grpc";
import { Controller, Store } from "@sandboxd/api/services/sandbox/v1/sandbox_pb";
import { run } from "./processes.js";
import type { RunningSandboxer } from "./sandboxer.js";

const sbxRuntime = "io.containerd.sbx.v1";

/**
 * Starts and removes one sandbox of the sbx runtime through sandboxd: the
 * shim-started sandboxer then runs (with its cgroup parent and bridge), so a
 * leak baseline taken next does not count them.
 */
export async function warmUp(address: string, namespace: string): Promise<void> {
  const channel = new Channel(address, { metadata: { "containerd-namespace": namespace } });
  try {
    const store = channel.client(Store);
    const controller = channel.client(Controller);
    const sandboxId = "warmup";
    await store.create({ sandbox: { sandboxId, runtime: { name: sbxRuntime } } });
    await controller.start({ sandboxId });
    await controller.shutdown({ sandboxId });
    await store.delete({ sandboxId });
  } finally {
    channel.close();
  }
}

/** Pods a proxy sandboxer still has on disk (made behind sandboxd's back, or leaked), stopped and shut down. */
export async function shutdownLeftPods(sandboxer: RunningSandboxer): Promise<void> {
  const root = join(sandboxer.stateDir, "sandboxes");
  for (const ns of await readdir(root).catch(() => [] as string[])) {
    const channel = new Channel(sandboxer.listen, { metadata: { "containerd-namespace": ns } });
    try {
      const controller = channel.client(Controller);
      for (const sandboxId of await readdir(join(root, ns)).catch(() => [] as string[])) {
        await controller.stop({ sandboxId, timeoutSecs: 0 }).catch(() => undefined);
        await controller.shutdown({ sandboxId }).catch(() => undefined);
      }
    } finally {
      channel.close();
    }
  }
}

/** `runc delete --force` of every container in the sandboxer's runc roots (failure paths only). */
export async function removeContainersUnder(stateDir: string): Promise<void> {
  const roots = join(stateDir, "runc");
  for (const ns of await readdir(roots).catch(() => [] as string[])) {
    const root = join(roots, ns);
    const listed = await run("runc", ["--root", root, "list", "-q"]).catch(() => undefined);
    for (const id of listed?.stdout.toString().split("\n").filter(Boolean) ?? []) {
      await run("runc", ["--root", root, "delete", "--force", id]).catch(() => undefined);
    }
  }
}
