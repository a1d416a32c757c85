/**
 * `containerd-shim-sbx-v1 delete`: containerd calls it after every task
 * teardown (the connection close) and to clean up after a shim it thinks died
 * (here: a sandboxer that went away). The sandboxer (started again if needed:
 * it recovers the task from disk) kills and removes the task; only if it cannot
 * be reached at all is the bundle cleaned here, from the state files.
 * Prints a protobuf DeleteResponse.
 */
import { isUnavailable, messageOf } from "@sandboxd/errdefs";
import type { ShimFlags } from "@sandboxd/shim";
import { loadConfig } from "../config/config.js";
import { connectSandboxer } from "./connect.js";
import { adminService } from "./start.js";
import { call, decode, encode, num, timestamp, timestampMs } from "./wire.js";

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
      // CleanupTaskRequest{namespace=1, id=2, bundle=3} → CleanupTaskResponse{pid=1, exit_status=2, exited_at=3}
      const reply = decode(
        await call(
          conn,
          adminService,
          "CleanupTask",
          encode([
            [1, "string", flags.namespace],
            [2, "string", flags.id],
            [3, "string", bundle],
          ]),
          20_000,
        ),
      );
      exit = {
        pid: num(reply.get(1)),
        exitStatus: num(reply.get(2)),
        exitedAt: timestampMs(reply.get(3)) ?? Date.now(),
      };
    } finally {
      conn.destroy();
    }
  } catch (err) {
    if (!isUnavailable(err) && (err as { code?: unknown }).code !== 14) throw err;
    const { offlineCleanup } = await import("./offline-cleanup.js");
    exit = await offlineCleanup(config, flags.namespace, flags.id, bundle);
    warning = `sbx-sandboxer unreachable (${messageOf(err)}); cleaned up from its state files`;
  }
  // containerd.task.v2.DeleteResponse{pid=1, exit_status=2, exited_at=3}
  const output = encode([
    [1, "varint", exit.pid],
    [2, "varint", exit.exitStatus],
    [3, "message", timestamp(exit.exitedAt)],
  ]);
  return { output, ...(warning ? { warning } : {}) };
}
