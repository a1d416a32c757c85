/** Choosing the manifest for a platform from an index (containerd's platforms.Only + LimitManifests(1)). */
import { notFound } from "@sandboxd/errdefs";
import type { Descriptor, Index } from "./media-types.js";
import { formatPlatform, platformRank, type Platform } from "./platforms.js";

/** The best runnable manifest for `want`; NotFound listing what the index has otherwise. */
export function selectManifest(index: Index, want: Platform, name: string): Descriptor {
  let best: { desc: Descriptor; rank: number } | undefined;
  for (const desc of index.manifests) {
    if (!desc.platform) continue;
    const rank = platformRank(want, desc.platform);
    if (rank !== undefined && (best === undefined || rank < best.rank)) best = { desc, rank };
  }
  if (best) return best.desc;
  const have = index.manifests
    .map((d) => (d.platform ? formatPlatform(d.platform) : "no platform"))
    .join(", ");
  throw notFound(
    `${name}: no manifest for ${formatPlatform(want)} (the index has: ${have || "nothing"})`,
  );
}
