/**
 * Files replaced whole: a reader (or the next start after a kill -9) sees the
 * old content or the new one, never a torn write. The data goes to a temp file
 * in the same directory, which is renamed over the target. `durable` also
 * fsyncs the file and the directory, so the new content survives a power loss;
 * state that lives on a tmpfs (/run) only needs the atomic rename.
 *
 * The file replaced is held open across the rename, and let go without waiting: its
 * inode is freed at that last close, not inside the rename. Freeing a disk file's
 * blocks can wait on the device (an ext4 mounted with `discard` and no journal, as on
 * this machine kind, discards them there and then: usually 0.1–2 ms, at times over
 * 100 ms), and a caller waiting on the rename would wait on that too.
 */
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

const holdFlags = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW;

export interface AtomicWriteOptions {
  /** The file's mode (default 0o600). */
  mode?: number;
  /** fsync the file and its directory (default true). */
  durable?: boolean;
}

export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const durable = options.durable ?? true;
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${randomBytes(4).toString("hex")}.tmp`);
  const file = await open(temp, "wx", options.mode ?? 0o600);
  try {
    await file.writeFile(data);
    if (durable) await file.sync();
  } catch (err) {
    await file.close();
    await rm(temp, { force: true });
    throw err;
  }
  await file.close();
  // Non-blocking and not through a symlink: only the inode the rename unlinks matters.
  const replaced = await open(path, holdFlags).catch(() => undefined);
  try {
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  } finally {
    void replaced?.close().catch(() => undefined);
  }
  if (durable) await syncDir(dir);
}

/** fsync of a directory, so that entries made or renamed in it are durable. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
