/**
 * Network counters of a pod, read in its network namespace: /proc/net/dev of
 * a process entered into the pinned netns (nsenter), since Node cannot setns.
 * Loopback is left out, as containerd does.
 */
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

export async function netnsCounters(ctx: Ctx, netns: string): Promise<InterfaceCounters[]> {
  const r = await run(ctx, "nsenter", [`--net=${netns}`, "cat", "/proc/net/dev"], {
    timeoutMs: 30_000,
  });
  if (r.code !== 0)
    throw unavailable(`network stats of netns ${netns}: ${r.stderr.trim() || `exit ${r.code}`}`);
  return parseNetDev(r.stdout);
}
