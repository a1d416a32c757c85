// Shared by the sbx-sandboxer integration tests: a private sandboxer per test,
// typed clients over its gRPC Controller and ttrpc Task/Sandbox/admin services
// (the way sandboxd drives it), bundles on a busybox rootfs, FIFOs, leak checks.
import { execFile } from "node:child_process";
import { constants, openSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import net from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { Channel } from "@sandboxd/grpc";
import type { Client as GrpcClient } from "@sandboxd/grpc";
import { Controller } from "@sandboxd/api/services/sandbox/v1/sandbox_pb";
import { Task } from "@sandboxd/api/runtime/task/v3/shim_pb";
import { Sandbox } from "@sandboxd/api/runtime/sandbox/v1/sandbox_pb";
import { Sandboxer } from "@sandboxd/api/sandboxd/sandboxer/v1/sandboxer_pb";
import type { Client as TtrpcClient, TypedClient } from "@sandboxd/ttrpc";
import { connect, createClient } from "@sandboxd/ttrpc";
import type { LeakSnapshot, RunningSandboxer, SandboxerConfigOptions } from "@sandboxd/testing";
import {
  busyboxRootfs,
  assertNoLeaks,
  ociSpec,
  removeContainersUnder,
  requirePodRuntime,
  shutdownLeftPods,
  snapshotLeaks,
  startSandboxer,
  writeBundleSpec,
} from "@sandboxd/testing";

const execFileAsync = promisify(execFile);

export type OciSpec = ReturnType<typeof ociSpec>;

interface After {
  after(fn: () => unknown): void;
}

export const requireRuntime = (): Promise<void> => requirePodRuntime();

/** Adds the namespace header to every call of a typed ttrpc client. */
function namespaced<T extends object>(client: T, namespace: string): T {
  return new Proxy(client, {
    get(target, prop) {
      const fn = (target as Record<string | symbol, unknown>)[prop];
      if (typeof fn !== "function") return fn;
      return (req: unknown, opts?: { metadata?: Record<string, string> }) =>
        (fn as (r: unknown, o: unknown) => unknown)(req, {
          ...opts,
          metadata: { "containerd-namespace-ttrpc": namespace, ...opts?.metadata },
        });
    },
  });
}

export interface Fixture {
  dir: string;
  sbx: RunningSandboxer;
  rootfs: string;
  controller(namespace?: string): GrpcClient<typeof Controller>;
  tasks(namespace?: string): TypedClient<typeof Task>;
  sandbox(namespace?: string): TypedClient<typeof Sandbox>;
  admin(): TypedClient<typeof Sandboxer>;
  /** Reconnects the ttrpc clients (after a sandboxer restart). */
  reconnect(): Promise<void>;
  baseline: LeakSnapshot;
  /** Fails if the test left mounts, cgroups, processes or veths of this sandboxer behind. */
  checkLeaks(): Promise<void>;
}

/**
 * A sandboxer of the test's own (temp dirs, cgroup parent, bridge), removed
 * after the test, with a leak baseline taken before any pod exists.
 */
export async function sandboxerFixture(
  t: After,
  options: Omit<SandboxerConfigOptions, "dir"> = {},
): Promise<Fixture> {
  await requireRuntime();
  // Removed by the one cleanup below, after the instance's mounts are gone.
  const dir = await mkdtemp(join(tmpdir(), "sbx-it-"));
  const rootfs = await busyboxRootfs(join(dir, "rootfs"));
  const sbx = await startSandboxer({ dir: join(dir, "instance"), ...options });
  let conn: TtrpcClient = await connect(sbx.taskSocket);
  const channels: Channel[] = [];
  const scope = { paths: [sbx.stateDir], cgroupParents: [sbx.cgroupParent], bridges: [sbx.bridge] };
  const baseline = await snapshotLeaks(scope);
  t.after(async () => {
    for (const c of channels) c.close();
    await conn.close().catch(() => undefined);
    if (process.env.SBX_TEST_LOG) process.stderr.write(await sbx.log());
    // A test that failed half-way leaves pods: shut down through the sandboxer if it still
    // answers, and any container left killed, so no conmon or runc init outlives the test.
    await shutdownLeftPods(sbx);
    await removeContainersUnder(sbx.stateDir);
    await sbx.stop();
    await rm(dir, { recursive: true, force: true });
  });
  return {
    dir,
    sbx,
    rootfs,
    controller(namespace = "default") {
      const ch = new Channel(sbx.listen, { metadata: { "containerd-namespace": namespace } });
      channels.push(ch);
      return ch.client(Controller);
    },
    tasks: (namespace = "default") => namespaced(createClient(conn, Task), namespace),
    sandbox: (namespace = "default") => namespaced(createClient(conn, Sandbox), namespace),
    admin: () => createClient(conn, Sandboxer),
    async reconnect() {
      await conn.close().catch(() => undefined);
      conn = await connect(sbx.taskSocket);
    },
    baseline,
    checkLeaks: () => assertNoLeaks(baseline, scope),
  };
}

export interface BundleOptions {
  args: string[];
  /** Written to <bundle>/sandbox, as containerd 2.x and sandboxd do. */
  sandboxId?: string;
  mounts?: { destination: string; type: string; source: string; options?: string[] }[];
  annotations?: Record<string, string>;
  resources?: Record<string, unknown>;
  terminal?: boolean;
  /** Drop these namespaces from the spec (e.g. "network" for host networking). */
  withoutNamespaces?: string[];
  /** OCI hooks (runc runs them on the host), e.g. poststop. */
  hooks?: Record<string, { path: string; args?: string[] }[]>;
}

/** A bundle whose root is the shared busybox rootfs. */
export async function bundle(f: Fixture, id: string, o: BundleOptions): Promise<string> {
  const spec = ociSpec({
    args: o.args,
    rootfs: f.rootfs,
    hostname: id,
    ...(o.terminal ? { terminal: true } : {}),
    ...(o.annotations ? { annotations: o.annotations } : {}),
  });
  const linux = spec.linux as {
    namespaces: { type: string }[];
    resources?: Record<string, unknown>;
  };
  if (o.withoutNamespaces)
    linux.namespaces = linux.namespaces.filter((n) => !o.withoutNamespaces?.includes(n.type));
  if (o.resources) linux.resources = { ...linux.resources, ...o.resources };
  if (o.mounts) (spec.mounts as unknown[]).push(...o.mounts);
  if (o.hooks) spec.hooks = o.hooks;
  const dir = join(f.dir, "bundles", id);
  await writeBundleSpec(dir, spec);
  if (o.sandboxId) await writeFile(join(dir, "sandbox"), o.sandboxId);
  return dir;
}

export interface Fifos {
  stdin: string;
  stdout: string;
  stderr: string;
}

export async function fifos(f: Fixture, name: string): Promise<Fifos> {
  const dir = join(f.dir, "fifos", name);
  await mkdir(dir, { recursive: true });
  const paths = { stdin: join(dir, "in"), stdout: join(dir, "out"), stderr: join(dir, "err") };
  await execFileAsync("mkfifo", [paths.stdin, paths.stdout, paths.stderr]);
  return paths;
}

/** Everything written to a FIFO until its last writer closes it; `sofar()` while it runs. */
export type Collected = Promise<string> & { sofar(): string };

/**
 * Everything written to a FIFO until its last writer closes it. Opened
 * non-blocking and watched with epoll: no thread waits for the writer.
 */
export function collect(path: string): Collected {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const socket = new net.Socket({ fd, readable: true, writable: false });
  let out = "";
  socket.setEncoding("utf8");
  socket.on("data", (d: string) => (out += d));
  const done = new Promise<string>((resolve, reject) => {
    socket.once("end", () => resolve(out));
    socket.once("error", reject);
  });
  return Object.assign(done, { sofar: () => out });
}

/** Writes `data` to a FIFO (once a reader exists) and closes it: EOF for the reader. */
export async function feed(path: string, data: string): Promise<void> {
  const { open } = await import("node:fs/promises");
  const file = await open(path, "w");
  await file.writeFile(data);
  await file.close();
}
