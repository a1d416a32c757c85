/** FIFOs for task and exec stdio (the daemon hands their paths to the task). */
import { execFile } from "node:child_process";
import { constants, openSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { Socket } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/**
 * The FIFOs `names` in `dir` (made there if missing), by name. One mkfifo for
 * all of them: each process spawned blocks the daemon's event loop while it forks.
 */
export async function makeFifos(
  dir: string,
  names: readonly string[],
): Promise<Record<string, string>> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const out: Record<string, string> = {};
  for (const n of names) out[n] = join(dir, n);
  const paths = Object.values(out);
  if (paths.length === 0) return out;
  await run("mkfifo", ["-m", "600", ...paths]).catch(
    (err: NodeJS.ErrnoException & { stderr?: string }) => {
      // mkfifo goes on after a failure and names every file it could not make.
      const failed = String(err.stderr ?? "")
        .split("\n")
        .filter((l) => l.trim() !== "" && !l.includes("File exists"));
      if (failed.length || err.stderr === undefined) throw err;
    },
  );
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
