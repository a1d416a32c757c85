/**
 * sandboxd with sbx-sandboxer hosted in its own process (`[sandbox] in_process
 * = "sbx"`), started inside a {@link BenchEnv}: the single-node alternative to
 * the two-process stack of systems.ts. Same bench namespace, same default
 * sandboxer name, so the same SDK calls make the same pods.
 */
import { join } from "node:path";
import { Client } from "@sandboxd/client";
import { startSandboxd, type Sandboxd } from "@sandboxd/testing";
import type { BenchEnv } from "./harness.js";
import { NAMESPACE, PROXY_SANDBOXER, removeSandboxes } from "./systems.js";

export interface InProcessStack {
  sandboxd: Sandboxd;
  client: Client;
  /** The hosted sandboxer's state directory (conmons mention it). */
  stateDir: string;
}

export async function startInProcessStack(
  env: BenchEnv,
  o: { name?: string; network?: boolean } = {},
): Promise<InProcessStack> {
  const sandboxd = await startSandboxd({
    dir: join(env.dir, o.name ?? "inproc", "sandboxd"),
    logLevel: "info",
    inProcessSandboxer: PROXY_SANDBOXER,
    sandboxerOptions: { network: o.network ?? true, logLevel: "info" },
  });
  const config = sandboxd.sandboxerConfig;
  env.addCgroupParent(config.cgroupParent);
  env.addLink(config.bridge);
  const client = await Client.connect({ address: sandboxd.address, namespace: NAMESPACE });
  env.defer("stop sandboxd (sandboxer in process)", async () => {
    await removeSandboxes(client).catch(() => undefined);
    client.close();
    await sandboxd.stop();
  });
  await client.namespaces.create(NAMESPACE, {
    "containerd.io/defaults/sandboxer": PROXY_SANDBOXER,
  });
  return { sandboxd, client, stateDir: config.stateDir };
}
