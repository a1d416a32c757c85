/**
 * Helper processes that must outlive the sandboxer (a pid namespace's holder,
 * the task keeper, a terminal's input bridge): started in their own process
 * group with no stdio, through core's spawner (off the event loop), and not
 * waited on: the sandboxer's event loop does not wait for them.
 */
import { spawnChild, type SpawnedChild } from "@sandboxd/core";
import { messageOf, unknown as unknownError } from "@sandboxd/errdefs";

/** Starts `command` detached; resolves once it has spawned (rejects Unknown when it cannot). */
export async function spawnDetached(
  command: string,
  args: readonly string[],
  env?: Record<string, string>,
): Promise<{ child: SpawnedChild; pid: number }> {
  const child = spawnChild(command, args, {
    detached: true,
    stdio: ["ignore", "ignore", "ignore"],
    env: env ? { ...process.env, ...env } : process.env,
    awaited: "spawn",
  });
  try {
    return { child, pid: await child.spawned };
  } catch (err) {
    throw unknownError(`${command}: cannot start: ${messageOf(err)}`, { cause: err });
  }
}
