import type { Parsed } from "@sandboxd/core/args";
import type { imageInspectFlags } from "../specs/image.js";
import type { Context } from "../context.js";
import { findImage } from "./image-common.js";

export async function run(
  ctx: Context,
  { positionals }: Parsed<typeof imageInspectFlags>,
): Promise<number> {
  const client = await ctx.client();
  const out = [];
  for (const name of positionals) out.push(await findImage(client, name));
  ctx.printJson(out.length === 1 ? out[0] : out);
  return 0;
}
