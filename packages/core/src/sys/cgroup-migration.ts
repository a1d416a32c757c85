/**
 * Keeps the kernel's cgroup migrations on their fast path while containers start.
 *
 * Every write of a pid to a cgroup.procs file takes the kernel's one global
 * cgroup_threadgroup_rwsem for writing, and `runc create` and `runc exec` each make
 * such writes (one per hierarchy) for the process they start. The rwsem's rcu_sync makes
 * the first writer after a quiet spell wait a whole RCU grace period: 7–10 ms on this
 * machine kind, longer under load. A writer that comes within about a grace period of
 * the last one passes in ~30 µs. The cgroup `favordynmods` mount option keeps every
 * writer on that fast path, node-wide and for good; this keeps them there only while the
 * caller has a start in flight, by moving this process into the cgroup it is already
 * in every few milliseconds: a move to nowhere, which changes no accounting.
 *
 * The first write after a quiet spell pays the grace period itself, on libuv's
 * threadpool, while the caller prepares the bundle and conmon and runc start up.
 * docs/cri-latency.md has the measurements.
 */
import { constants, existsSync, readFileSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { messageOf } from "@sandboxd/errdefs";

/** Default interval between the no-op moves: well inside one grace period. */
export const warmPeriodMs = 3;

export interface CgroupMigrationWarmerOptions {
  /** The cgroup.procs file of this process's own cgroup; found from /proc/self/cgroup when omitted. */
  procsFile?: string | undefined;
  periodMs?: number | undefined;
  /** Told once why warming stopped (a file not there, a write refused); it is only an optimisation. */
  onDisabled?: ((why: string) => void) | undefined;
}

/**
 * The cgroup.procs of this process's own cgroup in the hierarchy that has no controllers
 * when there is one (cgroup v2's, or the hybrid layout's `unified`), else in v1's pids
 * hierarchy; undefined if none can be found.
 */
export function ownCgroupProcsFile(
  selfCgroup = readFileSync("/proc/self/cgroup", "utf8"),
  root = "/sys/fs/cgroup",
): string | undefined {
  const paths = new Map<string, string>();
  for (const line of selfCgroup.split("\n")) {
    const first = line.indexOf(":");
    const second = line.indexOf(":", first + 1);
    if (first < 0 || second < 0) continue;
    const path = line.slice(second + 1);
    for (const controller of line.slice(first + 1, second).split(",")) paths.set(controller, path);
  }
  const candidates: string[] = [];
  const unified = paths.get("");
  if (unified !== undefined) {
    candidates.push(`${root}/unified${unified}`);
    if (existsSync(`${root}/cgroup.controllers`)) candidates.unshift(`${root}${unified}`);
  }
  const pids = paths.get("pids");
  if (pids !== undefined) candidates.push(`${root}/pids${pids}`);
  for (const dir of candidates) {
    const file = `${dir.replace(/\/+$/, "")}/cgroup.procs`;
    if (existsSync(file)) return file;
  }
  return undefined;
}

export class CgroupMigrationWarmer {
  #holds = 0;
  #timer: NodeJS.Timeout | undefined;
  #file: Promise<FileHandle | undefined> | undefined;
  #writing = false;
  #disabled = false;
  readonly #pid = Buffer.from(String(process.pid));
  readonly #periodMs: number;
  readonly #options: CgroupMigrationWarmerOptions;

  constructor(options: CgroupMigrationWarmerOptions = {}) {
    this.#options = options;
    this.#periodMs = options.periodMs ?? warmPeriodMs;
  }

  /** Keeps migrations fast until the returned function is called (once; later calls do nothing). */
  hold(): () => void {
    if (this.#disabled) return () => {};
    this.#holds++;
    if (this.#holds === 1) {
      this.#tick();
      this.#timer = setInterval(() => this.#tick(), this.#periodMs);
      this.#timer.unref();
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.#holds === 0) this.#stopTimer();
    };
  }

  /** Runs `work` with migrations kept fast. */
  async during<T>(work: () => Promise<T>): Promise<T> {
    const release = this.hold();
    try {
      return await work();
    } finally {
      release();
    }
  }

  /** Stops and closes the file. */
  async close(): Promise<void> {
    this.#disabled = true;
    this.#stopTimer();
    const file = await this.#file;
    this.#file = undefined;
    await file?.close().catch(() => {});
  }

  #stopTimer(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #tick(): void {
    // One write at a time: the first after a quiet spell blocks for the grace period.
    if (this.#writing || this.#disabled) return;
    this.#writing = true;
    void this.#write().finally(() => {
      this.#writing = false;
    });
  }

  async #write(): Promise<void> {
    this.#file ??= this.#openFile();
    const file = await this.#file;
    if (!file) return;
    try {
      await file.write(this.#pid, 0, this.#pid.length, null);
    } catch (err) {
      this.#disable(`writing ${this.#options.procsFile ?? "cgroup.procs"}: ${messageOf(err)}`);
    }
  }

  async #openFile(): Promise<FileHandle | undefined> {
    let path: string | undefined;
    try {
      path = this.#options.procsFile ?? ownCgroupProcsFile();
      // Write-only, never created: a path that is not a cgroup.procs already fails here.
      if (path) return await open(path, constants.O_WRONLY);
      this.#disable("no cgroup.procs of this process's own cgroup found");
    } catch (err) {
      this.#disable(`opening ${path ?? "cgroup.procs"}: ${messageOf(err)}`);
    }
    return undefined;
  }

  #disable(why: string): void {
    if (this.#disabled) return;
    this.#disabled = true;
    this.#stopTimer();
    void this.#file?.then((file) => file?.close().catch(() => {}));
    this.#file = undefined;
    this.#options.onDisabled?.(why);
  }
}
