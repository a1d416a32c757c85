/**
 * The optional task-socket keeper (native/task-keeper.c): when configured, it
 * owns the task socket containerd connects to and relays to the sandboxer's
 * backend socket, so containerd's connections (and their in-flight requests)
 * survive a restart of the sandboxer. One per node, started detached by the
 * first sandboxer that needs it and left running (recorded in a pid file).
 */
import { readFile, rm } from "node:fs/promises";
import net from "node:net";
import { join } from "node:path";
import { unknown as unknownError } from "@sandboxd/errdefs";
import type { Config } from "./config/config.js";
import { writeFileAtomic } from "./state/atomic.js";
import { spawnDetached } from "./util/detached.js";

export function keeperBackendSocket(config: Config): string {
  return join(config.stateDir, "task-backend.sock");
}

function keeperPidFile(config: Config): string {
  return join(config.stateDir, "task-keeper.pid");
}

/** The keeper's pid if the recorded one still runs for this task socket. */
async function runningKeeper(config: Config): Promise<number | undefined> {
  const pid = Number((await readFile(keeperPidFile(config), "utf8").catch(() => "")).trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
  return cmdline.split("\0").includes(config.taskSocket) ? pid : undefined;
}

/** Makes sure a keeper serves the task socket; returns the backend socket to listen on. */
export async function ensureKeeper(config: Config): Promise<string> {
  const backend = keeperBackendSocket(config);
  if ((await runningKeeper(config)) !== undefined && (await answers(config.taskSocket)))
    return backend;
  await rm(config.taskSocket, { force: true });
  const { child, pid } = await spawnDetached(config.binaries.taskKeeper, [
    config.taskSocket,
    backend,
  ]);
  await writeFileAtomic(keeperPidFile(config), `${pid}\n`, 0o644);
  for (let i = 0; i < 500; i++) {
    if (await answers(config.taskSocket)) return backend;
    if (child.exited) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw unknownError(
    `task keeper ${JSON.stringify(config.binaries.taskKeeper)} did not listen on ${config.taskSocket}`,
  );
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(path);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}
