import type { Parsed } from "@sandboxd/core/args";
import type { imageTagFlags } from "../specs/image.js";
import type { Context } from "../context.js";
import { findImage, fullImageName } from "./image-common.js";

export async function run(
  ctx: Context,
  { positionals }: Parsed<typeof imageTagFlags>,
): Promise<number> {
  const [source = "", target = ""] = positionals;
  const client = await ctx.client();
  const image = await findImage(client, source);
  const tagged = await client.tagImage(image.name, fullImageName(target));
  ctx.print(tagged.name);
  return 0;
}
