/**
 * A sandbox's cgroup limits are the sum of its containers' (Kata's rule, and
 * what a VM sandbox must do to size itself): a limit applies to the pod only
 * when every container has one; one unlimited container makes the pod unlimited.
 */
import type { CgroupLimits } from "./cgroups.js";

/** The subset of the OCI spec's linux.resources that sizes a pod. */
export interface LinuxResources {
  cpu?: { shares?: number; quota?: number; period?: number } | undefined;
  memory?: { limit?: number } | undefined;
  pids?: { limit?: number } | undefined;
}

const defaultPeriodUs = 100_000;

export function sumResources(all: readonly (LinuxResources | undefined)[]): CgroupLimits {
  if (all.length === 0) return {};
  let quota: number | undefined = 0;
  let memory: number | undefined = 0;
  let pids: number | undefined = 0;
  let shares: number | undefined = 0;
  for (const r of all) {
    const q = r?.cpu?.quota;
    const period = r?.cpu?.period && r.cpu.period > 0 ? r.cpu.period : defaultPeriodUs;
    quota =
      quota !== undefined && q !== undefined && q > 0
        ? quota + Math.ceil((q * defaultPeriodUs) / period)
        : undefined;
    const m = r?.memory?.limit;
    memory = memory !== undefined && m !== undefined && m > 0 ? memory + m : undefined;
    const p = r?.pids?.limit;
    pids = pids !== undefined && p !== undefined && p > 0 ? pids + p : undefined;
    const s = r?.cpu?.shares;
    shares = shares !== undefined && s !== undefined && s > 0 ? shares + s : undefined;
  }
  return {
    ...(quota !== undefined ? { cpuQuotaUs: quota, cpuPeriodUs: defaultPeriodUs } : {}),
    ...(memory !== undefined ? { memoryBytes: memory } : {}),
    ...(pids !== undefined ? { pids } : {}),
    ...(shares !== undefined ? { cpuShares: Math.min(262144, Math.max(2, shares)) } : {}),
  };
}
