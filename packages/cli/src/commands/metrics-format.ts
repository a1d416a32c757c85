// Metrics for people (a METRIC VALUE table, like ctr task metrics) and scripts.
import type { Metrics } from "@sandboxd/client";
import type { Context } from "../context.js";
import { bytes, iso, table } from "../output.js";

export function printMetrics(ctx: Context, m: Metrics): void {
  if (ctx.globals.output === "json") {
    ctx.printJson({
      id: m.id,
      cgroup: m.cgroup,
      timestamp: iso(m.timestamp),
      data: m.data ?? null,
    });
    return;
  }
  const rows: string[][] = [];
  const n = (v: bigint | undefined): string => (v === undefined ? "-" : v.toString());
  // cgroups report "no limit" as a huge number (v1 memory) or 0 (pids).
  const limit = (v: bigint | undefined, asBytes: boolean): string =>
    v === undefined ? "-" : v === 0n || v >= 1n << 60n ? "max" : asBytes ? bytes(v) : v.toString();
  if (m.cgroup === "v1") {
    const d = m.data;
    rows.push(
      ["memory.usage_in_bytes", d.memory?.usage ? bytes(d.memory.usage.usage) : "-"],
      ["memory.limit_in_bytes", limit(d.memory?.usage?.limit, true)],
      ["memory.stat.cache", d.memory ? bytes(d.memory.cache) : "-"],
      ["cpuacct.usage", n(d.cpu?.usage?.total)],
      ["cpuacct.usage_percpu", d.cpu?.usage?.perCpu.map(String).join(" ") || "-"],
      ["pids.current", n(d.pids?.current)],
      ["pids.limit", limit(d.pids?.limit, false)],
    );
  } else if (m.cgroup === "v2") {
    const d = m.data;
    rows.push(
      ["memory.usage", d.memory ? bytes(d.memory.usage) : "-"],
      ["memory.usage_limit", limit(d.memory?.usageLimit, true)],
      ["memory.file", d.memory ? bytes(d.memory.file) : "-"],
      ["cpu.usage_usec", n(d.cpu?.usageUsec)],
      ["cpu.user_usec", n(d.cpu?.userUsec)],
      ["cpu.system_usec", n(d.cpu?.systemUsec)],
      ["pids.current", n(d.pids?.current)],
      ["pids.limit", limit(d.pids?.limit, false)],
    );
  } else {
    rows.push(["type", m.raw?.typeUrl || "(none)"]);
  }
  ctx.stdout.write(`ID: ${m.id}\nCGROUP: ${m.cgroup}\n\n${table(["METRIC", "VALUE"], rows)}`);
}
