/**
 * Temporary directories owned by one test and removed after it, even when the test fails.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The part of node:test's TestContext these helpers need. */
export interface AfterHook {
  after(fn: () => unknown): void;
}

/**
 * Creates a directory under the system temp dir (or `parent`) and removes it after the
 * test. Unix socket paths are limited to 107 bytes: keep `prefix` short.
 */
export async function tempDir(t: AfterHook, prefix = "sbx-", parent = tmpdir()): Promise<string> {
  const dir = await mkdtemp(join(parent, prefix));
  t.after(() => rm(dir, { recursive: true, force: true, maxRetries: 3 }));
  return dir;
}
