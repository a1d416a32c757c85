// The real sbx-sandboxer under sandboxd, every way sandboxd can reach it:
// `shim` (runtime io.containerd.sbx.v1: containerd-shim-sbx-v1 `start`
// launches the sandboxer on the harness's private config, then the ttrpc
// Sandbox service on its task socket), `proxy` (`[proxy_plugins.sbx]
// type = "sandbox"`, a sandboxer the test runs, over its gRPC Controller) and
// `inproc` (`[sandbox] in_process = "sbx"`: sandboxd hosts the sandboxer).
// A leak baseline is taken once the sandboxer runs and before the test's
// pods exist; containers run a busybox rootfs.
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { JsonTypeUrl, packJson } from "@sandboxd/api";
import type { Any } from "@bufbuild/protobuf/wkt";
import { defaultSpec } from "@sandboxd/client";
import {
  busyboxRootfs,
  binDir,
  run,
  assertNoLeaks,
  proxyStackDirs,
  snapshotLeaks,
  startProxyStack,
  startSandboxd,
  type AfterHook,
  type LeakScope,
  type LeakSnapshot,
  type RunningSandboxer,
  type Sandboxd,
  type SandboxerConfig,
} from "@sandboxd/testing";
import { requireRuntime } from "../sandboxer/helpers.js";
import { clients, noProcessesMentioning, sandboxRecord, type Clients } from "./helpers.js";

export const sbxRuntime = "io.containerd.sbx.v1";
export const modes = ["shim", "proxy", "inproc"] as const;
export type Mode = (typeof modes)[number];

export const modeNames: Record<Mode, string> = {
  shim: "the shim controller (containerd-shim-sbx-v1)",
  proxy: "a proxy plugin",
  inproc: "the sandboxer in sandboxd's process",
};

export interface SbxWorld {
  mode: Mode;
  /** The `sandboxer` field sandboxes of this world name. */
  sandboxer: string;
  daemon: Sandboxd;
  /** The sandboxer's config (state dir, sockets, cgroup parent, bridge). */
  config: SandboxerConfig;
  /** Proxy mode: the sandboxer the test runs. */
  proxy: RunningSandboxer | undefined;
  dir: string;
  rootfs: string;
  /** A host directory bind-mounted at /out in containers made by `containerSpec`. */
  out: string;
  c: Clients;
  namespace: string;
  /** kill -9 sandboxd and start it again on the same root and state (`daemon` and `c` follow). */
  restartDaemon(): Promise<void>;
  /** Fails if the test's pods left mounts, cgroups, conmon/runc processes or veths. */
  checkLeaks(): Promise<void>;
}

/**
 * sandboxd and an sbx-sandboxer reaching each other as `mode` says; after
 * the test everything is removed and no process mentioning the test's
 * directories is left. Shim mode starts (and removes) one warm-up sandbox
 * first, so the sandboxer runs before the leak baseline.
 */
export async function sbxWorld(t: AfterHook, mode: Mode, namespace = "sbx"): Promise<SbxWorld> {
  await requireRuntime();
  const dir = await mkdtemp(join(tmpdir(), `sbxd-${mode}-`));
  const cleanups: (() => Promise<unknown>)[] = [];
  t.after(async () => {
    for (const fn of cleanups.reverse()) await fn();
    await rm(dir, { recursive: true, force: true });
    await noProcessesMentioning(dir);
  });
  const rootfs = await busyboxRootfs(join(dir, "rootfs"));
  const out = join(dir, "out");
  await mkdir(out);
  const daemonOptions = { dir: join(dir, "d"), extraPath: [binDir] };
  let proxy: RunningSandboxer | undefined;
  let restart: () => Promise<Sandboxd>;
  let daemon: Sandboxd;
  if (mode === "proxy") {
    // In proxy mode no shim registers an events endpoint: the sandboxer is told sandboxd's.
    const stack = await startProxyStack({
      ...proxyStackDirs(dir),
      sandboxd: { extraPath: daemonOptions.extraPath },
    });
    proxy = stack.sandboxer;
    cleanups.push(() => stack.sandboxer.stop());
    daemon = stack.sandboxd;
    restart = () => stack.restartSandboxd();
  } else {
    const options =
      mode === "inproc" ? { ...daemonOptions, inProcessSandboxer: "sbx" } : daemonOptions;
    daemon = await startSandboxd(options);
    restart = async () => {
      await current.daemon.kill();
      return startSandboxd(options);
    };
  }
  const c = clients(daemon.address, namespace);
  const config = proxy ?? daemon.sandboxerConfig;
  // What restartDaemon replaced last: the cleanup stops that one.
  const current = { daemon, c };
  cleanups.push(async () => {
    current.c.channel.close();
    await current.daemon.stop();
    // A test that failed while the sandboxer was down leaves containers nobody can stop.
    await removeContainersUnder(config.stateDir);
  });
  const sandboxer = mode === "shim" ? "shim" : "sbx";
  if (mode === "shim") {
    await c.store.create({ sandbox: sandboxRecord("warmup", { runtime: { name: sbxRuntime } }) });
    await c.controller.start({ sandboxId: "warmup" });
    await c.controller.shutdown({ sandboxId: "warmup" });
    await c.store.delete({ sandboxId: "warmup" });
  }
  const scope: LeakScope = {
    paths: [join(dir, "d"), config.stateDir],
    cgroupParents: [config.cgroupParent],
    bridges: [config.bridge],
  };
  const baseline: LeakSnapshot = await snapshotLeaks(scope);
  const w: SbxWorld = {
    mode,
    sandboxer,
    daemon,
    config,
    proxy,
    dir,
    rootfs,
    out,
    c,
    namespace,
    checkLeaks: () => assertNoLeaks(baseline, scope, 15_000),
    async restartDaemon() {
      w.c.channel.close();
      w.daemon = current.daemon = await restart();
      w.c = current.c = clients(w.daemon.address, namespace);
    },
  };
  return w;
}

/** `runc delete --force` of every container in the sandboxer's runc roots (failure paths only). */
async function removeContainersUnder(stateDir: string): Promise<void> {
  const roots = join(stateDir, "runc");
  for (const ns of await readdir(roots).catch(() => [] as string[])) {
    const root = join(roots, ns);
    const listed = await run("runc", ["--root", root, "list", "-q"]).catch(() => undefined);
    for (const id of listed?.stdout.toString().split("\n").filter(Boolean) ?? []) {
      await run("runc", ["--root", root, "delete", "--force", id]).catch(() => undefined);
    }
  }
}

/** A sandbox record for the sbx runtime, in this world's sandboxer, with a spec naming the hostname. */
export function sbxSandbox(w: SbxWorld, id: string, hostname: string) {
  return sandboxRecord(id, {
    runtime: { name: sbxRuntime },
    sandboxer: w.sandboxer,
    spec: packJson(JsonTypeUrl.Spec, { ociVersion: "1.1.0", hostname }),
    labels: { "io.sandboxd.test": w.mode },
  });
}

/** A container spec on the busybox rootfs with /out from the host. */
export function containerSpec(w: SbxWorld, id: string, args: string[]): Any {
  const spec = defaultSpec({
    id,
    namespace: w.namespace,
    args,
    rootfs: w.rootfs,
    readonlyRootfs: true,
  });
  spec.mounts = [
    ...(spec.mounts ?? []),
    { destination: "/out", type: "bind", source: w.out, options: ["rbind", "rw"] },
  ];
  return packJson(JsonTypeUrl.Spec, spec);
}

/** Creates the container in `sandbox` (Containers.Create with `sandbox` set, like WithSandbox). */
export async function newContainer(
  w: SbxWorld,
  sandbox: string,
  id: string,
  args: string[],
): Promise<void> {
  await w.c.containers.create({
    container: {
      id,
      runtime: { name: sbxRuntime },
      spec: containerSpec(w, id, args),
      sandbox,
    },
  });
}

/** The network and UTS namespaces of a process ("net:[…]"). */
export async function namespacesOf(pid: number): Promise<{ net: string; uts: string }> {
  return {
    net: await readlink(`/proc/${pid}/ns/net`),
    uts: await readlink(`/proc/${pid}/ns/uts`),
  };
}

/** The inode of a pinned namespace file, as /proc/PID/ns/* names it. */
export async function pinnedNamespace(kind: "net" | "uts", path: string): Promise<string> {
  return `${kind}:[${(await stat(path)).ino}]`;
}

export async function readOut(w: SbxWorld, name: string): Promise<string> {
  return readFile(join(w.out, name), "utf8");
}
