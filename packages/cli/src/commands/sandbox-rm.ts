import type { Parsed } from "@sandboxd/core/args";
import type { sandboxRmFlags } from "../specs/sandbox.js";
import type { Context } from "../context.js";
import { forEach } from "./common.js";

export async function run(
  ctx: Context,
  { flags, positionals }: Parsed<typeof sandboxRmFlags>,
): Promise<number> {
  const client = await ctx.client();
  const force = flags.force;
  return forEach(ctx, positionals, async (id) => {
    const sandbox = await client.loadSandbox(id);
    await sandbox.shutdown({ force });
    ctx.print(id);
  });
}
