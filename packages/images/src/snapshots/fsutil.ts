/** File tree helpers for the snapshotters: disk usage and a metadata-preserving copy. */
import { execFile } from "node:child_process";
import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Usage } from "./types.js";

const run = promisify(execFile);

/**
 * containerd's fs.DiskUsage: allocated bytes and inodes, each hard-linked inode once.
 * The root must exist; an entry below it that vanishes mid-walk (a running container's
 * writable layer changes under us) is simply not counted, rather than failing the walk.
 */
export async function diskUsage(root: string): Promise<Usage> {
  const seen = new Set<string>();
  let size = 0;
  const visit = async (path: string, isRoot: boolean): Promise<void> => {
    let st;
    let names: string[] = [];
    try {
      st = await lstat(path, { bigint: false });
      if (st.isDirectory()) names = await readdir(path);
    } catch (err) {
      if (!isRoot && isGone(err)) return;
      throw err;
    }
    const id = `${st.dev}:${st.ino}`;
    if (seen.has(id)) return;
    seen.add(id);
    size += st.blocks * 512;
    for (const name of names) await visit(join(path, name), false);
  };
  await visit(root, true);
  return { size, inodes: seen.size };
}

function isGone(err: unknown): boolean {
  const code = err instanceof Error && "code" in err ? err.code : undefined;
  return code === "ENOENT" || code === "ENOTDIR";
}

/** Copies `from` to `to` (which must not exist) keeping owners, modes, times, xattrs and links. */
export async function copyTree(from: string, to: string): Promise<void> {
  await run("cp", ["-a", "--reflink=auto", "--", from, to]);
}
