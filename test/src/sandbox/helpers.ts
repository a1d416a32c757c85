// Shared by the Sandbox API tests: sandboxd with the test shim on its PATH,
// typed gRPC clients bound to a namespace, event collection, the test shim's
// call log, and sandbox records.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before } from "node:test";
import { fileURLToPath } from "node:url";
import { create } from "@bufbuild/protobuf";
import { AnySchema, type Any, type Timestamp } from "@bufbuild/protobuf/wkt";
import { Channel, type Client } from "@sandboxd/grpc";
import { unpack } from "@sandboxd/api";
import { Controller, Store } from "@sandboxd/api/services/sandbox/v1/sandbox_pb";
import { Containers } from "@sandboxd/api/services/containers/v1/containers_pb";
import { Tasks } from "@sandboxd/api/services/tasks/v1/tasks_pb";
import { Events } from "@sandboxd/api/services/events/v1/events_pb";
import { SandboxSchema, type Sandbox } from "@sandboxd/api/types/sandbox_pb";
import type { Envelope } from "@sandboxd/api/types/event_pb";
import type { AfterHook, Sandboxd, SandboxdOptions, Stack } from "@sandboxd/testing";
import { openStack, waitUntil } from "@sandboxd/testing";

/** test/bin: the test shim's launcher (runtime io.containerd.sbxtest.v1). */
export const testBin = fileURLToPath(new URL("../../bin", import.meta.url));
export const testRuntime = "io.containerd.sbxtest.v1";
/** The Any type of the test shim's options (see fixtures/containerd-shim-sbxtest-v1.ts). */
export const testShimOptionsType = "sbxtest.Options";
export const shimPluginDir = "io.containerd.sandbox.controller.v1.shim";

export interface TestShimOptions {
  output?: "plain" | "json";
  failCreate?: string;
  noTaskV3?: boolean;
  exitStatus?: number;
}

export function testShimOptions(o: TestShimOptions): Any {
  return create(AnySchema, {
    typeUrl: testShimOptionsType,
    value: Buffer.from(JSON.stringify(o)),
  });
}

export interface Clients {
  store: Client<typeof Store>;
  controller: Client<typeof Controller>;
  containers: Client<typeof Containers>;
  tasks: Client<typeof Tasks>;
  events: Client<typeof Events>;
  channel: Channel;
}

export function clients(address: string, namespace: string): Clients {
  const channel = new Channel(address, { metadata: { "containerd-namespace": namespace } });
  return {
    store: channel.client(Store),
    controller: channel.client(Controller),
    containers: channel.client(Containers),
    tasks: channel.client(Tasks),
    events: channel.client(Events),
    channel,
  };
}

export interface SandboxFields {
  runtime?: { name: string; options?: Any | undefined };
  spec?: Any | undefined;
  labels?: Record<string, string>;
  extensions?: Record<string, Any>;
  sandboxer?: string;
  createdAt?: Timestamp;
  updatedAt?: Timestamp;
}

/** A sandbox record for Store.Create (runtime: the test shim's). */
export function sandboxRecord(id: string, extra: SandboxFields = {}): Sandbox {
  return create(SandboxSchema, {
    sandboxId: id,
    runtime: { name: testRuntime },
    labels: {},
    ...extra,
  });
}

/** Clients of `address` in `namespace`, closed after the test. */
export function freshNamespace(
  t: AfterHook,
  address: string,
  namespace: string,
): { c: Clients; namespace: string } {
  const c = clients(address, namespace);
  t.after(() => c.channel.close());
  return { c, namespace };
}

/** The pid of the test shim serving the sandbox bundle `bundle`. */
export function testShimPid(bundle: string): number {
  return Number(readFileSync(join(bundle, "sbxtest.pid"), "utf8"));
}

export function sandboxBundle(daemon: Sandboxd, namespace: string, id: string): string {
  return join(daemon.state, shimPluginDir, namespace, id);
}

/**
 * A file of the test shim instance for `id` started by `daemon`
 * (fixtures/containerd-shim-sbxtest-v1.ts instanceFile).
 */
export function testShimFile(
  daemon: Sandboxd,
  namespace: string,
  id: string,
  ext: "sock" | "log",
): string {
  const hash = createHash("sha256")
    .update(`${daemon.address}/${namespace}/${id}`)
    .digest("hex")
    .slice(0, 20);
  return join(daemon.state, "sbxtest", `${hash}.${ext}`);
}

/** A bundle's bootstrap.json (the shim's address, protocol and task API version). */
export async function readBootstrap(
  bundle: string,
): Promise<{ version: number; address: string; protocol: string }> {
  return JSON.parse(await readFile(join(bundle, "bootstrap.json"), "utf8")) as {
    version: number;
    address: string;
    protocol: string;
  };
}

/** What the test shim instance for `id` was asked, in order. */
export async function shimLog(
  daemon: Sandboxd,
  namespace: string,
  id: string,
): Promise<Record<string, unknown>[]> {
  const path = testShimFile(daemon, namespace, id, "log");
  const text = await readFile(path, "utf8").catch(() => "");
  return text
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

export interface Collected {
  readonly envelopes: Envelope[];
  /** Topics seen so far, in order. */
  topics(): string[];
  /** Decoded events of `topic`. */
  of(topic: string): Record<string, unknown>[];
}

/**
 * Subscribes to sandboxd's events (all namespaces, or `filters`) until the
 * test ends. Resolves once the subscription is live (a probe event is seen).
 */
export async function collectEvents(
  t: AfterHook,
  c: Clients,
  filters: string[] = [],
): Promise<Collected> {
  const abort = new AbortController();
  t.after(() => abort.abort());
  const envelopes: Envelope[] = [];
  let live: () => void = () => undefined;
  const ready = new Promise<void>((r) => (live = r));
  const probeTopic = "/sandboxd-test/probe";
  void (async () => {
    try {
      for await (const e of c.events.subscribe(
        { filters: filters.length ? [...filters, `topic=="${probeTopic}"`] : [] },
        { signal: abort.signal },
      )) {
        if (e.topic === probeTopic) {
          live();
          continue;
        }
        envelopes.push(e);
      }
    } catch {
      // ended with the test
    }
  })();
  // The stream starts asynchronously: publish probes until one comes back.
  for (let i = 0; i < 200; i++) {
    await c.events.publish({
      topic: probeTopic,
      event: create(AnySchema, {
        typeUrl: "containerd.events.ContainerDelete",
        value: new Uint8Array(),
      }),
    });
    const seen = await Promise.race([
      ready.then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), 50)),
    ]);
    if (seen) break;
  }
  return {
    envelopes,
    topics: () => envelopes.map((e) => e.topic),
    of: (topic) =>
      envelopes
        .filter((e) => e.topic === topic)
        .map((e) => (e.event ? (unpack(e.event) as unknown as Record<string, unknown>) : {})),
  };
}

/** Processes (other than this one) whose command line mentions `text`: "pid argv". */
export async function processesMentioning(text: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
    if (cmdline.includes(text)) out.push(`${entry} ${cmdline.split("\0").join(" ").trim()}`);
  }
  return out;
}

/** Waits until no process mentions `text`; fails listing them. */
export async function noProcessesMentioning(text: string, timeoutMs = 10_000): Promise<void> {
  try {
    await waitUntil(async () => (await processesMentioning(text)).length === 0, { timeoutMs });
  } catch {
    const left = await processesMentioning(text);
    if (left.length > 0) throw new Error(`processes left behind:\n  ${left.join("\n  ")}`);
  }
}

/**
 * A sandboxd (test shim on PATH) for a whole test file. `close` stops it
 * (every sandbox, task and container removed) and then requires that no
 * process mentioning its directory is left (test shim servers, shims).
 */
export async function openSandboxd(options: Omit<SandboxdOptions, "dir"> = {}): Promise<Stack> {
  const opened = await openStack({
    ...options,
    extraPath: [testBin, ...(options.extraPath ?? [])],
  });
  return {
    ...opened,
    close: async () => {
      await opened.close();
      await noProcessesMentioning(opened.dir);
    },
  };
}

/**
 * openSandboxd for the whole test file (started before its first test, closed
 * after its last), and a fresh namespace `<prefix>-<n>` per test, so tests do
 * not see each other's sandboxes.
 */
export function sandboxdForFile(prefix: string): {
  readonly daemon: Sandboxd;
  readonly ns: (t: AfterHook) => { c: Clients; namespace: string };
} {
  let opened: Stack | undefined;
  let n = 0;
  before(async () => {
    opened = await openSandboxd();
  });
  after(() => opened?.close());
  const daemon = (): Sandboxd => {
    if (!opened) throw new Error("sandboxd is not started yet (used outside a test?)");
    return opened.sandboxd;
  };
  return {
    get daemon() {
      return daemon();
    },
    ns: (t) => freshNamespace(t, daemon().address, `${prefix}-${++n}`),
  };
}
