/**
 * Sandbox cgroups on both layouts. cgroup v1 (incl. the hybrid layout with an
 * empty cgroup2 at /sys/fs/cgroup/unified) has one hierarchy per controller
 * group, so a sandbox is one directory per hierarchy; cgroup v2 has a single
 * tree where controllers must be enabled in every ancestor's subtree_control.
 * A sandbox's cgroup is `<parent>/<namespace>/<sandbox>`; its containers' are
 * children of it (runc creates them from the spec's linux.cgroupsPath).
 *
 * Directories are made, listed and removed, and cgroup.procs read, with sync
 * calls: cgroupfs never waits on a disk, and the threadpool round trip of the
 * async form cost more than the call. Limit writes stay async (a lower memory
 * limit makes the kernel reclaim before the write returns).
 */
import type { Dirent } from "node:fs";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  writeFileSync,
} from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { failedPrecondition, unknown as unknownError, messageOf } from "@sandboxd/errdefs";

export interface Hierarchy {
  /** Mount point, e.g. /sys/fs/cgroup/memory. */
  mount: string;
  /** Controllers bound to it (`name=systemd` and the empty unified tree have none). */
  controllers: string[];
}

export type CgroupLayout =
  { version: 2; root: string; controllers: string[] } | { version: 1; hierarchies: Hierarchy[] };

const v2Wanted = ["cpuset", "cpu", "io", "memory", "pids", "hugetlb"];
const v1Controllers = new Set([
  "cpu",
  "cpuacct",
  "cpuset",
  "memory",
  "devices",
  "freezer",
  "net_cls",
  "net_prio",
  "blkio",
  "perf_event",
  "hugetlb",
  "pids",
  "rdma",
  "misc",
]);

/** Reads /proc/self/mountinfo: cgroup v2 when /sys/fs/cgroup is cgroup2, else v1 (+ hybrid). */
export function detectLayout(mountinfo?: string): CgroupLayout {
  const text = mountinfo ?? readFileSync("/proc/self/mountinfo", "utf8");
  const hierarchies: Hierarchy[] = [];
  let unifiedRoot: string | undefined;
  for (const line of text.split("\n")) {
    const sep = line.indexOf(" - ");
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(" ");
    const right = line.slice(sep + 3).split(" ");
    const mountPoint = unescapeMount(left[4] ?? "");
    const fstype = right[0];
    if (fstype === "cgroup2") {
      if (mountPoint === "/sys/fs/cgroup") unifiedRoot = mountPoint;
      else hierarchies.push({ mount: mountPoint, controllers: [] });
    } else if (fstype === "cgroup") {
      const options = (right[2] ?? "").split(",");
      const controllers = options.filter((o) => v1Controllers.has(o));
      if (hierarchies.some((h) => h.mount === mountPoint)) continue;
      hierarchies.push({ mount: mountPoint, controllers });
    }
  }
  if (unifiedRoot !== undefined) {
    let controllers: string[] = [];
    try {
      controllers = readFileSync(join(unifiedRoot, "cgroup.controllers"), "utf8")
        .trim()
        .split(/\s+/)
        .filter(Boolean);
    } catch {
      // an empty list still works: no limits, no stats
    }
    return { version: 2, root: unifiedRoot, controllers };
  }
  if (hierarchies.length === 0) throw failedPrecondition("no cgroup filesystem is mounted");
  return { version: 1, hierarchies };
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Relative cgroup path of a sandbox: `<parent>/<namespace>/<sandbox>`. */
export function sandboxCgroup(parent: string, namespace: string, sandboxId: string): string {
  return `${parent}/${namespace}/${sandboxId}`;
}

/** The spec's linux.cgroupsPath for a container of a sandbox (absolute, cgroupfs style). */
export function containerCgroupsPath(sandboxPath: string, containerId: string): string {
  return `/${sandboxPath}/${containerId}`;
}

export class Cgroups {
  readonly layout: CgroupLayout;

  constructor(layout: CgroupLayout) {
    this.layout = layout;
  }

  /** Every directory that holds `rel` (one per v1 hierarchy, one on v2). */
  dirs(rel: string): string[] {
    const clean = rel.replace(/^\/+/, "");
    if (this.layout.version === 2) return [join(this.layout.root, clean)];
    return this.layout.hierarchies.map((h) => join(h.mount, clean));
  }

  /** The directory of `rel` in the hierarchy carrying `controller`, if there is one. */
  dirFor(rel: string, controller: string): string | undefined {
    const clean = rel.replace(/^\/+/, "");
    if (this.layout.version === 2) {
      return this.layout.controllers.includes(controller) || controller === "freezer"
        ? join(this.layout.root, clean)
        : undefined;
    }
    const h = this.layout.hierarchies.find((x) => x.controllers.includes(controller));
    return h ? join(h.mount, clean) : undefined;
  }

  /**
   * Creates `rel` (and missing ancestors) everywhere, ready for child cgroups.
   * A shared ancestor (the namespace level) removed meanwhile by another
   * sandbox's removeIfEmpty makes a step fail with ENOENT: made again.
   */
  create(rel: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        this.#create(rel);
        return Promise.resolve();
      } catch (err) {
        if (!(err instanceof Error)) return Promise.reject(new Error(String(err)));
        if ((err as NodeJS.ErrnoException).code !== "ENOENT" || attempt >= 5)
          return Promise.reject(err);
      }
    }
  }

  #create(rel: string): void {
    const parts = rel.replace(/^\/+/, "").split("/");
    if (this.layout.version === 2) {
      const root = this.layout.root;
      const enable = this.layout.controllers.filter((c) => v2Wanted.includes(c));
      let dir = root;
      for (const part of parts) {
        enableControllers(dir, enable);
        dir = join(dir, part);
        mkdirSync(dir, { recursive: true });
      }
      // The sandbox cgroup holds no processes, only container cgroups: enable for them too.
      enableControllers(dir, enable);
      return;
    }
    for (const h of this.layout.hierarchies) {
      let dir = h.mount;
      for (const part of parts) {
        const parentDir = dir;
        dir = join(dir, part);
        mkdirSync(dir, { recursive: true });
        if (h.controllers.includes("cpuset")) copyCpuset(parentDir, dir);
      }
    }
  }

  /**
   * Removes `rel` and what is left below it, deepest first. A cgroup with
   * processes cannot be removed: that is retried briefly (exiting processes
   * leave it a moment later), then reported.
   */
  async remove(rel: string): Promise<void> {
    // One tree per v1 controller, independent of each other: removed at once.
    const results = await Promise.allSettled(this.dirs(rel).map((dir) => removeTree(dir)));
    const failures = results.flatMap((r, i) =>
      r.status === "rejected" ? [`${this.dirs(rel)[i]}: ${messageOf(r.reason)}`] : [],
    );
    if (failures.length) throw unknownError(`remove cgroup ${rel}: ${failures.join("; ")}`);
  }

  /** Removes `rel` only where it is empty of children; used for shared levels (the namespace). */
  removeIfEmpty(rel: string): Promise<void> {
    for (const dir of this.dirs(rel)) {
      try {
        rmdirSync(dir);
      } catch {
        // in use by another sandbox, or already gone
      }
    }
    return Promise.resolve();
  }

  exists(rel: string): Promise<boolean> {
    const dir = this.dirs(rel)[0];
    return Promise.resolve(dir !== undefined && existsSync(dir));
  }

  /** Freezes every process below `rel` and waits until the kernel reports it frozen. */
  async freeze(rel: string, signal?: AbortSignal): Promise<void> {
    await this.#setFrozen(rel, true, signal);
  }

  async thaw(rel: string, signal?: AbortSignal): Promise<void> {
    await this.#setFrozen(rel, false, signal);
  }

  async #setFrozen(rel: string, frozen: boolean, signal?: AbortSignal): Promise<void> {
    if (this.layout.version === 2) {
      const dir = join(this.layout.root, rel);
      await writeFile(join(dir, "cgroup.freeze"), frozen ? "1" : "0");
      await waitUntil(async () => {
        const events = await readFile(join(dir, "cgroup.events"), "utf8");
        return events.includes(`frozen ${frozen ? 1 : 0}`);
      }, signal);
      return;
    }
    const dir = this.dirFor(rel, "freezer");
    if (dir === undefined) throw failedPrecondition("the freezer cgroup controller is not mounted");
    const want = frozen ? "FROZEN" : "THAWED";
    await waitUntil(async () => {
      await writeFile(join(dir, "freezer.state"), want);
      return (await readFile(join(dir, "freezer.state"), "utf8")).trim() === want;
    }, signal);
  }

  /** Pids of every process in `rel` and below. */
  pids(rel: string): Promise<number[]> {
    const dir =
      this.layout.version === 2
        ? this.dirs(rel)[0]
        : (this.dirFor(rel, "pids") ?? this.dirs(rel)[0]);
    const out: number[] = [];
    if (dir !== undefined) collectPids(dir, out);
    return Promise.resolve(out);
  }

  /** Writes limit files of `rel`; each key is a file name relative to its controller. */
  async setLimits(rel: string, limits: CgroupLimits): Promise<void> {
    if (this.layout.version === 2) {
      const dir = join(this.layout.root, rel);
      const cpuMax =
        limits.cpuQuotaUs === undefined
          ? "max"
          : `${limits.cpuQuotaUs} ${limits.cpuPeriodUs ?? 100000}`;
      await writeIfPresent(join(dir, "cpu.max"), cpuMax);
      if (limits.cpuShares !== undefined) {
        // runc's conversion of shares (2..262144) to weight (1..10000).
        const weight = Math.round(1 + ((limits.cpuShares - 2) * 9999) / 262142);
        await writeIfPresent(join(dir, "cpu.weight"), String(Math.min(10000, Math.max(1, weight))));
      }
      await writeIfPresent(
        join(dir, "memory.max"),
        limits.memoryBytes === undefined ? "max" : String(limits.memoryBytes),
      );
      await writeIfPresent(
        join(dir, "pids.max"),
        limits.pids === undefined ? "max" : String(limits.pids),
      );
      return;
    }
    const cpu = this.dirFor(rel, "cpu");
    if (cpu) {
      if (limits.cpuPeriodUs !== undefined)
        await writeIfPresent(join(cpu, "cpu.cfs_period_us"), String(limits.cpuPeriodUs));
      await writeIfPresent(join(cpu, "cpu.cfs_quota_us"), String(limits.cpuQuotaUs ?? -1));
      if (limits.cpuShares !== undefined)
        await writeIfPresent(join(cpu, "cpu.shares"), String(limits.cpuShares));
    }
    const memory = this.dirFor(rel, "memory");
    if (memory)
      await writeIfPresent(join(memory, "memory.limit_in_bytes"), String(limits.memoryBytes ?? -1));
    const pids = this.dirFor(rel, "pids");
    if (pids)
      await writeIfPresent(
        join(pids, "pids.max"),
        limits.pids === undefined ? "max" : String(limits.pids),
      );
  }
}

/** Sandbox-wide limits; undefined = unlimited. */
export interface CgroupLimits {
  cpuQuotaUs?: number | undefined;
  cpuPeriodUs?: number | undefined;
  cpuShares?: number | undefined;
  memoryBytes?: number | undefined;
  pids?: number | undefined;
}

function enableControllers(dir: string, controllers: string[]): void {
  if (controllers.length === 0) return;
  let current: string[] = [];
  try {
    current = readFileSync(join(dir, "cgroup.subtree_control"), "utf8").trim().split(/\s+/);
  } catch {
    return;
  }
  const missing = controllers.filter((c) => !current.includes(c));
  for (const c of missing) {
    try {
      writeFileSync(join(dir, "cgroup.subtree_control"), `+${c}`);
    } catch {
      // e.g. cpuset/ hugetlb refused in this tree: the others still apply
    }
  }
}

function copyCpuset(parentDir: string, dir: string): void {
  const read = (file: string): string => {
    try {
      return readFileSync(file, "utf8").trim();
    } catch {
      return "";
    }
  };
  for (const file of ["cpuset.cpus", "cpuset.mems"]) {
    if (read(join(dir, file)) !== "") continue;
    const theirs = read(join(parentDir, file));
    if (theirs !== "") writeFileSync(join(dir, file), theirs);
  }
}

/** Removes a cgroup directory and those below it, deepest first; gone already is fine. */
export async function removeTree(dir: string): Promise<void> {
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  for (const e of entries) if (e.isDirectory()) await removeTree(join(dir, e.name));
  for (let attempt = 0; ; attempt++) {
    try {
      rmdirSync(dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT") return;
      // EBUSY: a process killed a moment ago is still leaving; it usually takes a few ms.
      if (code !== "EBUSY" || attempt >= 60) throw err;
      await delay(Math.min(2 ** attempt, 20));
    }
  }
}

function collectPids(dir: string, out: number[]): void {
  let procs: string;
  try {
    procs = readFileSync(join(dir, "cgroup.procs"), "utf8");
  } catch {
    return;
  }
  for (const line of procs.split("\n")) if (line) out.push(Number(line));
  let entries: Dirent[] = [];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    // gone meanwhile
  }
  for (const e of entries) if (e.isDirectory()) collectPids(join(dir, e.name), out);
}

/** Whether any process is in the cgroup directory `dir` itself (not below it). */
export function hasProcesses(dir: string): boolean {
  try {
    return readFileSync(join(dir, "cgroup.procs"), "utf8").trim() !== "";
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== "ENOENT";
  }
}

async function writeIfPresent(file: string, value: string): Promise<void> {
  try {
    await writeFile(file, value);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw unknownError(`write ${value} to ${file}: ${messageOf(err)}`, { cause: err });
  }
}

async function waitUntil(check: () => Promise<boolean>, signal?: AbortSignal): Promise<void> {
  for (let i = 0; ; i++) {
    if (await check()) return;
    signal?.throwIfAborted();
    if (i > 500) throw unknownError("cgroup freezer did not settle within 5 s");
    await delay(10);
  }
}
