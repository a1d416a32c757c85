/**
 * Learning that a process exited from the files its conmon leaves: `exit`
 * (renamed into place, so it is complete when it appears) and `oom`. inotify
 * (fs.watch on the directory) reports them at once; the caller also checks once
 * after arming the watch, for an exit that happened before it (a restart).
 */
import type { FSWatcher } from "node:fs";
import { watch } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";

export interface ExitInfo {
  status: number;
  /** When conmon wrote the file (its mtime). */
  at: number;
}

/** The exit recorded in `dir`, or undefined while the process runs. */
export async function readExitFile(dir: string): Promise<ExitInfo | undefined> {
  const file = join(dir, "exit");
  try {
    const [text, info] = await Promise.all([readFile(file, "utf8"), stat(file)]);
    const status = Number.parseInt(text.trim(), 10);
    // conmon writes -1 when it could not tell (timeout, unknown status): report 255 as runc shims do.
    return {
      status: Number.isFinite(status) && status >= 0 ? status : 255,
      at: Math.floor(info.mtimeMs),
    };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

export async function hasOomFile(dir: string): Promise<boolean> {
  return stat(join(dir, "oom")).then(
    () => true,
    () => false,
  );
}

/** Calls `onChange(name)` when `exit` or `oom` appears in `dir`. */
export function watchExitDir(dir: string, onChange: (name: "exit" | "oom") => void): () => void {
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dir, { persistent: false }, (_event, filename) => {
      const name = filename?.toString();
      if (name === "exit" || name === "oom") onChange(name);
    });
    watcher.on("error", () => watcher?.close());
  } catch {
    // the directory is gone: nothing left to watch
  }
  return () => watcher?.close();
}
