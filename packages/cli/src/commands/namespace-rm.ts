import type { Parsed } from "@sandboxd/core/args";
import type { namespaceRmFlags } from "../specs/namespace.js";
import type { Context } from "../context.js";
import { forEach } from "./common.js";

export async function run(
  ctx: Context,
  { positionals }: Parsed<typeof namespaceRmFlags>,
): Promise<number> {
  const client = await ctx.client();
  return forEach(ctx, positionals, async (name) => {
    await client.namespaces.delete(name);
    ctx.print(name);
  });
}
