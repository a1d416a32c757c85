// A real sandboxd (and its sandboxer) for the SDK's and the CLI's integration
// tests, through @sandboxd/testing's harness. Until the harness exists, tests
// that need it are marked todo with what is missing (they still run and
// report), rather than skipped.
import { join } from "node:path";
import { busyboxRootfs, requireRoot, tempDir } from "./helpers.js";

/** A running sandboxd as the tests see it. */
export interface Daemon {
  /** The gRPC socket. */
  address: string;
  /** A busybox rootfs prepared for the tests. */
  rootfs: string;
  /** A directory for the test's own files (FIFOs, rootfs cache). */
  dir: string;
}

interface Harness {
  startSandboxd(options: { dir: string }): Promise<{ address: string; stop(): Promise<void> }>;
}

async function harness(): Promise<Harness | undefined> {
  const testing = (await import("@sandboxd/testing")) as Record<string, unknown>;
  return typeof testing.startSandboxd === "function" ? (testing as unknown as Harness) : undefined;
}

/** Why daemon tests cannot run yet (for `todo`), or false when they can. */
export const missing: string | false = (await harness())
  ? false
  : "needs startSandboxd from @sandboxd/testing (sandboxd with the Sandbox API and sbx-sandboxer)";

/** Starts sandboxd in a temp dir for the test; stopped after it. */
export async function startDaemon(t: {
  after: (fn: () => Promise<void>) => void;
}): Promise<Daemon> {
  requireRoot();
  const h = await harness();
  if (!h) throw new Error(String(missing));
  const dir = await tempDir(t, "sbx-it-");
  const daemon = await h.startSandboxd({ dir: join(dir, "sandboxd") });
  t.after(() => daemon.stop());
  const rootfs = await busyboxRootfs(join(dir, "rootfs"));
  return { address: daemon.address, rootfs, dir };
}
