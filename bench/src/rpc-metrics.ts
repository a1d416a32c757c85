/**
 * Server-side time per RPC from a daemon's Prometheus endpoint: containerd's
 * go-grpc-prometheus histograms (`[metrics] grpc_histogram = true`) and
 * sandboxd's, which use the same names. Two scrapes around a run give the
 * calls per method and their mean handling time, so both daemons' RPCs are
 * measured the same way, from inside, with no tracer slowing either down.
 */
import { readFile } from "node:fs/promises";
import { createServer } from "node:net";

/** `Service.Method` (the last part of the service name) → sum (s) and count. */
export type RpcTotals = Map<string, { sum: number; count: number }>;

export interface RpcRow {
  method: string;
  /** Calls per run. */
  calls: number;
  /** Mean server-side time per call, ms. */
  meanMs: number;
}

/** The `[metrics]` section that serves the histograms on `port` (loopback). */
export function metricsConfig(port: number, daemon: "containerd" | "sandboxd"): string {
  const histogram = daemon === "containerd" ? "\n  grpc_histogram = true" : "";
  return `[metrics]\n  address = "127.0.0.1:${port}"${histogram}\n`;
}

/** A loopback TCP port nobody listens on now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function scrapeRpcs(port: number): Promise<RpcTotals> {
  const text = await (await fetch(`http://127.0.0.1:${port}/v1/metrics`)).text();
  const totals: RpcTotals = new Map();
  for (const line of text.split("\n")) {
    const kind = line.startsWith("grpc_server_handling_seconds_sum{")
      ? "sum"
      : line.startsWith("grpc_server_handling_seconds_count{")
        ? "count"
        : undefined;
    if (!kind) continue;
    const method = /grpc_method="([^"]+)"/.exec(line)?.[1];
    const service = /grpc_service="([^"]+)"/.exec(line)?.[1]?.split(".").pop();
    if (!method || !service) continue;
    const key = `${service}.${method}`;
    const entry = totals.get(key) ?? { sum: 0, count: 0 };
    entry[kind] += Number(line.slice(line.lastIndexOf(" ") + 1));
    totals.set(key, entry);
  }
  return totals;
}

/** What happened between two scrapes, per run, methods by name. */
export function rpcRows(before: RpcTotals, after: RpcTotals, runs: number): RpcRow[] {
  const rows: RpcRow[] = [];
  for (const [method, a] of after) {
    const b = before.get(method) ?? { sum: 0, count: 0 };
    const count = a.count - b.count;
    if (count <= 0) continue;
    rows.push({ method, calls: count / runs, meanMs: ((a.sum - b.sum) * 1000) / count });
  }
  return rows.sort((x, y) => x.method.localeCompare(y.method));
}

/** CPU time (user + system, ms) a process has used, from /proc (clock ticks of 10 ms). */
export async function cpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}
