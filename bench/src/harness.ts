/**
 * The one harness every benchmark of `npm run bench` runs in: a private
 * directory (short, for unix socket paths), a LIFO stack of teardown steps,
 * and a final sweep that removes whatever the teardown missed, so nothing
 * the bench started outlives it, even when a measurement fails or the run is
 * interrupted: daemons, shims, monitors, containers, mounts (rootfs, netns
 * pins), cgroups, bridges.
 *
 * What the sweep finds after a clean teardown is a leak of the system under
 * test, and is reported as such.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, readdir, rm, rmdir } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { cgroupMounts, mountsUnder } from "@sandboxd/testing";
import { processTable } from "./pss.js";

const execFileAsync = promisify(execFile);

export interface BenchEnv {
  /** Everything the bench makes goes below this directory. */
  readonly dir: string;
  /** Registers a teardown step (run last-registered first by close()). */
  defer(what: string, fn: () => Promise<unknown>): void;
  /** runc roots whose containers belong to the bench (swept at the end). */
  addRuncRoot(root: string): void;
  /** cgroup parents (relative to each hierarchy's mount) that belong to the bench. */
  addCgroupParent(parent: string): void;
  /** Network links (bridges) that belong to the bench. */
  addLink(name: string): void;
  /** Runs the teardown steps, then the sweep; returns what the sweep had to remove. */
  close(): Promise<string[]>;
}

export async function openBenchEnv(prefix = "sbxb-"): Promise<BenchEnv> {
  const dir = await mkdtemp(join("/tmp", prefix));
  const steps: { what: string; fn: () => Promise<unknown> }[] = [];
  const runcRoots = new Set<string>();
  const cgroupParents = new Set<string>();
  const links = new Set<string>();
  let closed: Promise<string[]> | undefined;
  const teardown = async (): Promise<string[]> => {
    const errors: string[] = [];
    for (let step = steps.pop(); step !== undefined; step = steps.pop()) {
      try {
        await withTimeout(step.fn(), 120_000, step.what);
      } catch (err) {
        errors.push(`teardown "${step.what}" failed: ${errorText(err)}`);
      }
    }
    const swept = await sweep({ dir, runcRoots, cgroupParents, links });
    return [...errors, ...swept];
  };
  return {
    dir,
    defer: (what, fn) => steps.push({ what, fn }),
    addRuncRoot: (root) => runcRoots.add(root),
    addCgroupParent: (parent) => cgroupParents.add(parent),
    addLink: (name) => links.add(name),
    close: () => (closed ??= teardown()),
  };
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: still running after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

interface SweepScope {
  dir: string;
  runcRoots: ReadonlySet<string>;
  cgroupParents: ReadonlySet<string>;
  links: ReadonlySet<string>;
}

/**
 * Removes everything of the bench that is still there: runc containers in its
 * roots (or whose bundle is below `dir`), processes whose command line names
 * `dir`, mounts below `dir`, its cgroups (processes in them killed first), its
 * links, and `dir` itself. Returns one line per thing it had to remove.
 */
export async function sweep(scope: SweepScope): Promise<string[]> {
  const found: string[] = [];
  const { dir } = scope;
  for (const root of scope.runcRoots) {
    const listed = await execFileAsync("runc", ["--root", root, "list", "-f", "json"]).catch(
      () => undefined,
    );
    const containers = JSON.parse(listed?.stdout || "null") as
      { id: string; bundle: string }[] | null;
    for (const c of containers ?? []) {
      const ours = root.startsWith(`${dir}/`) || c.bundle.startsWith(`${dir}/`);
      if (!ours) continue;
      found.push(`runc container ${c.id} (root ${root})`);
      await execFileAsync("runc", ["--root", root, "delete", "--force", c.id]).catch(
        () => undefined,
      );
    }
    // The runc shim makes a root per namespace and never removes it: once empty, it goes.
    await rmdir(root).catch(() => undefined);
  }
  for (const p of await processTable()) {
    if (p.pid === process.pid || !p.argv.join(" ").includes(dir)) continue;
    found.push(`process ${p.pid} ${p.argv.join(" ").slice(0, 160)}`);
    try {
      process.kill(p.pid, "SIGKILL");
    } catch {
      // gone already
    }
  }
  for (const parent of scope.cgroupParents) {
    for (const mount of await cgroupMounts()) {
      const removed = await removeCgroupTree(join(mount, parent));
      // The parent directory itself is the bench's; what is below it is a leak.
      found.push(...removed.filter((d) => d !== join(mount, parent)).map((d) => `cgroup ${d}`));
    }
  }
  for (const point of await mountsUnder(dir)) {
    found.push(`mount ${point}`);
    await execFileAsync("umount", ["-l", point]).catch(() => undefined);
  }
  for (const link of scope.links) {
    await execFileAsync("ip", ["link", "del", link]).catch(() => undefined);
  }
  await rm(dir, { recursive: true, force: true, maxRetries: 3 }).catch((err: unknown) => {
    found.push(`could not remove ${dir}: ${errorText(err)}`);
  });
  return found;
}

/** Kills what runs in a cgroup tree and removes it, deepest first; the directories removed. */
async function removeCgroupTree(path: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(path, { withFileTypes: true });
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const e of entries) {
    if (e.isDirectory()) removed.push(...(await removeCgroupTree(join(path, e.name))));
  }
  const procs = await readFile(join(path, "cgroup.procs"), "utf8").catch(() => "");
  for (const pid of procs.split("\n").filter(Boolean)) {
    try {
      process.kill(Number(pid), "SIGKILL");
    } catch {
      // gone already
    }
  }
  for (let i = 0; i < 50; i++) {
    try {
      await rmdir(path);
      removed.push(path);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") break;
      // Busy while its processes die: try again shortly.
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  return removed;
}

/** Runs `fn` over `items`, at most `concurrency` at a time; fails with the first failure. */
export async function pool<T>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}
