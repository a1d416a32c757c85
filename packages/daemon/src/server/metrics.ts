/**
 * Prometheus metrics in the text exposition format, served over node:http:
 * RPCs handled by service, method and code (the names go-grpc-prometheus
 * gives containerd's), their latency as a histogram, and tasks by state.
 */
import http from "node:http";
import { codeNameOf } from "./codes.js";

const buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface Histogram {
  counts: number[];
  sum: number;
  count: number;
}

export class Metrics {
  readonly #handled = new Map<string, number>();
  readonly #latency = new Map<string, Histogram>();
  readonly #gauges: (() => string)[] = [];

  /** Records one finished RPC (`path` = `/pkg.Service/Method`). */
  rpc(path: string, code: number, durationMs: number): void {
    const slash = path.lastIndexOf("/");
    const service = path.slice(1, slash);
    const method = path.slice(slash + 1);
    const labels = `grpc_service="${service}",grpc_method="${method}"`;
    const handledKey = `${labels},grpc_code="${codeNameOf(code)}"`;
    this.#handled.set(handledKey, (this.#handled.get(handledKey) ?? 0) + 1);
    let h = this.#latency.get(labels);
    if (!h) this.#latency.set(labels, (h = { counts: buckets.map(() => 0), sum: 0, count: 0 }));
    const seconds = durationMs / 1000;
    for (let i = 0; i < buckets.length; i++)
      if (seconds <= (buckets[i] ?? 0)) h.counts[i] = (h.counts[i] ?? 0) + 1;
    h.sum += seconds;
    h.count++;
  }

  /** Adds a gauge family rendered at scrape time. */
  gauge(name: string, help: string, read: () => Record<string, number>, label: string): void {
    this.#gauges.push(() => {
      const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} gauge`];
      for (const [value, n] of Object.entries(read()))
        lines.push(`${name}{${label}="${value}"} ${n}`);
      return lines.join("\n");
    });
  }

  render(): string {
    const out: string[] = [
      "# HELP grpc_server_handled_total Total number of RPCs completed on the server, regardless of success or failure.",
      "# TYPE grpc_server_handled_total counter",
    ];
    for (const [labels, n] of this.#handled) out.push(`grpc_server_handled_total{${labels}} ${n}`);
    out.push(
      "# HELP grpc_server_handling_seconds Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.",
      "# TYPE grpc_server_handling_seconds histogram",
    );
    for (const [labels, h] of this.#latency) {
      buckets.forEach((le, i) =>
        out.push(`grpc_server_handling_seconds_bucket{${labels},le="${le}"} ${h.counts[i] ?? 0}`),
      );
      out.push(`grpc_server_handling_seconds_bucket{${labels},le="+Inf"} ${h.count}`);
      out.push(`grpc_server_handling_seconds_sum{${labels}} ${h.sum}`);
      out.push(`grpc_server_handling_seconds_count{${labels}} ${h.count}`);
    }
    for (const gauge of this.#gauges) out.push(gauge());
    return `${out.join("\n")}\n`;
  }

  /** Serves `/v1/metrics` and `/metrics` on `host:port`; resolves once listening. */
  async serve(address: string): Promise<http.Server> {
    const colon = address.lastIndexOf(":");
    const host = address.slice(0, colon).replace(/^\[|\]$/g, "") || "127.0.0.1";
    const port = Number(address.slice(colon + 1));
    const server = http.createServer((req, res) => {
      if (req.method === "GET" && (req.url === "/v1/metrics" || req.url === "/metrics")) {
        res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
        res.end(this.render());
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    return server;
  }
}
