/** CRI stats from the cgroup metrics the task service and the sandbox controller report. */
import { create, fromBinary } from "@bufbuild/protobuf";
import { MetricsSchema as V1Metrics } from "@sandboxd/api/cgroups/cgroup1/stats/metrics_pb";
import { MetricsSchema as V2Metrics } from "@sandboxd/api/cgroups/cgroup2/stats/metrics_pb";
import {
  ContainerStatsSchema,
  type ContainerStats,
  type FilesystemUsage,
} from "@sandboxd/api/cri/runtime/v1/api_pb";
import type { Any } from "@bufbuild/protobuf/wkt";

export interface Usage {
  /** OOM kills in the cgroup (v1 memory.oom_control oom_kill, v2 memory.events oom_kill). */
  oomKills: bigint;
  cpuNs: bigint;
  cpuUserNs: bigint;
  cpuSystemNs: bigint;
  cfsPeriods: bigint;
  cfsThrottledPeriods: bigint;
  cfsThrottledNs: bigint;
  memoryBytes: bigint;
  workingSetBytes: bigint;
  maxUsageBytes: bigint;
  rssBytes: bigint;
  cacheBytes: bigint;
  mappedFileBytes: bigint;
  swapBytes: bigint;
  activeFileBytes: bigint;
  inactiveFileBytes: bigint;
  failcnt: bigint;
  /** Processes (tasks) in the cgroup: pids.current. */
  pids: bigint;
}

export function usageOf(data: Any | undefined): Usage | undefined {
  if (!data) return undefined;
  if (data.typeUrl.endsWith("io.containerd.cgroups.v1.Metrics")) {
    const m = fromBinary(V1Metrics, data.value);
    const usage = m.memory?.usage?.usage ?? 0n;
    const inactive = m.memory?.totalInactiveFile ?? 0n;
    const mem = m.memory;
    const swap = mem?.swap?.usage ?? 0n;
    return {
      oomKills: m.memoryOomControl?.oomKill ?? 0n,
      cpuNs: m.cpu?.usage?.total ?? 0n,
      cpuUserNs: m.cpu?.usage?.user ?? 0n,
      cpuSystemNs: m.cpu?.usage?.kernel ?? 0n,
      cfsPeriods: m.cpu?.throttling?.periods ?? 0n,
      cfsThrottledPeriods: m.cpu?.throttling?.throttledPeriods ?? 0n,
      cfsThrottledNs: m.cpu?.throttling?.throttledTime ?? 0n,
      memoryBytes: usage,
      workingSetBytes: usage > inactive ? usage - inactive : 0n,
      maxUsageBytes: mem?.usage?.max ?? 0n,
      rssBytes: mem?.totalRss ?? 0n,
      cacheBytes: mem?.totalCache ?? 0n,
      mappedFileBytes: mem?.totalMappedFile ?? 0n,
      // v1's memsw counts memory + swap.
      swapBytes: swap > usage ? swap - usage : 0n,
      activeFileBytes: mem?.totalActiveFile ?? 0n,
      inactiveFileBytes: inactive,
      failcnt: mem?.usage?.failcnt ?? 0n,
      pids: m.pids?.current ?? 0n,
    };
  }
  if (data.typeUrl.endsWith("io.containerd.cgroups.v2.Metrics")) {
    const m = fromBinary(V2Metrics, data.value);
    const usage = m.memory?.usage ?? 0n;
    const inactive = m.memory?.inactiveFile ?? 0n;
    const mem = m.memory;
    return {
      oomKills: m.memoryEvents?.oomKill ?? 0n,
      cpuNs: (m.cpu?.usageUsec ?? 0n) * 1000n,
      cpuUserNs: (m.cpu?.userUsec ?? 0n) * 1000n,
      cpuSystemNs: (m.cpu?.systemUsec ?? 0n) * 1000n,
      cfsPeriods: m.cpu?.nrPeriods ?? 0n,
      cfsThrottledPeriods: m.cpu?.nrThrottled ?? 0n,
      cfsThrottledNs: (m.cpu?.throttledUsec ?? 0n) * 1000n,
      memoryBytes: usage,
      workingSetBytes: usage > inactive ? usage - inactive : 0n,
      maxUsageBytes: mem?.maxUsage ?? 0n,
      rssBytes: mem?.anon ?? 0n,
      cacheBytes: mem?.file ?? 0n,
      mappedFileBytes: mem?.fileMapped ?? 0n,
      swapBytes: mem?.swapUsage ?? 0n,
      activeFileBytes: mem?.activeFile ?? 0n,
      inactiveFileBytes: inactive,
      // cgroup v2 has no failcnt (containerd reports none either).
      failcnt: 0n,
      pids: m.pids?.current ?? 0n,
    };
  }
  return undefined;
}

/** A container's stats: cpu and memory from its cgroup, its writable layer (`writable-layer.ts`). */
export function containerStats(
  attributes: ContainerStats["attributes"],
  tsNs: bigint,
  u: Usage | undefined,
  writableLayer: FilesystemUsage | undefined,
): ContainerStats {
  return create(ContainerStatsSchema, {
    attributes,
    cpu: { timestamp: tsNs, usageCoreNanoSeconds: { value: u?.cpuNs ?? 0n } },
    memory: memoryUsage(tsNs, u),
    ...(writableLayer ? { writableLayer } : {}),
  });
}

/** CRI MemoryUsage from cgroup usage (the same for a container and its pod). */
export function memoryUsage(tsNs: bigint, u: Usage | undefined) {
  return {
    timestamp: tsNs,
    workingSetBytes: { value: u?.workingSetBytes ?? 0n },
    usageBytes: { value: u?.memoryBytes ?? 0n },
    rssBytes: { value: u?.rssBytes ?? 0n },
  };
}
