/**
 * Memory of runtime processes: PSS and RSS from /proc/PID/smaps_rollup. PSS
 * splits each shared page between the processes that map it, so the PSS of a
 * set of processes adds up to what the set really costs the machine.
 */
import { readFile, readdir } from "node:fs/promises";

export interface MemorySample {
  processes: number;
  pssKiB: number;
  rssKiB: number;
  /**
   * Private_Clean + Private_Dirty (USS): pages no other process maps. Unlike
   * PSS it does not move with how many other Node processes run on the machine.
   */
  privateKiB?: number;
}

/** Pss, Rss and private (KiB) of one process, from smaps_rollup; undefined when it is gone. */
export async function memoryOf(
  pid: number,
): Promise<{ pss: number; rss: number; private: number } | undefined> {
  const text = await readFile(`/proc/${pid}/smaps_rollup`, "utf8").catch(() => undefined);
  if (text === undefined) return undefined;
  const field = (name: string): number =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? 0);
  return {
    pss: field("Pss"),
    rss: field("Rss"),
    private: field("Private_Clean") + field("Private_Dirty"),
  };
}

/** Every process as pid and argv. */
export async function processTable(): Promise<{ pid: number; argv: string[] }[]> {
  const out: { pid: number; argv: string[] }[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
    if (cmdline === "") continue;
    out.push({
      pid: Number(entry),
      argv: cmdline.split("\0").filter((a, i) => a !== "" || i === 0),
    });
  }
  return out;
}

/** Processes whose argv[0] ends with `name` and whose command line mentions `needle`. */
export async function pidsOf(name: string, needle: string): Promise<number[]> {
  return (await processTable())
    .filter((p) => (p.argv[0] ?? "").endsWith(name) && p.argv.join("\0").includes(needle))
    .map((p) => p.pid);
}

/**
 * Node executables run through a launcher (`/bin/sh …/bin/x` execs node): a
 * process whose argv has `script` (e.g. `dist/bin/sandboxd.js`) and `needle`.
 */
export async function nodePidsOf(script: string, needle: string): Promise<number[]> {
  return (await processTable())
    .filter((p) => p.argv.some((a) => a.endsWith(script)) && p.argv.join("\0").includes(needle))
    .map((p) => p.pid);
}

export async function sample(pids: readonly number[]): Promise<MemorySample> {
  let pss = 0;
  let rss = 0;
  let priv = 0;
  let n = 0;
  for (const pid of pids) {
    const m = await memoryOf(pid);
    if (!m) continue;
    pss += m.pss;
    rss += m.rss;
    priv += m.private;
    n++;
  }
  return { processes: n, pssKiB: pss, rssKiB: rss, privateKiB: priv };
}

/** Processes started on the machine since boot (/proc/stat `processes`): forks, counted. */
export async function forksSinceBoot(): Promise<number> {
  const stat = await readFile("/proc/stat", "utf8");
  return Number(/^processes (\d+)/m.exec(stat)?.[1] ?? Number.NaN);
}
