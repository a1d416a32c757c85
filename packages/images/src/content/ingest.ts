/** The files of one ingest directory: created, read back as a status. */
import { mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fsError } from "./digest.js";
import type { IngestStatus } from "./types.js";

export async function prepareIngest(
  dir: string,
  backendRef: string,
  total: number,
  expected: string,
): Promise<void> {
  try {
    await mkdir(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST")
      throw fsError(err, `ingest ${backendRef}`);
    if (total > 0) await writeFile(join(dir, "total"), String(total));
    return;
  }
  try {
    const now = new Date().toISOString();
    await writeFile(join(dir, "ref"), backendRef);
    await writeFile(join(dir, "startedat"), now);
    await writeFile(join(dir, "updatedat"), now);
    if (total > 0) await writeFile(join(dir, "total"), String(total));
    if (expected) await writeFile(join(dir, "expected"), expected);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw fsError(err, `ingest ${backendRef}`);
  }
}

export async function ingestStatus(
  dir: string,
  backendRef: string,
): Promise<IngestStatus | undefined> {
  let data;
  try {
    data = await stat(join(dir, "data"));
  } catch {
    // A ref without data yet (opened, nothing written) still has its dir.
    if (!(await stat(dir).catch(() => undefined))) return undefined;
  }
  const started = await readText(join(dir, "startedat"));
  const updated = await readText(join(dir, "updatedat"));
  const updatedAt = data ? data.mtime : new Date(updated || Date.now());
  return {
    ref: backendRef.slice(backendRef.indexOf("/") + 1),
    offset: data ? data.size : 0,
    total: await readTotal(dir),
    expected: await readText(join(dir, "expected")),
    startedAt: new Date(started || Date.now()),
    updatedAt,
  };
}

export async function readText(path: string): Promise<string> {
  try {
    return (await readFile(path, "utf8")).trim();
  } catch {
    return "";
  }
}

export async function readTotal(dir: string): Promise<number> {
  const text = await readText(join(dir, "total"));
  const n = Number(text);
  return Number.isFinite(n) && n > 0 ? n : 0;
}
