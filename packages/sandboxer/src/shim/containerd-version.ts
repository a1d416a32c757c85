/**
 * `<publish-binary> --version`, asked once per containerd binary and cached in
 * the sandboxer's state directory (keyed by path, size and mtime, so an upgrade
 * is noticed). Only consulted when the environment cannot tell 1.7 from 2.0–2.2.
 */
import { execFile } from "node:child_process";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { readJson, writeJsonAtomic } from "../state/atomic.js";

type Cache = Record<string, { size: number; mtimeMs: number; version: string }>;

export async function publishBinaryVersion(
  stateDir: string,
  binary: string,
): Promise<string | undefined> {
  if (!binary) return undefined;
  const info = await stat(binary).catch(() => undefined);
  if (!info) return undefined;
  const cacheFile = join(stateDir, "containerd-versions.json");
  const cache = (await readJson<Cache>(cacheFile).catch(() => undefined)) ?? {};
  const hit = cache[binary];
  if (hit && hit.size === info.size && hit.mtimeMs === info.mtimeMs) return hit.version;
  const version = await new Promise<string | undefined>((resolve) => {
    execFile(binary, ["--version"], { timeout: 3000 }, (err, stdout) =>
      resolve(err ? undefined : stdout.trim()),
    );
  });
  if (version) {
    cache[binary] = { size: info.size, mtimeMs: info.mtimeMs, version };
    await writeJsonAtomic(cacheFile, cache).catch(() => undefined);
  }
  return version;
}
