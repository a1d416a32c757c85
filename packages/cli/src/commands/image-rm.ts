import type { Parsed } from "../args.js";
import { bool } from "../args.js";
import type { Context } from "../context.js";
import { findImage } from "./image-common.js";

export async function run(ctx: Context, { flags, positionals }: Parsed): Promise<number> {
  const client = await ctx.client();
  for (const name of positionals) {
    const image = await findImage(client, name);
    await client.deleteImage(image.name, { sync: !bool(flags, "async") });
    ctx.print(image.name);
  }
  return 0;
}
