/**
 * Crash-safe files: a reader sees the old content or the new one, never a torn
 * write, and what was written survives a crash (core's writeFileAtomic, durable),
 * plus the JSON records and directories the sandboxer's state is made of.
 */
import { syncDir, writeFileAtomic as writeCore } from "@sandboxd/core";
import { mkdir, readdir, readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { checkRecord } from "./records.js";

/** The sandboxer's state is durable: fsynced file and directory (core's writeFileAtomic). */
export function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  mode = 0o600,
): Promise<void> {
  return writeCore(path, data, { mode });
}

export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
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

/** mkdir -p, then fsync the parent so a new directory survives a crash. */
export async function ensureDir(dir: string, mode = 0o711): Promise<void> {
  const created = await mkdir(dir, { recursive: true, mode });
  if (created !== undefined) await syncDir(dirname(dir));
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
