/** FIFOs for task and exec stdio (the daemon hands their paths to the task). */
import { constants, openSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { Socket } from "node:net";
import { join } from "node:path";
import { mkfifo } from "@sandboxd/core";

/**
 * The FIFOs `names` in `dir` (made there if missing), by name; mode 0600. With
 * mkfifo(3), not a mkfifo(1) per FIFO: each process spawned blocks the daemon's
 * event loop while it forks.
 */
export async function makeFifos(
  dir: string,
  names: readonly string[],
): Promise<Record<string, string>> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const out: Record<string, string> = {};
  for (const n of names) {
    const p = join(dir, n);
    await mkfifo(p, 0o600).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== "EEXIST") throw err;
    });
    out[n] = p;
  }
  return out;
}

/** The container's stdin FIFO, held open read-write so it never reports EOF. */
export function openStdin(path: string): Socket {
  const s = new Socket({
    fd: openSync(path, constants.O_RDWR | constants.O_NONBLOCK),
    readable: false,
    writable: true,
  });
  s.on("error", () => undefined);
  return s;
}
