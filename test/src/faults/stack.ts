// The system under fault: sbx-sandboxer (reached by sandboxd as the proxy
// sandbox controller "sbx", forwarding its events to sandboxd's ttrpc socket)
// and sandboxd, each on its own temp dirs, with a leak baseline taken before
// any pod exists and everything removed after the test.
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Client } from "@sandboxd/client";
import { Code, codeOf, kindOf } from "@sandboxd/errdefs";
import {
  busyboxRootfs,
  assertNoLeaks,
  createCleanup,
  requireBinary,
  requirePodRuntime,
  sandboxdPaths,
  snapshotLeaks,
  startProxyStack,
  unmountAll,
  type AfterHook,
  type LeakScope,
  type LeakSnapshot,
  type RunningSandboxer,
  type Sandboxd,
} from "@sandboxd/testing";

const execFileAsync = promisify(execFile);

export interface Stack {
  dir: string;
  rootfs: string;
  sandboxd: Sandboxd;
  sandboxer: RunningSandboxer;
  /** An SDK client of sandboxd (new after each sandboxd restart). */
  client(namespace?: string): Promise<Client>;
  /** Starts sandboxd again on the same root and state (after kill()). */
  restartSandboxd(): Promise<void>;
  scope: LeakScope;
  baseline: LeakSnapshot;
  /** Fails if mounts, cgroups, processes or veths are left compared with the baseline. */
  checkLeaks(timeoutMs?: number): Promise<void>;
  /** Whether sandboxd serves the Sandbox API. */
  sandboxApi(): Promise<boolean>;
}

export interface StackOptions {
  network?: boolean;
  /** Runs before anything starts, e.g. to mount a small tmpfs on a state directory. */
  prepare?: (paths: { sandboxdDir: string; sandboxerDir: string }) => Promise<void>;
  /**
   * Undoes `prepare` at the end, once sandboxd has stopped and before its state is removed
   * (e.g. unmounts that tmpfs); the stack's directory is unmounted recursively anyway.
   */
  release?: () => Promise<void>;
  sandboxerExtra?: string;
  sweepIntervalMs?: number;
}

export async function requireRuntime(): Promise<void> {
  await requirePodRuntime("fault tests run containers");
  await requireBinary("/usr/bin/ctr", "containerd");
}

export async function startStack(t: AfterHook, o: StackOptions = {}): Promise<Stack> {
  await requireRuntime();
  const cleanup = createCleanup(t);
  const dir = await mkdtemp(join(tmpdir(), "sbxf-"));
  cleanup.after(async () => {
    await unmountAll(dir);
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
  });
  const sandboxdDir = join(dir, "d");
  const sandboxerDir = join(dir, "s");
  await mkdir(sandboxdDir, { recursive: true });
  await mkdir(sandboxerDir, { recursive: true });
  if (o.prepare) await o.prepare({ sandboxdDir, sandboxerDir });
  const rootfs = await busyboxRootfs(join(dir, "rootfs"));
  const pair = await startProxyStack({
    sandboxdDir,
    sandboxerDir,
    sandboxer: {
      network: o.network ?? true,
      logLevel: "debug",
      ...(o.sandboxerExtra ? { extra: o.sandboxerExtra } : {}),
      ...(o.sweepIntervalMs ? { sweepIntervalMs: o.sweepIntervalMs } : {}),
    },
    sandboxd: { logLevel: "debug" },
  });
  const sandboxer = pair.sandboxer;
  cleanup.after(async () => {
    if (process.env.SBX_TEST_LOG) process.stderr.write(await sandboxer.log());
    await sandboxer.stop();
  });
  const paths = sandboxdPaths(sandboxdDir);
  const scope: LeakScope = {
    paths: [sandboxer.stateDir, paths.state, paths.root],
    cgroupParents: [sandboxer.cgroupParent],
    bridges: [sandboxer.bridge],
  };
  const baseline = await snapshotLeaks(scope);
  const clients: Client[] = [];
  cleanup.after(async () => {
    for (const c of clients) c.close();
    const sandboxd = pair.sandboxd;
    if (process.env.SBX_TEST_LOG) process.stderr.write(await sandboxd.log());
    await removeAll(sandboxd.address).catch(() => undefined);
    if (o.release) {
      await sandboxd.terminate();
      await o.release();
    }
    await sandboxd.stop();
    await shutdownLeftPods(sandboxer);
  });
  const stack: Stack = {
    dir,
    rootfs,
    get sandboxd() {
      return pair.sandboxd;
    },
    sandboxer,
    async client(namespace = "default") {
      const c = await Client.connect({ address: pair.sandboxd.address, namespace });
      clients.push(c);
      return c;
    },
    async restartSandboxd() {
      await pair.restartSandboxd();
    },
    scope,
    baseline,
    checkLeaks: (timeoutMs = 15_000) => assertNoLeaks(baseline, scope, timeoutMs),
    async sandboxApi() {
      const c = await Client.connect({ address: pair.sandboxd.address, namespace: "default" });
      try {
        await c.sandboxes();
        return true;
      } catch (err) {
        if (codeOf(kindOf(err)) === Code.Unimplemented) return false;
        throw err;
      } finally {
        c.close();
      }
    },
  };
  return stack;
}

/** Removes every sandbox, task and container in every namespace through sandboxd. */
export async function removeAll(address: string): Promise<void> {
  const root = await Client.connect({ address, namespace: "default" });
  try {
    for (const ns of await root.namespaces.list()) {
      const c = await Client.connect({ address, namespace: ns.name });
      try {
        const sandboxes = await c.sandboxes().catch(() => []);
        for (const s of sandboxes) await s.shutdown({ force: true }).catch(() => undefined);
        for (const container of await c.containers()) {
          await container.delete({ force: true }).catch(() => undefined);
        }
      } finally {
        c.close();
      }
    }
  } finally {
    root.close();
  }
}

/** Pods the sandboxer still has on disk (made behind sandboxd's back, or leaked). */
export async function sandboxerPods(sandboxer: RunningSandboxer): Promise<string[]> {
  const root = join(sandboxer.stateDir, "sandboxes");
  const out: string[] = [];
  for (const ns of await readdir(root).catch(() => [] as string[])) {
    for (const id of await readdir(join(root, ns)).catch(() => [] as string[])) {
      out.push(`${ns}/${id}`);
    }
  }
  return out;
}

async function shutdownLeftPods(sandboxer: RunningSandboxer): Promise<void> {
  const pods = await sandboxerPods(sandboxer);
  if (pods.length === 0) return;
  const { Channel } = await import("@sandboxd/grpc");
  const { Controller } = await import("@sandboxd/api/services/sandbox/v1/sandbox_pb");
  for (const pod of pods) {
    const [ns, id] = pod.split("/") as [string, string];
    const ch = new Channel(sandboxer.listen, { metadata: { "containerd-namespace": ns } });
    await ch
      .client(Controller)
      .stop({ sandboxId: id, timeoutSecs: 0 })
      .catch(() => undefined);
    await ch
      .client(Controller)
      .shutdown({ sandboxId: id })
      .catch(() => undefined);
    ch.close();
  }
}

/** `runc list` of the sandboxer's runc root for a namespace: container ids. */
export async function runcContainers(
  sandboxer: RunningSandboxer,
  namespace: string,
): Promise<string[]> {
  const root = join(sandboxer.stateDir, "runc", namespace);
  const out = await execFileAsync("runc", ["--root", root, "list", "-q"]).catch(() => ({
    stdout: "",
  }));
  return out.stdout.split("\n").filter(Boolean);
}
