import type { Parsed } from "@sandboxd/core/args";
import type { sandboxPauseFlags } from "../specs/sandbox.js";
import type { Context } from "../context.js";
import { forEach } from "./common.js";

export async function run(
  ctx: Context,
  { positionals }: Parsed<typeof sandboxPauseFlags>,
): Promise<number> {
  const client = await ctx.client();
  return forEach(ctx, positionals, async (id) => {
    await (await client.loadSandbox(id)).pause();
    ctx.print(id);
  });
}
