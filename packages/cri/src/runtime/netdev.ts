/**
 * Network counters of a pod, read in its network namespace: /proc/<pid>/net/dev
 * of one of its container processes when one is in that netns (checked by the
 * namespace inode, so a reused pid is never read), else /proc/net/dev of a
 * process entered into the pinned netns (nsenter), since Node cannot setns.
 * Loopback is left out, as containerd does.
 */
import { readFile, stat } from "node:fs/promises";
import type { Ctx } from "@sandboxd/core";
import { run } from "@sandboxd/core";
import { unavailable } from "@sandboxd/errdefs";

export interface InterfaceCounters {
  name: string;
  rxBytes: bigint;
  rxPackets: bigint;
  rxErrors: bigint;
  rxDropped: bigint;
  txBytes: bigint;
  txPackets: bigint;
  txErrors: bigint;
  txDropped: bigint;
}

/** Parses /proc/net/dev (two header lines, then `name: 8 receive and 8 transmit counters`). */
export function parseNetDev(text: string): InterfaceCounters[] {
  const out: InterfaceCounters[] = [];
  for (const line of text.split("\n").slice(2)) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    const f = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .map((v) => BigInt(v));
    if (f.length < 16 || name === "lo") continue;
    out.push({
      name,
      rxBytes: f[0]!,
      rxPackets: f[1]!,
      rxErrors: f[2]!,
      rxDropped: f[3]!,
      txBytes: f[8]!,
      txPackets: f[9]!,
      txErrors: f[10]!,
      txDropped: f[11]!,
    });
  }
  return out;
}

/** Whether /proc/<pid>/ns/net is the namespace pinned at `netns`. */
async function inNetns(pid: number, netns: string): Promise<boolean> {
  try {
    const [a, b] = await Promise.all([stat(`/proc/${pid}/ns/net`), stat(netns)]);
    return a.ino === b.ino && a.dev === b.dev;
  } catch {
    return false;
  }
}

export async function netnsCounters(
  ctx: Ctx,
  netns: string,
  pids: readonly number[] = [],
): Promise<InterfaceCounters[]> {
  for (const pid of pids) {
    if (pid <= 0 || !(await inNetns(pid, netns))) continue;
    const text = await readFile(`/proc/${pid}/net/dev`, "utf8").catch(() => undefined);
    // The process may have exited between the check and the read: then the next, or nsenter.
    if (text !== undefined && (await inNetns(pid, netns))) return parseNetDev(text);
  }
  const r = await run(ctx, "nsenter", [`--net=${netns}`, "cat", "/proc/net/dev"], {
    timeoutMs: 30_000,
  });
  if (r.code !== 0)
    throw unavailable(`network stats of netns ${netns}: ${r.stderr.trim() || `exit ${r.code}`}`);
  return parseNetDev(r.stdout);
}
