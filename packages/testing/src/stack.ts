/**
 * The one way tests start "the stack": a sandboxd of their own in a fresh temp
 * dir (with, behind io.containerd.sbx.v1, the sbx-sandboxer its shim starts),
 * optionally a busybox rootfs, all removed again: `startStack(t)` for one test,
 * `openStack()` + `close()` for a whole file (from `before`/`after`). Test
 * suites' own helpers build domain clients on top of it; they start nothing.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LeakScope } from "./leaks.js";
import { requireRoot } from "./requirements.js";
import { busyboxRootfs } from "./rootfs.js";
import type { SandboxerConfig } from "./sandboxer.js";
import { startSandboxd, type Sandboxd, type SandboxdOptions } from "./sandboxd.js";
import type { AfterHook } from "./temp-dir.js";

export interface StackOptions extends Omit<SandboxdOptions, "dir"> {
  /** Prepare a busybox rootfs (`stack.rootfs`); default false. */
  rootfs?: boolean;
  /** Prefix of the temp dir (default `sbxd-`). */
  prefix?: string;
}

export interface Stack {
  /** The test's directory: sandboxd's state is under `dir/d`; removed by close. */
  readonly dir: string;
  readonly sandboxd: Sandboxd;
  /** sandboxd's gRPC socket. */
  readonly address: string;
  /** Environment for processes that talk to this stack (the sandboxer's config). */
  readonly env: Record<string, string>;
  /** The busybox rootfs ("" unless asked for). */
  readonly rootfs: string;
  /** The config of the sandboxer the sbx shim starts (state dir, cgroup parent, bridge). */
  readonly sandboxer: SandboxerConfig;
  /** What a leak check of this stack's pods covers. */
  readonly leakScope: LeakScope;
  /** Stops sandboxd (everything it ran removed, its sandboxer too), then removes `dir`. */
  readonly close: () => Promise<void>;
}

/** Starts a stack for a whole file; call `close` from a file-level `after`. */
export async function openStack(options: StackOptions = {}): Promise<Stack> {
  requireRoot();
  const { rootfs: wantRootfs, prefix, ...sandboxdOptions } = options;
  const dir = await mkdtemp(join(tmpdir(), prefix ?? "sbxd-"));
  let sandboxd: Sandboxd | undefined;
  const close = async (): Promise<void> => {
    try {
      await sandboxd?.stop();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };
  try {
    sandboxd = await startSandboxd({ ...sandboxdOptions, dir: join(dir, "d") });
    const rootfs = wantRootfs ? await busyboxRootfs(join(dir, "rootfs")) : "";
    const sandboxer = sandboxd.sandboxerConfig;
    return {
      dir,
      sandboxd,
      address: sandboxd.address,
      env: { SBX_SANDBOXER_CONFIG: sandboxer.path },
      rootfs,
      sandboxer,
      leakScope: {
        paths: [dir],
        cgroupParents: [sandboxer.cgroupParent],
        bridges: [sandboxer.bridge],
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Starts a stack for one test; it is closed after the test. */
export async function startStack(t: AfterHook, options: StackOptions = {}): Promise<Stack> {
  const stack = await openStack(options);
  t.after(stack.close);
  return stack;
}
