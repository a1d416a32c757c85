// Shared by the daemon's integration and interop tests: a sandboxd per file,
// a busybox rootfs, ctr in the background.
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  requireRoot,
  startSandboxd,
  type AfterHook,
  type Sandboxd,
  type SandboxdOptions,
} from "@sandboxd/testing";

export type { Sandboxd };

/**
 * Starts sandboxd in a fresh temp dir for one test; after it, sandboxd is
 * stopped (everything removed) and then the dir is removed. (node:test runs
 * `after` hooks in the order they were added, so this is one hook.)
 */
export async function startDaemon(
  t: AfterHook,
  options: Omit<SandboxdOptions, "dir"> = {},
): Promise<{ daemon: Sandboxd; dir: string }> {
  const opened = await openDaemon(options);
  t.after(opened.close);
  return opened;
}

/**
 * Starts sandboxd for a whole file (call from `before`, and `close` from a
 * file-level `after`: hooks registered inside `before` run when it ends).
 */
export async function openDaemon(
  options: Omit<SandboxdOptions, "dir"> = {},
): Promise<{ daemon: Sandboxd; dir: string; close: () => Promise<void> }> {
  requireRoot();
  const dir = await mkdtemp(join(tmpdir(), "sbxd-"));
  try {
    const daemon = await startSandboxd({ ...options, dir: join(dir, "d") });
    const close = async (): Promise<void> => {
      await daemon.stop();
      await rm(dir, { recursive: true, force: true });
    };
    return { daemon, dir, close };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/** `ctr events` (or another long-running ctr command) in the background; its output so far. */
export function ctrInBackground(
  t: AfterHook,
  address: string,
  args: readonly string[],
): { output: () => string; stop: () => void } {
  const child = spawn("/usr/bin/ctr", ["--address", address, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (out += d));
  const stop = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  t.after(stop);
  return { output: () => out, stop };
}
