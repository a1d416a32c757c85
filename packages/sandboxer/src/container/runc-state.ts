/**
 * Removing a stopped container as `runc delete` does, without a runc process
 * (a Go start-up of ~5 ms on every container removal): its cgroups, then its
 * state directory, both named by runc's own state.json. Only when runc would
 * have nothing else to do: no poststop hooks to run, no Intel RDT group, and no
 * process left in its cgroups (in a pod's shared pid namespace a child can
 * outlive init; runc kills those first). Otherwise the caller runs runc.
 */
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { unknown as unknownError, messageOf } from "@sandboxd/errdefs";
import { hasProcesses, removeTree } from "../pod/cgroups.js";

/** The fields of runc's state.json (libcontainer's State) this reads. */
interface RuncStateFile {
  cgroup_paths?: Record<string, string> | null;
  intel_rdt_path?: string | null;
  config?: { Hooks?: Record<string, unknown[] | null> | null } | null;
}

/**
 * Removes the stopped container `id` under `runcRoot`. Resolves false, having
 * changed nothing, when runc has to do it.
 */
export async function removeStoppedContainer(runcRoot: string, id: string): Promise<boolean> {
  const dir = join(runcRoot, id);
  let state: RuncStateFile;
  try {
    state = JSON.parse(await readFile(join(dir, "state.json"), "utf8")) as RuncStateFile;
  } catch (err) {
    // No state (never created, or removed already): runc delete would find nothing either.
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      await rm(dir, { recursive: true, force: true });
      return true;
    }
    return false;
  }
  if (state.config?.Hooks?.poststop?.length || state.intel_rdt_path) return false;
  const cgroupDirs = [...new Set(Object.values(state.cgroup_paths ?? {}))];
  if (cgroupDirs.some(hasProcesses)) return false;
  const removed = await Promise.allSettled(cgroupDirs.map((d) => removeTree(d)));
  const failed = removed.flatMap((r, i) =>
    r.status === "rejected" ? [`${cgroupDirs[i]}: ${messageOf(r.reason)}`] : [],
  );
  if (failed.length) throw unknownError(`delete ${id}: remove cgroups: ${failed.join("; ")}`);
  // Last: while state.json is there, a retry (or runc) can still find the cgroups.
  await rm(dir, { recursive: true, force: true });
  return true;
}
