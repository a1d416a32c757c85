import type { Parsed } from "../args.js";
import type { Context } from "../context.js";
import { forEach } from "./common.js";

export async function run(ctx: Context, { positionals }: Parsed): Promise<number> {
  const client = await ctx.client();
  return forEach(ctx, positionals, async (id) => {
    await (await client.loadSandbox(id)).pause();
    ctx.print(id);
  });
}
