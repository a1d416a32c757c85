// `sbx image prune [--all]`, as nerdctl's: without --all, the dangling images (names with
// no tag: pulled by digest, `repo@sha256:…`); with --all, every image no container of the
// namespace was made from. An image a container uses is never removed.
import type { Parsed } from "@sandboxd/core/args";
import type { imagePruneFlags } from "../specs/image.js";
import type { Context } from "../context.js";

/** Whether a full image name has no tag (only a digest). */
export function isDangling(name: string): boolean {
  const at = name.indexOf("@");
  const repo = at < 0 ? name : name.slice(0, at);
  return repo.lastIndexOf(":") <= repo.lastIndexOf("/");
}

export async function run(
  ctx: Context,
  { flags }: Parsed<typeof imagePruneFlags>,
): Promise<number> {
  const client = await ctx.client();
  const used = new Set((await client.containers()).map((c) => c.info.image).filter(Boolean));
  const images = await client.listImages();
  const doomed = images
    .map((i) => i.name)
    .filter((name) => !used.has(name) && (flags.all || isDangling(name)));
  for (const [i, name] of doomed.entries()) {
    // One collection at the end frees what they all held.
    await client.deleteImage(name, { sync: i === doomed.length - 1 });
    if (ctx.globals.output !== "json") ctx.print(name);
  }
  if (ctx.globals.output === "json") ctx.printJson({ removed: doomed });
  return 0;
}
