import { isNotFound } from "@sandboxd/errdefs";
import type { Parsed } from "@sandboxd/core/args";
import type { containerRmFlags } from "../specs/container.js";
import type { Context } from "../context.js";
import { forEach } from "./common.js";

export async function run(
  ctx: Context,
  { flags, positionals }: Parsed<typeof containerRmFlags>,
): Promise<number> {
  const client = await ctx.client();
  const force = flags.force;
  return forEach(ctx, positionals, async (id) => {
    const container = await client.loadContainer(id);
    if (!force) {
      // A stopped task is removed with its container (as ctr does); a running one is refused.
      try {
        const task = await container.task();
        const { status } = await task.status();
        if (status === "stopped" || status === "unknown") await task.delete();
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    await container.delete({ force });
    ctx.print(id);
  });
}
