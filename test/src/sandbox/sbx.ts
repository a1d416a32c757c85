// The real sbx-sandboxer under sandboxd, every way sandboxd can reach it:
// `shim` (runtime io.containerd.sbx.v1: containerd-shim-sbx-v1 `start`
// launches the sandboxer on the harness's private config, then the ttrpc
// Sandbox service on its task socket), `proxy` (`[proxy_plugins.sbx]
// type = "sandbox"`, a sandboxer the test runs, over its gRPC Controller) and
// `inproc` (`[sandbox] in_process = "sbx"`: sandboxd hosts the sandboxer).
// A leak baseline is taken once the sandboxer runs and before the test's
// pods exist; containers run a busybox rootfs.
import { mkdir, readFile, readlink, stat } from "node:fs/promises";
import { join } from "node:path";
import { JsonTypeUrl, packJson } from "@sandboxd/api";
import type { Any } from "@bufbuild/protobuf/wkt";
import { defaultSpec } from "@sandboxd/client";
import {
  binDir,
  startStack,
  type AfterHook,
  type RunningSandboxer,
  type Sandboxd,
  type SandboxerConfig,
  type SandboxerMode,
} from "@sandboxd/testing";
import { requireRuntime } from "../sandboxer/helpers.js";
import { clients, noProcessesMentioning, sandboxRecord, type Clients } from "./helpers.js";

export const sbxRuntime = "io.containerd.sbx.v1";
export const modes = ["shim", "proxy", "inproc"] as const satisfies readonly SandboxerMode[];
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
 * @sandboxd/testing's stack in `mode`, with gRPC clients in `namespace` and
 * an /out directory; after the test everything is removed and no process
 * mentioning the test's directory is left.
 */
export async function sbxWorld(t: AfterHook, mode: Mode, namespace = "sbx"): Promise<SbxWorld> {
  await requireRuntime();
  const stack = await startStack(t, {
    mode,
    prefix: `sbxd-${mode}-`,
    rootfs: true,
    extraPath: [binDir],
    leakBaseline: { namespace },
  });
  const out = join(stack.dir, "out");
  await mkdir(out);
  const w: SbxWorld = {
    mode,
    sandboxer: mode === "shim" ? "shim" : "sbx",
    daemon: stack.sandboxd,
    config: stack.sandboxer,
    proxy: stack.proxy,
    dir: stack.dir,
    rootfs: stack.rootfs,
    out,
    c: clients(stack.address, namespace),
    namespace,
    checkLeaks: () => stack.checkLeaks(),
    async restartDaemon() {
      w.c.channel.close();
      w.daemon = await stack.restartSandboxd();
      w.c = clients(w.daemon.address, namespace);
    },
  };
  // After the stack's own close (node:test runs `after` hooks first-registered first).
  t.after(async () => {
    w.c.channel.close();
    await noProcessesMentioning(stack.dir);
  });
  return w;
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
