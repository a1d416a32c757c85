/**
 * Helper processes that must outlive the sandboxer (a pid namespace's holder,
 * the task keeper): started in their own process group with no stdio, and
 * unreferenced so that the sandboxer's event loop does not wait for them.
 */
import { spawn, type ChildProcess } from "node:child_process";

/** Starts `command` detached; resolves once it has spawned (rejects when it cannot). */
export async function spawnDetached(
  command: string,
  args: readonly string[],
  env?: Record<string, string>,
): Promise<{ child: ChildProcess; pid: number }> {
  const child = spawn(command, args, {
    detached: true,
    stdio: "ignore",
    ...(env ? { env: { ...process.env, ...env } } : {}),
  });
  const pid = await new Promise<number>((resolve, reject) => {
    child.once("error", reject);
    child.once("spawn", () => resolve(child.pid ?? 0));
  });
  child.unref();
  return { child, pid };
}
