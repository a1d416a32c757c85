import type { Parsed } from "@sandboxd/core/args";
import type { imageRmFlags } from "../specs/image.js";
import type { Context } from "../context.js";
import { findImage } from "./image-common.js";

export async function run(
  ctx: Context,
  { flags, positionals }: Parsed<typeof imageRmFlags>,
): Promise<number> {
  const client = await ctx.client();
  for (const name of positionals) {
    const image = await findImage(client, name);
    await client.deleteImage(image.name, { sync: !flags.async });
    ctx.print(image.name);
  }
  return 0;
}
