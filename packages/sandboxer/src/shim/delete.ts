/**
 * `containerd-shim-sbx-v1 delete`: containerd calls it after every task
 * teardown (the connection close) and to clean up after a shim it thinks died
 * (here: a sandboxer that went away). The sandboxer (started again if needed:
 * it recovers the task from disk) kills and removes the task; only if it cannot
 * be reached at all is the bundle cleaned here, from the state files.
 * Prints a protobuf DeleteResponse.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { Sandboxer } from "@sandboxd/api/sandboxd/sandboxer/v1/sandboxer_pb";
import { DeleteResponseSchema } from "@sandboxd/api/runtime/task/v2/shim_pb";
import { isUnavailable } from "@sandboxd/errdefs";
import type { ShimFlags } from "@sandboxd/shim";
import { createClient } from "@sandboxd/ttrpc";
import { loadConfig } from "../config/config.js";
import { ts } from "../util/time.js";
import { connectSandboxer } from "./connect.js";

export async function shimDelete(
  flags: ShimFlags,
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): Promise<{ output: Uint8Array; warning?: string }> {
  const config = loadConfig({}, env);
  const bundle = flags.bundle || cwd;
  let exit: { pid: number; exitStatus: number; exitedAt: number };
  let warning: string | undefined;
  try {
    const conn = await connectSandboxer(config, { env, timeoutMs: 3000 });
    try {
      const r = await createClient(conn, Sandboxer).cleanupTask(
        { namespace: flags.namespace, id: flags.id, bundle },
        { timeoutMs: 20_000 },
      );
      const ms = r.exitedAt
        ? Number(r.exitedAt.seconds) * 1000 + Math.floor(r.exitedAt.nanos / 1e6)
        : Date.now();
      exit = { pid: r.pid, exitStatus: r.exitStatus, exitedAt: ms };
    } finally {
      await conn.close();
    }
  } catch (err) {
    if (!isUnavailable(err) && !isTtrpcUnavailable(err)) throw err;
    const { offlineCleanup } = await import("./offline-cleanup.js");
    exit = await offlineCleanup(config, flags.namespace, flags.id, bundle);
    warning = `sbx-sandboxer unreachable (${(err as Error).message}); cleaned up from its state files`;
  }
  const output = toBinary(
    DeleteResponseSchema,
    create(DeleteResponseSchema, {
      pid: exit.pid,
      exitStatus: exit.exitStatus,
      exitedAt: ts(exit.exitedAt),
    }),
  );
  return { output, ...(warning ? { warning } : {}) };
}

function isTtrpcUnavailable(err: unknown): boolean {
  return typeof err === "object" && err !== null && (err as { code?: unknown }).code === 14;
}
