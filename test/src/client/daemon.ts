// The stack the SDK's and the CLI's integration tests run against: a real
// sandboxd with sbx-sandboxer behind io.containerd.sbx.v1 (its shim, found on
// sandboxd's PATH, starts the sandboxer), and a busybox rootfs; from
// @sandboxd/testing's startStack. Root.
import { join } from "node:path";
import { Client } from "@sandboxd/client";
import { binDir, startStack, type AfterHook, type StackOptions } from "@sandboxd/testing";

/** Options of the SDK's and CLI's stack: the sbx shim on PATH, a busybox rootfs. */
export const sbxStack: StackOptions = { rootfs: true, extraPath: [binDir], prefix: "sbx-it-" };

/** A client (namespace "sdk-it") of a fresh stack. */
export async function connect(t: AfterHook) {
  const daemon = await startStack(t, sbxStack);
  const client = await Client.connect({ address: daemon.address, namespace: "sdk-it" });
  t.after(() => Promise.resolve(client.close()));
  return { client, daemon, rootfs: daemon.rootfs, fifoDir: join(daemon.dir, "fifo") };
}
