/** CRI stats from the cgroup metrics the task service and the sandbox controller report. */
import { create, fromBinary } from "@bufbuild/protobuf";
import { MetricsSchema as V1Metrics } from "@sandboxd/api/cgroups/cgroup1/stats/metrics_pb";
import { MetricsSchema as V2Metrics } from "@sandboxd/api/cgroups/cgroup2/stats/metrics_pb";
import { ContainerStatsSchema, type ContainerStats } from "@sandboxd/api/cri/runtime/v1/api_pb";
import type { Any } from "@bufbuild/protobuf/wkt";

export interface Usage {
  /** OOM kills in the cgroup (v1 memory.oom_control oom_kill, v2 memory.events oom_kill). */
  oomKills: bigint;
  cpuNs: bigint;
  memoryBytes: bigint;
  workingSetBytes: bigint;
}

export function usageOf(data: Any | undefined): Usage | undefined {
  if (!data) return undefined;
  if (data.typeUrl.endsWith("io.containerd.cgroups.v1.Metrics")) {
    const m = fromBinary(V1Metrics, data.value);
    const usage = m.memory?.usage?.usage ?? 0n;
    const inactive = m.memory?.totalInactiveFile ?? 0n;
    return {
      oomKills: m.memoryOomControl?.oomKill ?? 0n,
      cpuNs: m.cpu?.usage?.total ?? 0n,
      memoryBytes: usage,
      workingSetBytes: usage > inactive ? usage - inactive : 0n,
    };
  }
  if (data.typeUrl.endsWith("io.containerd.cgroups.v2.Metrics")) {
    const m = fromBinary(V2Metrics, data.value);
    const usage = m.memory?.usage ?? 0n;
    const inactive = m.memory?.inactiveFile ?? 0n;
    return {
      oomKills: m.memoryEvents?.oomKill ?? 0n,
      cpuNs: (m.cpu?.usageUsec ?? 0n) * 1000n,
      memoryBytes: usage,
      workingSetBytes: usage > inactive ? usage - inactive : 0n,
    };
  }
  return undefined;
}

export function containerStats(
  attributes: ContainerStats["attributes"],
  tsNs: bigint,
  u: Usage | undefined,
): ContainerStats {
  return create(ContainerStatsSchema, {
    attributes,
    cpu: { timestamp: tsNs, usageCoreNanoSeconds: { value: u?.cpuNs ?? 0n } },
    memory: {
      timestamp: tsNs,
      workingSetBytes: { value: u?.workingSetBytes ?? 0n },
      usageBytes: { value: u?.memoryBytes ?? 0n },
    },
    writableLayer: {
      timestamp: tsNs,
      fsId: { mountpoint: "/" },
      usedBytes: { value: 0n },
      inodesUsed: { value: 0n },
    },
  });
}
