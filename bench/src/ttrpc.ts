/**
 * ttrpc round trips: unary calls per second and latency (p50/p99), @sandboxd/ttrpc's client
 * against its own server (a small message, one call at a time and 16 in flight on one
 * connection; the server on the client's event loop or in a worker thread) and against Go's ttrpc in Debian's containerd-shim-runc-v2 (Task.Connect).
 *
 *   node bench/dist/ttrpc.js [--duration-ms N] [--warmup-ms N] [--concurrency N] [--no-shim]
 *
 * prints a table and writes bench/results/ttrpc.json. `runTtrpcBench` is the same run for
 * the `npm run bench` harness.
 */
import { openSync, constants as fsConstants } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { Worker } from "node:worker_threads";
import { Task } from "@sandboxd/api/runtime/task/v2/shim_pb";
import { killAndWait, ociSpec, run, writeBundleSpec } from "@sandboxd/testing";
import type { Client } from "@sandboxd/ttrpc";
import { Server, connect, createClient, isClosedError } from "@sandboxd/ttrpc";
import { percentile } from "./stats.js";

export interface TtrpcBenchOptions {
  /** Measured time per scenario (default 3000 ms). */
  readonly durationMs?: number;
  /** Unmeasured calls before each scenario (default 500 ms). */
  readonly warmupMs?: number;
  /** Calls in flight in the concurrent scenarios (default 16). */
  readonly concurrency?: number;
  /** Include the Go runc shim (default: when root and the binary is installed). */
  readonly shim?: boolean;
}

export interface Result {
  readonly name: string;
  readonly server: "ts" | "go-runc-shim";
  readonly method: string;
  readonly concurrency: number;
  readonly calls: number;
  readonly durationMs: number;
  readonly callsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Why a scenario did not run. */
  readonly skipped?: string;
}

const SHIM = "/usr/bin/containerd-shim-runc-v2";

/** Runs `call` from `concurrency` loops for `durationMs`; per-call latencies in ms. */
async function measure(
  call: () => Promise<unknown>,
  concurrency: number,
  durationMs: number,
): Promise<{ latencies: number[]; elapsedMs: number }> {
  const latencies: number[] = [];
  const start = performance.now();
  const until = start + durationMs;
  const loop = async (): Promise<void> => {
    while (performance.now() < until) {
      const t0 = performance.now();
      await call();
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return { latencies, elapsedMs: performance.now() - start };
}

async function scenario(
  name: string,
  server: Result["server"],
  method: string,
  call: () => Promise<unknown>,
  concurrency: number,
  options: Required<Omit<TtrpcBenchOptions, "shim">>,
): Promise<Result> {
  await measure(call, concurrency, options.warmupMs);
  const { latencies, elapsedMs } = await measure(call, concurrency, options.durationMs);
  return {
    name,
    server,
    method,
    concurrency,
    calls: latencies.length,
    durationMs: Math.round(elapsedMs),
    callsPerSec: Math.round((latencies.length / elapsedMs) * 1000),
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
  };
}

function skipped(name: string, method: string, concurrency: number, why: string): Result {
  return {
    name,
    server: "go-runc-shim",
    method,
    concurrency,
    calls: 0,
    durationMs: 0,
    callsPerSec: 0,
    p50Ms: Number.NaN,
    p99Ms: Number.NaN,
    skipped: why,
  };
}

/** Starts the Go runc shim as containerd 1.6 does; returns its address and a stopper. */
async function startShim(dir: string): Promise<{ client: Client; stop: () => Promise<void> }> {
  const ns = `sbx-bench-${process.pid}`;
  const id = "bench";
  const bundle = join(dir, id);
  await writeBundleSpec(bundle, ociSpec());
  await mkdir(join(bundle, "rootfs"));
  await run("mkfifo", ["-m", "0700", join(bundle, "log")]);
  // Keep the log FIFO open for reading, as containerd does, and discard what comes.
  const log = new net.Socket({
    fd: openSync(join(bundle, "log"), fsConstants.O_RDWR | fsConstants.O_NONBLOCK),
    readable: true,
    writable: false,
  });
  log.on("error", () => {});
  log.resume();
  const grpc = join(dir, "containerd.sock");
  const started = await run(
    SHIM,
    [
      "-namespace",
      ns,
      "-address",
      grpc,
      "-publish-binary",
      "/usr/bin/containerd",
      "-id",
      id,
      "start",
    ],
    {
      cwd: bundle,
      env: { ...process.env, MAX_SHIM_VERSION: "2", GRPC_ADDRESS: grpc, NAMESPACE: ns },
    },
  );
  if (started.code !== 0) {
    log.destroy();
    throw new Error(`shim start failed: ${started.stdout.toString()}${started.stderr.toString()}`);
  }
  const address = started.stdout.toString().trim();
  const client = await connect(address);
  const shimPid = (await createClient(client, Task).connect({ id })).shimPid;
  return {
    client,
    stop: async () => {
      await createClient(client, Task)
        .shutdown({ id }, { timeoutMs: 5000 })
        .catch((err: unknown) => {
          if (!isClosedError(err)) throw err;
        });
      await client.close();
      await killAndWait(shimPid);
      log.destroy();
      await rm(address.slice("unix://".length), { force: true });
      await rm(join("/run/containerd/runc", ns), { recursive: true, force: true });
    },
  };
}

export async function runTtrpcBench(options: TtrpcBenchOptions = {}): Promise<Result[]> {
  const opts = {
    durationMs: options.durationMs ?? 3000,
    warmupMs: options.warmupMs ?? 500,
    concurrency: options.concurrency ?? 16,
  };
  const results: Result[] = [];
  const dir = await mkdtemp(join(tmpdir(), "sbx-bench-ttrpc-"));
  try {
    // TS client → TS server: a 4-byte request echoed back, with the server on the client's
    // own event loop, then in a worker thread (its own event loop, like another process).
    const payload = Buffer.from("ping");
    const server = new Server().registerMethod("bench.Echo", "Echo", (req) => req);
    const path = join(dir, "ts.sock");
    await server.listen(path);
    const client = await connect(path);
    const echo = (): Promise<Uint8Array> => client.call("bench.Echo", "Echo", payload);
    for (const c of [1, opts.concurrency]) {
      results.push(
        await scenario(
          `ts → ts (same thread), ${c} in flight`,
          "ts",
          "Echo (4 bytes)",
          echo,
          c,
          opts,
        ),
      );
    }
    await client.close();
    await server.close();

    const workerPath = join(dir, "ts-worker.sock");
    const worker = new Worker(new URL("./ttrpc-server-worker.js", import.meta.url), {
      workerData: { path: workerPath },
    });
    try {
      await new Promise<void>((resolve, reject) => {
        worker.once("message", () => resolve());
        worker.once("error", reject);
      });
      const remote = await connect(workerPath);
      const echoRemote = (): Promise<Uint8Array> => remote.call("bench.Echo", "Echo", payload);
      for (const c of [1, opts.concurrency]) {
        results.push(
          await scenario(
            `ts → ts (worker thread), ${c} in flight`,
            "ts",
            "Echo (4 bytes)",
            echoRemote,
            c,
            opts,
          ),
        );
      }
      await remote.close();
    } finally {
      worker.postMessage("stop");
      await new Promise((resolve) => worker.once("exit", resolve));
    }

    // TS client → Go ttrpc (containerd 1.6's runc shim): Task.Connect.
    const why =
      options.shim === false
        ? "disabled"
        : process.getuid?.() !== 0
          ? "needs root (the shim creates /run/containerd/s)"
          : undefined;
    const shimAvailable = await run(SHIM, ["-v"]).then(
      (r) => r.code === 0,
      () => false,
    );
    for (const c of [1, opts.concurrency]) {
      const name = `ts → go runc shim, ${c} in flight`;
      if (why !== undefined || !shimAvailable) {
        results.push(
          skipped(name, "Task.Connect", c, why ?? `${SHIM} is missing: apt-get install containerd`),
        );
      }
    }
    if (why === undefined && shimAvailable) {
      const shim = await startShim(dir);
      try {
        const task = createClient(shim.client, Task);
        const connectCall = (): Promise<unknown> => task.connect({ id: "bench" });
        for (const c of [1, opts.concurrency]) {
          results.push(
            await scenario(
              `ts → go runc shim, ${c} in flight`,
              "go-runc-shim",
              "Task.Connect",
              connectCall,
              c,
              opts,
            ),
          );
        }
      } finally {
        await shim.stop();
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return results;
}

function table(results: readonly Result[]): string {
  const rows = results.map((r) =>
    r.skipped !== undefined
      ? [r.name, r.method, "skipped", r.skipped, "", ""]
      : [
          r.name,
          r.method,
          String(r.calls),
          String(r.callsPerSec),
          r.p50Ms.toFixed(3),
          r.p99Ms.toFixed(3),
        ],
  );
  const head = ["scenario", "method", "calls", "calls/s", "p50 ms", "p99 ms"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => c.padEnd(widths[i]!)).join("  ");
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      "duration-ms": { type: "string" },
      "warmup-ms": { type: "string" },
      concurrency: { type: "string" },
      "no-shim": { type: "boolean" },
    },
  });
  const num = (v: string | undefined): number | undefined =>
    v === undefined ? undefined : Number(v);
  const results = await runTtrpcBench({
    ...(values["duration-ms"] === undefined ? {} : { durationMs: num(values["duration-ms"])! }),
    ...(values["warmup-ms"] === undefined ? {} : { warmupMs: num(values["warmup-ms"])! }),
    ...(values.concurrency === undefined ? {} : { concurrency: num(values.concurrency)! }),
    ...(values["no-shim"] === true ? { shim: false } : {}),
  });
  process.stdout.write(`${table(results)}\n`);
  const out = fileURLToPath(new URL("../results/ttrpc.json", import.meta.url));
  await mkdir(dirname(out), { recursive: true });
  await writeFile(
    out,
    `${JSON.stringify({ node: process.version, date: new Date().toISOString(), results }, null, 2)}\n`,
  );
  process.stdout.write(`wrote ${out}\n`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  });
}
