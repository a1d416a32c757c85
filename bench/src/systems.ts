/**
 * The systems the bench compares, started inside a {@link BenchEnv} (their
 * teardown registered there):
 *
 * - containerd 1.6 (Debian) with its stock containerd-shim-runc-v2;
 * - the sandboxd stack: sbx-sandboxer (proxy mode: sandboxd reaches it as the
 *   `[proxy_plugins.sbx] type = "sandbox"` controller, and the sandboxer
 *   forwards events to sandboxd's ttrpc socket) and sandboxd itself;
 * - a runc bundle on a busybox rootfs (the floor).
 */
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { Controller } from "@sandboxd/api/services/sandbox/v1/sandbox_pb";
import { Client } from "@sandboxd/client";
import { Code, codeOf, kindOf } from "@sandboxd/errdefs";
import { Channel } from "@sandboxd/grpc";
import {
  ociSpec,
  sandboxdPaths,
  startContainerd,
  startSandboxd,
  startSandboxer,
  writeBundleSpec,
  type Containerd,
  type RunningSandboxer,
  type Sandboxd,
  type SandboxdOptions,
} from "@sandboxd/testing";
// TODO: import prepareBusyboxRootfs from "@sandboxd/client" once its index exports it.
import { prepareBusyboxRootfs } from "../../packages/client/dist/rootfs/busybox.js";
import { errorText, pool, type BenchEnv } from "./harness.js";

/** The proxy sandboxer's name in sandboxd's config (`sandboxer` of every bench sandbox). */
export const PROXY_SANDBOXER = "sbx";
/** The namespace every bench object lives in (its cgroups are `/<namespace>/...` for ctr). */
export const NAMESPACE = `sbxbench${process.pid}`;

export async function busyboxRootfs(env: BenchEnv): Promise<string> {
  return prepareBusyboxRootfs(join(env.dir, "rootfs"));
}

export async function startBenchContainerd(env: BenchEnv): Promise<Containerd> {
  const containerd = await startContainerd({ dir: join(env.dir, "containerd") });
  env.defer("stop containerd", () => containerd.stop());
  // ctr's default cgroupsPath is /<namespace>/<id>; the runc shim's root is per namespace.
  env.addCgroupParent(NAMESPACE);
  env.addRuncRoot(join("/run/containerd/runc", NAMESPACE));
  return containerd;
}

export interface SbxStack {
  sandboxd: Sandboxd;
  sandboxer: RunningSandboxer;
  /** An SDK client of sandboxd in the bench namespace (kept open: the long-running process). */
  client: Client;
  /** Whether sandboxd serves the Sandbox API (Store + Controller). */
  sandboxApi: boolean;
  /** After a kill: starts sandboxd again on the same root and state (and a new client). */
  startSandboxdAgain(): Promise<void>;
}

export interface StackOptions {
  /** Subdirectory of the bench directory for this stack (default "sbx"). */
  name?: string;
  /** CNI pod networking (default true: what a pod gets by default). */
  network?: boolean;
  logLevel?: string;
  /** More TOML for sandboxd's config (e.g. the CRI section). */
  extraConfig?: string;
  /** Pod networks sbx-sandboxer makes ahead of time (default 0: every pod makes its own). */
  preparedNetworks?: number;
}

export async function startSbxStack(env: BenchEnv, o: StackOptions = {}): Promise<SbxStack> {
  const dir = join(env.dir, o.name ?? "sbx");
  const paths = sandboxdPaths(join(dir, "sandboxd"));
  const sandboxer = await startSandboxer({
    dir: join(dir, "sandboxer"),
    network: o.network ?? true,
    ...(o.preparedNetworks ? { preparedNetworks: o.preparedNetworks } : {}),
    logLevel: o.logLevel ?? "info",
    eventsAddress: paths.ttrpcAddress,
  });
  env.addCgroupParent(sandboxer.cgroupParent);
  env.addLink(sandboxer.bridge);
  env.defer("stop sbx-sandboxer", async () => {
    await shutdownSandboxerPods(sandboxer);
    await sandboxer.stop();
  });
  const sandboxdOptions: SandboxdOptions = {
    dir: join(dir, "sandboxd"),
    logLevel: o.logLevel ?? "info",
    extraConfig: [
      `[proxy_plugins.${PROXY_SANDBOXER}]`,
      '  type = "sandbox"',
      `  address = ${JSON.stringify(sandboxer.listen)}`,
      o.extraConfig ?? "",
    ].join("\n"),
  };
  env.addRuncRoot(join("/run/containerd/runc", NAMESPACE));
  env.addCgroupParent(NAMESPACE);
  const connectClient = (address: string): Promise<Client> =>
    Client.connect({ address, namespace: NAMESPACE });
  const sandboxd = await startSandboxd(sandboxdOptions);
  const stack: SbxStack = {
    sandboxd,
    sandboxer,
    client: await connectClient(sandboxd.address),
    sandboxApi: false,
    async startSandboxdAgain() {
      stack.client.close();
      stack.sandboxd = await startSandboxd(sandboxdOptions);
      stack.client = await connectClient(stack.sandboxd.address);
    },
  };
  env.defer("stop sandboxd", async () => {
    await removeSandboxes(stack.client).catch(() => undefined);
    stack.client.close();
    await stack.sandboxd.stop();
  });
  // Sandboxes of the bench namespace go to the proxy sandboxer unless told otherwise.
  await stack.client.namespaces.create(NAMESPACE, {
    "containerd.io/defaults/sandboxer": PROXY_SANDBOXER,
  });
  stack.sandboxApi = await stack.client.sandboxes().then(
    () => true,
    (err: unknown) => {
      if (codeOf(kindOf(err)) === Code.Unimplemented) return false;
      throw err;
    },
  );
  return stack;
}

/** Shuts down every sandbox of the namespace through sandboxd (containers and tasks too). */
export async function removeSandboxes(client: Client): Promise<void> {
  const errors: string[] = [];
  await pool(await client.sandboxes(), 8, async (s) => {
    await s.shutdown({ force: true }, { timeoutMs: 30_000 }).catch((err: unknown) => {
      errors.push(`sandbox "${s.id}": ${errorText(err)}`);
    });
  });
  if (errors.length) throw new Error(`removing sandboxes: ${errors.join("; ")}`);
}

/** Stops and shuts down, on the sandboxer directly, every pod it still has on disk. */
export async function shutdownSandboxerPods(sandboxer: RunningSandboxer): Promise<void> {
  const root = join(sandboxer.stateDir, "sandboxes");
  for (const ns of await readdir(root).catch(() => [] as string[])) {
    const channel = new Channel(sandboxer.listen, { metadata: { "containerd-namespace": ns } });
    const ctl = channel.client(Controller);
    try {
      for (const id of await readdir(join(root, ns)).catch(() => [] as string[])) {
        await ctl.stop({ sandboxId: id, timeoutSecs: 0 }, { timeoutMs: 10_000 }).catch(() => {});
        await ctl.shutdown({ sandboxId: id }, { timeoutMs: 10_000 }).catch(() => {});
      }
    } finally {
      channel.close();
    }
  }
}

export interface RuncBundle {
  root: string;
  bundle: string;
}

/**
 * A runc bundle running `args` on the busybox rootfs, its runc root and its
 * cgroup (under a parent of the bench), as `runc run` gets them at its best.
 */
export async function runcBundle(
  env: BenchEnv,
  rootfs: string,
  args: readonly string[] = ["/bin/true"],
): Promise<RuncBundle> {
  const bundle = join(env.dir, "runc-bundle");
  const root = join(env.dir, "runc-root");
  const parent = `sbxbench-runc${process.pid}`;
  env.addRuncRoot(root);
  env.addCgroupParent(parent);
  await writeBundleSpec(bundle, ociSpec({ args, rootfs, cgroupsPath: `/${parent}/floor` }));
  return { root, bundle };
}
