/** FIFOs for task and exec stdio (the daemon hands their paths to the task). */
import { execFile } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export async function makeFifos(
  dir: string,
  names: readonly string[],
): Promise<Record<string, string>> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const out: Record<string, string> = {};
  for (const n of names) {
    const p = join(dir, n);
    await run("mkfifo", ["-m", "600", p]).catch(
      (err: NodeJS.ErrnoException & { stderr?: string }) => {
        if (!String(err.stderr ?? "").includes("File exists")) throw err;
      },
    );
    out[n] = p;
  }
  return out;
}
