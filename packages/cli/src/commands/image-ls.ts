import type { Parsed } from "@sandboxd/core/args";
import type { imageLsFlags } from "../specs/image.js";
import type { Context } from "../context.js";
import { ago, bytes, table } from "../output.js";

export async function run(ctx: Context, { flags }: Parsed<typeof imageLsFlags>): Promise<number> {
  const client = await ctx.client();
  const images = await client.listImages(flags.filter);
  if (flags.quiet) {
    for (const i of images) ctx.print(i.name);
  } else if (ctx.globals.output === "json") {
    ctx.printJson(images);
  } else {
    ctx.stdout.write(
      table(
        ["NAME", "DIGEST", "SIZE", "CREATED"],
        images.map((i) => [
          i.name,
          i.target.digest.slice(0, 19),
          bytes(i.target.size),
          ago(i.createdAt),
        ]),
      ),
    );
  }
  return 0;
}
