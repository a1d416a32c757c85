/**
 * cgroup statistics as containerd's metrics messages: io.containerd.cgroups.v1.Metrics
 * on cgroup v1 (what containerd's runc shim reports there) and
 * io.containerd.cgroups.v2.Metrics on v2. Counters are read recursively by the
 * kernel (cpuacct.usage, memory usage, pids.current cover child cgroups), so a
 * sandbox cgroup reports the sum of its containers.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Any } from "@bufbuild/protobuf/wkt";
import { pack } from "@sandboxd/api/names";
import { MetricsSchema as V1Metrics } from "@sandboxd/api/cgroups/cgroup1/stats/metrics_pb";
import { MetricsSchema as V2Metrics } from "@sandboxd/api/cgroups/cgroup2/stats/metrics_pb";
import type { Cgroups } from "./cgroups.js";

/** USER_HZ: cpuacct.stat counts ticks of 1/100 s on Linux. */
const userHz = 100;
const nsPerTick = BigInt(1_000_000_000 / userHz);

/** The cgroup's metrics packed in an Any (typeUrl `io.containerd.cgroups.v1.Metrics` or v2). */
export async function readMetrics(cgroups: Cgroups, rel: string): Promise<Any> {
  if (cgroups.layout.version === 2)
    return pack(V2Metrics, await readV2(join(cgroups.layout.root, rel)));
  return pack(V1Metrics, await readV1(cgroups, rel));
}

async function text(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, "utf8");
  } catch {
    return undefined;
  }
}

/** A counter file; "max" and absent files read as 0 (containerd does the same). */
async function num(file: string): Promise<bigint> {
  const t = (await text(file))?.trim();
  if (!t || t === "max") return 0n;
  try {
    return BigInt(t.split(/\s+/)[0] ?? "0");
  } catch {
    return 0n;
  }
}

/** `key value` lines, e.g. memory.stat and cpu.stat. */
export function parseFlatKeyed(content: string | undefined): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const line of (content ?? "").split("\n")) {
    const [key, value] = line.trim().split(/\s+/);
    if (!key || value === undefined || !/^\d+$/.test(value)) continue;
    out.set(key, BigInt(value));
  }
  return out;
}

async function readV1(cgroups: Cgroups, rel: string) {
  const acct = cgroups.dirFor(rel, "cpuacct");
  const cpu = cgroups.dirFor(rel, "cpu");
  const mem = cgroups.dirFor(rel, "memory");
  const pids = cgroups.dirFor(rel, "pids");
  const acctStat = parseFlatKeyed(acct ? await text(join(acct, "cpuacct.stat")) : undefined);
  const perCpu = acct
    ? ((await text(join(acct, "cpuacct.usage_percpu"))) ?? "")
        .trim()
        .split(/\s+/)
        .filter(Boolean)
        .map((v) => BigInt(v))
    : [];
  const cpuStat = parseFlatKeyed(cpu ? await text(join(cpu, "cpu.stat")) : undefined);
  const memStat = parseFlatKeyed(mem ? await text(join(mem, "memory.stat")) : undefined);
  const g = (k: string): bigint => memStat.get(k) ?? 0n;
  const entry = async (prefix: string) =>
    mem
      ? {
          usage: await num(join(mem, `${prefix}usage_in_bytes`)),
          max: await num(join(mem, `${prefix}max_usage_in_bytes`)),
          limit: await num(join(mem, `${prefix}limit_in_bytes`)),
          failcnt: await num(join(mem, `${prefix}failcnt`)),
        }
      : undefined;
  const oom = parseFlatKeyed(mem ? await text(join(mem, "memory.oom_control")) : undefined);
  return {
    pids: pids
      ? { current: await num(join(pids, "pids.current")), limit: await num(join(pids, "pids.max")) }
      : undefined,
    cpu: {
      usage: {
        total: acct ? await num(join(acct, "cpuacct.usage")) : 0n,
        kernel: (acctStat.get("system") ?? 0n) * nsPerTick,
        user: (acctStat.get("user") ?? 0n) * nsPerTick,
        perCpu,
      },
      throttling: {
        periods: cpuStat.get("nr_periods") ?? 0n,
        throttledPeriods: cpuStat.get("nr_throttled") ?? 0n,
        throttledTime: cpuStat.get("throttled_time") ?? 0n,
      },
    },
    memory: mem
      ? {
          cache: g("cache"),
          rss: g("rss"),
          rssHuge: g("rss_huge"),
          mappedFile: g("mapped_file"),
          dirty: g("dirty"),
          writeback: g("writeback"),
          pgPgIn: g("pgpgin"),
          pgPgOut: g("pgpgout"),
          pgFault: g("pgfault"),
          pgMajFault: g("pgmajfault"),
          inactiveAnon: g("inactive_anon"),
          activeAnon: g("active_anon"),
          inactiveFile: g("inactive_file"),
          activeFile: g("active_file"),
          unevictable: g("unevictable"),
          hierarchicalMemoryLimit: g("hierarchical_memory_limit"),
          hierarchicalSwapLimit: g("hierarchical_memsw_limit"),
          totalCache: g("total_cache"),
          totalRss: g("total_rss"),
          totalRssHuge: g("total_rss_huge"),
          totalMappedFile: g("total_mapped_file"),
          totalDirty: g("total_dirty"),
          totalWriteback: g("total_writeback"),
          totalPgPgIn: g("total_pgpgin"),
          totalPgPgOut: g("total_pgpgout"),
          totalPgFault: g("total_pgfault"),
          totalPgMajFault: g("total_pgmajfault"),
          totalInactiveAnon: g("total_inactive_anon"),
          totalActiveAnon: g("total_active_anon"),
          totalInactiveFile: g("total_inactive_file"),
          totalActiveFile: g("total_active_file"),
          totalUnevictable: g("total_unevictable"),
          usage: await entry("memory."),
          swap: await entry("memory.memsw."),
          kernel: await entry("memory.kmem."),
          kernelTcp: await entry("memory.kmem.tcp."),
        }
      : undefined,
    memoryOomControl: mem
      ? {
          oomKillDisable: oom.get("oom_kill_disable") ?? 0n,
          underOom: oom.get("under_oom") ?? 0n,
          oomKill: oom.get("oom_kill") ?? 0n,
        }
      : undefined,
  };
}

async function readV2(dir: string) {
  const cpu = parseFlatKeyed(await text(join(dir, "cpu.stat")));
  const mem = parseFlatKeyed(await text(join(dir, "memory.stat")));
  const events = parseFlatKeyed(await text(join(dir, "memory.events")));
  const m = (k: string): bigint => mem.get(k) ?? 0n;
  return {
    pids: {
      current: await num(join(dir, "pids.current")),
      limit: await num(join(dir, "pids.max")),
    },
    cpu: {
      usageUsec: cpu.get("usage_usec") ?? 0n,
      userUsec: cpu.get("user_usec") ?? 0n,
      systemUsec: cpu.get("system_usec") ?? 0n,
      nrPeriods: cpu.get("nr_periods") ?? 0n,
      nrThrottled: cpu.get("nr_throttled") ?? 0n,
      throttledUsec: cpu.get("throttled_usec") ?? 0n,
      nrBursts: cpu.get("nr_bursts") ?? 0n,
      burstUsec: cpu.get("burst_usec") ?? 0n,
    },
    memory: {
      anon: m("anon"),
      file: m("file"),
      kernelStack: m("kernel_stack"),
      slab: m("slab"),
      sock: m("sock"),
      shmem: m("shmem"),
      fileMapped: m("file_mapped"),
      fileDirty: m("file_dirty"),
      fileWriteback: m("file_writeback"),
      anonThp: m("anon_thp"),
      inactiveAnon: m("inactive_anon"),
      activeAnon: m("active_anon"),
      inactiveFile: m("inactive_file"),
      activeFile: m("active_file"),
      unevictable: m("unevictable"),
      slabReclaimable: m("slab_reclaimable"),
      slabUnreclaimable: m("slab_unreclaimable"),
      pgfault: m("pgfault"),
      pgmajfault: m("pgmajfault"),
      workingsetNodereclaim: m("workingset_nodereclaim"),
      pgrefill: m("pgrefill"),
      pgscan: m("pgscan"),
      pgsteal: m("pgsteal"),
      pgactivate: m("pgactivate"),
      pgdeactivate: m("pgdeactivate"),
      pglazyfree: m("pglazyfree"),
      pglazyfreed: m("pglazyfreed"),
      thpFaultAlloc: m("thp_fault_alloc"),
      thpCollapseAlloc: m("thp_collapse_alloc"),
      usage: await num(join(dir, "memory.current")),
      usageLimit: await num(join(dir, "memory.max")),
      swapUsage: await num(join(dir, "memory.swap.current")),
      swapLimit: await num(join(dir, "memory.swap.max")),
      maxUsage: await num(join(dir, "memory.peak")),
      workingsetRefaultAnon: m("workingset_refault_anon"),
      workingsetRefaultFile: m("workingset_refault_file"),
      workingsetActivateAnon: m("workingset_activate_anon"),
      workingsetActivateFile: m("workingset_activate_file"),
    },
    memoryEvents: {
      low: events.get("low") ?? 0n,
      high: events.get("high") ?? 0n,
      max: events.get("max") ?? 0n,
      oom: events.get("oom") ?? 0n,
      oomKill: events.get("oom_kill") ?? 0n,
      oomGroupKill: events.get("oom_group_kill") ?? 0n,
    },
  };
}
