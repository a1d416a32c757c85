/**
 * Crash-safe files: a reader sees the old content or the new one, never a torn
 * write, and what was written survives a crash (core's writeFileAtomic, durable),
 * plus the JSON records and directories the sandboxer's state is made of.
 */
import { syncDir, writeFileAtomic as writeCore } from "@sandboxd/core";
import { mkdir, readdir, readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { checkRecord } from "./records.js";

/**
 * A file replaced atomically (temp + rename): a reader, or the sandboxer after a kill -9, sees
 * the old content or the new one, never a torn write, and a kill -9 loses no written page.
 * `durable` also fsyncs file and directory (core's writeFileAtomic), against a machine crash.
 * The sandboxer's records describe runtime state (its default state_dir is /run/sbx-sandboxer,
 * a tmpfs, like containerd's /run state): mounts, namespaces, cgroups and processes that a
 * machine crash ends with them. They are fsynced only where they guard what a crash leaves on
 * a disk-backed state_dir (the record naming a CNI ADD's IPAM lease, see Pod.start).
 */
export function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  mode = 0o600,
  durable = true,
): Promise<void> {
  return writeCore(path, data, { mode, durable });
}

export async function writeJsonAtomic(path: string, value: unknown, durable = true): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`, 0o600, durable);
}

/** Parsed JSON, or undefined when the file does not exist. */
export async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/** A versioned state record (checkRecord), or undefined when the file does not exist. */
export async function readRecord<T extends { version: number }>(
  path: string,
): Promise<T | undefined> {
  const value = await readJson<unknown>(path);
  return value === undefined ? undefined : checkRecord<T>(value, path);
}

/** The file's text, or undefined when it does not exist. */
export async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/** mkdir -p, then (`durable`) fsync the parent so a new directory survives a crash. */
export async function ensureDir(dir: string, mode = 0o711, durable = true): Promise<void> {
  const created = await mkdir(dir, { recursive: true, mode });
  if (created !== undefined && durable) await syncDir(dirname(dir));
}

/** The names of the directories in `dir` (records are kept one directory each); none when unreadable. */
export async function listDirs(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true }))
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  } catch {
    return [];
  }
}
