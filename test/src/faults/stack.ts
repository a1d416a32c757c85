// The system under fault: sbx-sandboxer (reached by sandboxd as the proxy
// sandbox controller "sbx", forwarding its events to sandboxd's ttrpc socket)
// and sandboxd, each on its own temp dirs, with a leak baseline taken before
// any pod exists and everything removed after the test.
import { execFile } from "node:child_process";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { Client } from "@sandboxd/client";
import { Code, codeOf, kindOf } from "@sandboxd/errdefs";
import {
  requireBinary,
  requirePodRuntime,
  startStack as startTestStack,
  type AfterHook,
  type LeakScope,
  type RunningSandboxer,
  type Sandboxd,
  type StackOptions as TestStackOptions,
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
  /** Fails if mounts, cgroups, processes or veths are left compared with the baseline. */
  checkLeaks(timeoutMs?: number): Promise<void>;
  /** Whether sandboxd serves the Sandbox API. */
  sandboxApi(): Promise<boolean>;
}

export interface StackOptions extends Pick<TestStackOptions, "prepare" | "release"> {
  network?: boolean;
  sandboxerExtra?: string;
  sweepIntervalMs?: number;
}

export async function requireRuntime(): Promise<void> {
  await requirePodRuntime("fault tests run containers");
  await requireBinary("/usr/bin/ctr", "containerd");
}

/** @sandboxd/testing's stack in proxy mode (debug logs), with SDK clients on top. */
export async function startStack(t: AfterHook, o: StackOptions = {}): Promise<Stack> {
  await requireRuntime();
  const stack = await startTestStack(t, {
    mode: "proxy",
    prefix: "sbxf-",
    rootfs: true,
    logLevel: "debug",
    proxySandboxer: {
      network: o.network ?? true,
      logLevel: "debug",
      ...(o.sandboxerExtra ? { extra: o.sandboxerExtra } : {}),
      ...(o.sweepIntervalMs ? { sweepIntervalMs: o.sweepIntervalMs } : {}),
    },
    leakBaseline: { namespace: "default" },
    ...(o.prepare ? { prepare: o.prepare } : {}),
    ...(o.release ? { release: o.release } : {}),
  });
  const sandboxer = stack.proxy;
  if (!sandboxer) throw new Error("a proxy stack has its sandboxer");
  const clients: Client[] = [];
  // After the stack's own close (node:test runs `after` hooks first-registered first).
  t.after(() => {
    for (const c of clients) c.close();
  });
  const connect = (namespace: string): Promise<Client> =>
    Client.connect({ address: stack.address, namespace });
  return {
    dir: stack.dir,
    rootfs: stack.rootfs,
    get sandboxd() {
      return stack.sandboxd;
    },
    sandboxer,
    async client(namespace = "default") {
      const c = await connect(namespace);
      clients.push(c);
      return c;
    },
    async restartSandboxd() {
      await stack.restartSandboxd();
    },
    scope: stack.leakScope,
    checkLeaks: (timeoutMs) => stack.checkLeaks(timeoutMs),
    async sandboxApi() {
      const c = await connect("default");
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
