/**
 * The one way tests start "the stack": a sandboxd of their own in a fresh temp
 * dir with sbx-sandboxer behind it, reached the way `mode` says (`shim`: the
 * sandboxer containerd-shim-sbx-v1 starts for io.containerd.sbx.v1; `proxy`:
 * a sandboxer the test runs, sandboxd's proxy plugin `sbx`; `inproc`: the
 * sandboxer in sandboxd's process), optionally a busybox rootfs and a leak
 * baseline, all removed again: `startStack(t)` for one test, `openStack()` +
 * `close()` for a whole file (from `before`/`after`). Test suites' own helpers
 * build domain clients on top of it; they start nothing.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { assertNoLeaks, snapshotLeaks, type LeakScope, type LeakSnapshot } from "./leaks.js";
import { unmountAll } from "./mounts.js";
import { proxyStackDirs, startProxyStack } from "./proxy-stack.js";
import { requireRoot } from "./requirements.js";
import { busyboxRootfs } from "./rootfs.js";
import type { RunningSandboxer, SandboxerConfig, SandboxerConfigOptions } from "./sandboxer.js";
import { startSandboxd, type Sandboxd, type SandboxdOptions } from "./sandboxd.js";
import { removeContainersUnder, shutdownLeftPods, warmUp } from "./stack-cleanup.js";
import type { AfterHook } from "./temp-dir.js";

/** How sandboxd reaches sbx-sandboxer. */
export type SandboxerMode = "shim" | "proxy" | "inproc";

export interface StackOptions extends Omit<
  SandboxdOptions,
  "dir" | "proxyPlugins" | "inProcessSandboxer"
> {
  /** Default `shim`. */
  mode?: SandboxerMode;
  /** `proxy`: the config of the sandboxer the test runs (network, log level, sweep, extra TOML). */
  proxySandboxer?: Omit<SandboxerConfigOptions, "dir" | "eventsAddress">;
  /** Prepare a busybox rootfs (`stack.rootfs`); default false. */
  rootfs?: boolean;
  /** Prefix of the temp dir (default `sbxd-`). */
  prefix?: string;
  /**
   * Take a leak baseline for `checkLeaks` once the sandboxer runs, before the
   * test's pods exist. Shim mode first starts and removes one sandbox in
   * `namespace`, so that the sandboxer is running when the baseline is taken.
   */
  leakBaseline?: { namespace: string };
  /** Runs before anything starts, e.g. to mount a small tmpfs on a state directory. */
  prepare?: (dirs: { sandboxdDir: string; sandboxerDir: string }) => Promise<void>;
  /**
   * Undoes `prepare` at the end, once sandboxd has emptied and exited and before
   * its state is removed (e.g. unmounts that tmpfs); `dir` is unmounted recursively anyway.
   */
  release?: () => Promise<void>;
}

export interface Stack {
  /** The test's directory: sandboxd's state is under `dir/d`; removed by close. */
  readonly dir: string;
  /** The sandboxd running now (a new one after `restartSandboxd`). */
  readonly sandboxd: Sandboxd;
  /** sandboxd's gRPC socket (the same after a restart). */
  readonly address: string;
  /** Environment for processes that talk to this stack (the shim-started sandboxer's config). */
  readonly env: Record<string, string>;
  /** The busybox rootfs ("" unless asked for). */
  readonly rootfs: string;
  /** The sandboxer's config (state dir, sockets, cgroup parent, bridge). */
  readonly sandboxer: SandboxerConfig;
  /** `proxy` mode: the sandboxer the test runs (kill, restart, log). */
  readonly proxy: RunningSandboxer | undefined;
  /** What a leak check of this stack's pods covers. */
  readonly leakScope: LeakScope;
  /** kill -9 sandboxd and start it again on the same root, state and config. */
  restartSandboxd(): Promise<Sandboxd>;
  /** Fails if the test's pods left mounts, cgroups, processes or veths (needs `leakBaseline`). */
  checkLeaks(timeoutMs?: number): Promise<void>;
  /**
   * Stops sandboxd (everything it ran removed), then the sandboxer and any
   * container or pod left behind it, then unmounts and removes `dir`.
   */
  readonly close: () => Promise<void>;
}

/** Starts a stack for a whole file; call `close` from a file-level `after`. */
export async function openStack(options: StackOptions = {}): Promise<Stack> {
  requireRoot();
  const {
    mode = "shim",
    proxySandboxer,
    rootfs: wantRootfs,
    prefix,
    leakBaseline,
    prepare,
    release,
    ...sandboxdOptions
  } = options;
  const dir = await mkdtemp(join(tmpdir(), prefix ?? "sbxd-"));
  const dirs = proxyStackDirs(dir);
  let sandboxd: Sandboxd | undefined;
  let proxy: RunningSandboxer | undefined;
  const close = async (): Promise<void> => {
    try {
      await stopAll(sandboxd, proxy, release);
    } finally {
      await unmountAll(dir);
      await rm(dir, { recursive: true, force: true, maxRetries: 3 });
    }
  };
  try {
    if (prepare) await prepare(dirs);
    const rootfs = wantRootfs ? await busyboxRootfs(join(dir, "rootfs")) : "";
    let restart: () => Promise<Sandboxd>;
    if (mode === "proxy") {
      const pair = await startProxyStack({
        ...dirs,
        sandboxer: proxySandboxer,
        sandboxd: sandboxdOptions,
      });
      proxy = pair.sandboxer;
      sandboxd = pair.sandboxd;
      restart = () => pair.restartSandboxd();
    } else {
      const o: SandboxdOptions = {
        ...sandboxdOptions,
        dir: dirs.sandboxdDir,
        ...(mode === "inproc" ? { inProcessSandboxer: "sbx" } : {}),
      };
      sandboxd = await startSandboxd(o);
      restart = async () => {
        await sandboxd?.kill();
        return startSandboxd(o);
      };
    }
    const sandboxer = proxy ?? sandboxd.sandboxerConfig;
    const leakScope: LeakScope = {
      paths: [dir],
      cgroupParents: [sandboxer.cgroupParent],
      bridges: [sandboxer.bridge],
    };
    let baseline: LeakSnapshot | undefined;
    if (leakBaseline) {
      if (mode === "shim") await warmUp(sandboxd.address, leakBaseline.namespace);
      baseline = await snapshotLeaks(leakScope);
    }
    const started = sandboxd;
    return {
      dir,
      get sandboxd() {
        return sandboxd ?? started;
      },
      address: sandboxd.address,
      env: { SBX_SANDBOXER_CONFIG: sandboxd.sandboxerConfig.path },
      rootfs,
      sandboxer,
      proxy,
      leakScope,
      async restartSandboxd() {
        return (sandboxd = await restart());
      },
      checkLeaks(timeoutMs = 15_000) {
        if (!baseline) throw new Error("checkLeaks needs a stack opened with leakBaseline");
        return assertNoLeaks(baseline, leakScope, timeoutMs);
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

async function stopAll(
  sandboxd: Sandboxd | undefined,
  proxy: RunningSandboxer | undefined,
  release: (() => Promise<void>) | undefined,
): Promise<void> {
  if (process.env.SBX_TEST_LOG) {
    process.stderr.write((await proxy?.log()) ?? "");
    process.stderr.write((await sandboxd?.log()) ?? "");
  }
  try {
    if (sandboxd && release) {
      await sandboxd.empty();
      await sandboxd.terminate();
      await release();
    }
    await sandboxd?.stop();
  } finally {
    const stateDir = proxy?.stateDir ?? sandboxd?.sandboxerConfig.stateDir;
    if (proxy) await shutdownLeftPods(proxy);
    // A test that failed while the sandboxer was down leaves containers nobody can stop.
    if (stateDir) await removeContainersUnder(stateDir);
    await proxy?.stop();
  }
}
