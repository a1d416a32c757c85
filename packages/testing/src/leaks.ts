/**
 * Leak checks for runtime tests: snapshot what a pod can leave behind (mounts,
 * pinned namespaces, cgroup directories, conmon/runc/shim processes, veths on a
 * bridge) before the test's pods exist, and require the same set afterwards.
 * Scoped by the paths, cgroup parents and bridges the test owns, so tests
 * running side by side do not see each other.
 */
import { execFile } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { cgroupMounts } from "./sandboxer.js";

const execFileAsync = promisify(execFile);

export interface LeakScope {
  /** Mounts under these paths, and processes whose command line (or environment) mentions one, are the test's. */
  paths: readonly string[];
  /** cgroup directories below these parents (relative, e.g. "sbx-test-ab12cd"). */
  cgroupParents?: readonly string[];
  /** veths attached to these bridges. */
  bridges?: readonly string[];
}

export interface LeakSnapshot {
  mounts: string[];
  cgroups: string[];
  processes: string[];
  veths: string[];
}

const runtimeProcess = /(^|\/)(conmon|runc|containerd-shim[^ ]*|unshare|catatonit)$/;

export async function snapshotLeaks(scope: LeakScope): Promise<LeakSnapshot> {
  const inScope = (s: string): boolean => scope.paths.some((p) => s.includes(p));
  const mountinfo = await readFile("/proc/self/mountinfo", "utf8");
  const mounts = mountinfo
    .split("\n")
    .map((l) => {
      const f = l.split(" ");
      const sep = f.indexOf("-");
      return f[4] === undefined ? undefined : `${f[4]} (${f[sep + 1] ?? "?"} ${f[3] ?? ""})`;
    })
    .filter((m): m is string => m !== undefined && scope.paths.some((p) => m.startsWith(p)));

  const cgroups: string[] = [];
  for (const mount of await cgroupMounts()) {
    for (const parent of scope.cgroupParents ?? []) await walk(join(mount, parent), cgroups);
  }

  const processes: string[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
    const argv = cmdline.split("\0").filter(Boolean);
    if (argv.length === 0 || !runtimeProcess.test(argv[0] ?? "")) continue;
    // A pod's pid namespace holder (catatonit) names its sandboxer only in its environment.
    const environ = inScope(cmdline)
      ? ""
      : await readFile(`/proc/${entry}/environ`, "utf8").catch(() => "");
    if (!inScope(cmdline) && !inScope(environ)) continue;
    processes.push(`${entry} ${argv.join(" ").slice(0, 200)}`);
  }

  const veths: string[] = [];
  for (const bridge of scope.bridges ?? []) {
    const out = await execFileAsync("ip", ["-o", "link", "show", "master", bridge]).catch(() => ({
      stdout: "",
    }));
    for (const line of out.stdout.split("\n")) {
      const name = /^\d+:\s+([^:@]+)/.exec(line)?.[1];
      if (name) veths.push(`${name} on ${bridge}`);
    }
  }
  return {
    mounts: mounts.sort(),
    cgroups: cgroups.sort(),
    processes: processes.sort(),
    veths: veths.sort(),
  };
}

async function walk(dir: string, out: string[]): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  out.push(dir);
  for (const e of entries) if (e.isDirectory()) await walk(join(dir, e.name), out);
}

/** What `after` has that `before` had not, one line per item. */
export function diffLeaks(before: LeakSnapshot, after: LeakSnapshot): string[] {
  const out: string[] = [];
  const pids = new Set(before.processes.map((p) => p.split(" ")[0]));
  for (const key of ["mounts", "cgroups", "veths"] as const) {
    const had = new Set(before[key]);
    for (const item of after[key]) if (!had.has(item)) out.push(`${key}: ${item}`);
  }
  for (const p of after.processes) if (!pids.has(p.split(" ")[0])) out.push(`process: ${p}`);
  return out;
}

/**
 * Waits (up to `timeoutMs`) until nothing new is left compared with `before`;
 * throws with the list otherwise. Processes and cgroups may take a moment to go.
 */
export async function assertNoLeaks(
  before: LeakSnapshot,
  scope: LeakScope,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const leaks = diffLeaks(before, await snapshotLeaks(scope));
    if (leaks.length === 0) return;
    if (Date.now() > deadline) throw new Error(`leaked after the test:\n  ${leaks.join("\n  ")}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
