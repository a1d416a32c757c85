/**
 * `linux.resources` of a CRI container as containerd's WithResources and
 * WithOOMScoreAdj make it: CPU, memory (swap = the memory limit unless given,
 * where swap is accounted), hugepage limits (dropped with a warning when the
 * host has no hugetlb cgroup controller), the OOM score adjustment (never
 * below the daemon's when it may not lower it).
 */
import { existsSync, readFileSync } from "node:fs";
import type { LinuxContainerResources } from "@sandboxd/api/cri/runtime/v1/api_pb";
import type { Ctx } from "@sandboxd/core";
import { currentCapabilities } from "@sandboxd/core/oci";
import { invalidArgument } from "@sandboxd/errdefs";

let hugetlb: boolean | undefined;
/** Whether the host's cgroups have the hugetlb controller (v1 hierarchy or v2 controllers). */
export function hugetlbControllerPresent(): boolean {
  if (hugetlb === undefined) {
    const v2 = "/sys/fs/cgroup/cgroup.controllers";
    hugetlb = existsSync(v2)
      ? readFileSync(v2, "utf8").split(/\s+/).includes("hugetlb")
      : existsSync("/sys/fs/cgroup/hugetlb");
  }
  return hugetlb;
}

let swap: boolean | undefined;
function swapAccounted(): boolean {
  swap ??=
    existsSync("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes") ||
    (existsSync("/sys/fs/cgroup/cgroup.controllers") &&
      existsSync("/sys/fs/cgroup/user.slice/memory.swap.max"));
  return swap;
}

/** Hugepage sizes are `<n>KB|MB|GB` (kubelet's form, runc's `hugetlb.<size>` file names). */
const pageSize = /^[1-9]\d*(KB|MB|GB|TB|PB)$/;

/** The resources (without device rules) of `res`; validates hugepage limits. */
export function resourcesOf(
  ctx: Ctx,
  res: LinuxContainerResources | undefined,
): { resources: Record<string, unknown>; oomScoreAdj?: number } {
  const resources: Record<string, unknown> = {};
  if (!res) return { resources };
  const cpu: Record<string, unknown> = {};
  if (res.cpuShares) cpu.shares = Number(res.cpuShares);
  if (res.cpuQuota) cpu.quota = Number(res.cpuQuota);
  if (res.cpuPeriod) cpu.period = Number(res.cpuPeriod);
  if (res.cpusetCpus) cpu.cpus = res.cpusetCpus;
  if (res.cpusetMems) cpu.mems = res.cpusetMems;
  if (Object.keys(cpu).length) resources.cpu = cpu;
  const memory: Record<string, unknown> = {};
  if (res.memoryLimitInBytes) {
    memory.limit = Number(res.memoryLimitInBytes);
    // As containerd: no swap beyond the memory limit unless asked for.
    if (!res.memorySwapLimitInBytes && swapAccounted()) memory.swap = memory.limit;
  }
  if (res.memorySwapLimitInBytes && swapAccounted())
    memory.swap = Number(res.memorySwapLimitInBytes);
  if (Object.keys(memory).length) resources.memory = memory;
  for (const h of res.hugepageLimits)
    if (!pageSize.test(h.pageSize))
      throw invalidArgument(
        `hugepage limit: page size ${JSON.stringify(h.pageSize)} is not of the form <n>KB, <n>MB or <n>GB`,
      );
  if (res.hugepageLimits.length) {
    if (hugetlbControllerPresent())
      resources.hugepageLimits = res.hugepageLimits.map((h) => ({
        pageSize: h.pageSize,
        limit: Number(h.limit),
      }));
    else
      ctx.log.warn(
        { limits: res.hugepageLimits.map((h) => `${h.pageSize}=${h.limit}`) },
        "hugetlb cgroup controller is absent: skipping huge pages limits",
      );
  }
  if (Object.keys(res.unified).length) resources.unified = { ...res.unified };
  return { resources, oomScoreAdj: oomScoreAdj(ctx, Number(res.oomScoreAdj)) };
}

/**
 * The OOM score adjustment runc can set: lowering it below the daemon's own
 * needs CAP_SYS_RESOURCE, so without it the value is raised to the daemon's
 * (containerd's restrict_oom_score_adj) instead of failing the start.
 */
function oomScoreAdj(ctx: Ctx, wanted: number): number {
  if (currentCapabilities().includes("CAP_SYS_RESOURCE")) return wanted;
  const own = Number(readFileSync("/proc/self/oom_score_adj", "utf8").trim());
  if (!Number.isInteger(own) || wanted >= own) return wanted;
  ctx.log.debug({ wanted, own }, "no CAP_SYS_RESOURCE: oom_score_adj raised to the daemon's");
  return own;
}
