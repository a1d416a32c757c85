// A real sandboxd, with sbx-sandboxer behind the io.containerd.sbx.v1 runtime
// (its shim starts a private sandboxer named by SBX_SANDBOXER_CONFIG), for the
// SDK's and the CLI's integration tests. Root.
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  binDir,
  cleanupSandboxerInstance,
  requireRoot,
  startSandboxd,
  waitUntil,
  writeSandboxerConfig,
} from "@sandboxd/testing";
import { Client } from "@sandboxd/client";
import type { LeakScope, Sandboxd, SandboxerConfig } from "@sandboxd/testing";
import { busyboxRootfs } from "./helpers.js";

/** A running sandboxd as the tests see it. */
export interface Daemon {
  /** The gRPC socket. */
  address: string;
  /** A busybox rootfs prepared for the tests. */
  rootfs: string;
  /** A directory for the test's own files (FIFOs, rootfs cache). */
  dir: string;
  /** Environment for processes that talk to this daemon and its sandboxer. */
  env: Record<string, string>;
  /** The config of the sandboxer the sbx shim starts (state dir, cgroup parent, bridge). */
  sandboxer: SandboxerConfig;
  /** What a leak check of this daemon's pods covers (`snapshotLeaks`/`assertNoLeaks`). */
  leakScope: LeakScope;
  /** The daemon, from the harness. */
  sandboxd: Sandboxd;
}

async function sandboxerPids(configPath: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
    if (cmdline.includes("sbx-sandboxer") && cmdline.includes(configPath)) pids.push(Number(entry));
  }
  return pids;
}

/** Starts sandboxd (and, through the sbx shim, a private sandboxer) for the test. */
export async function startDaemon(t: {
  after: (fn: () => Promise<void>) => void;
}): Promise<Daemon> {
  requireRoot();
  const dir = await mkdtemp(join(tmpdir(), "sbx-it-"));
  const config = await writeSandboxerConfig({ dir: join(dir, "sbx") });
  const env = { SBX_SANDBOXER_CONFIG: config.path };
  const started: { daemon?: Sandboxd } = {};
  // One hook, in order: the daemon, then the sandboxer its shim started, then its
  // mounts, cgroups and bridge, and only then the directory.
  t.after(async () => {
    await started.daemon?.stop();
    for (const pid of await sandboxerPids(config.path)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone already
      }
    }
    await waitUntil(async () => (await sandboxerPids(config.path)).length === 0, {
      what: "the sandboxer to exit",
    });
    await cleanupSandboxerInstance(config);
    await rm(dir, { recursive: true, force: true });
  });
  const daemon = (started.daemon = await startSandboxd({
    dir: join(dir, "sandboxd"),
    extraPath: [binDir],
    env,
  }));
  const rootfs = await busyboxRootfs(join(dir, "rootfs"));
  return {
    address: daemon.address,
    rootfs,
    dir,
    env,
    sandboxer: config,
    leakScope: { paths: [dir], cgroupParents: [config.cgroupParent], bridges: [config.bridge] },
    sandboxd: daemon,
  };
}

/** A client (namespace "sdk-it") of a fresh sandboxd with the real sandboxer behind io.containerd.sbx.v1. */
export async function connect(t: { after: (fn: () => Promise<void>) => void }) {
  const daemon = await startDaemon(t);
  const client = await Client.connect({ address: daemon.address, namespace: "sdk-it" });
  t.after(() => Promise.resolve(client.close()));
  return { client, daemon, rootfs: daemon.rootfs, fifoDir: join(daemon.dir, "fifo") };
}
