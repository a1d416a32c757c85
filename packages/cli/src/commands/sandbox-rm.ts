import type { Parsed } from "../args.js";
import { bool } from "../args.js";
import type { Context } from "../context.js";
import { forEach } from "./common.js";

export async function run(ctx: Context, { flags, positionals }: Parsed): Promise<number> {
  const client = await ctx.client();
  const force = bool(flags, "force");
  return forEach(ctx, positionals, async (id) => {
    const sandbox = await client.loadSandbox(id);
    await sandbox.shutdown({ force });
    ctx.print(id);
  });
}
