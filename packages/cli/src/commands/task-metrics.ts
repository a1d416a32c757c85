import type { Parsed } from "@sandboxd/core/args";
import type { taskMetricsFlags } from "../specs/task.js";
import type { Context } from "../context.js";
import { printMetrics } from "./metrics-format.js";

export async function run(
  ctx: Context,
  { positionals }: Parsed<typeof taskMetricsFlags>,
): Promise<number> {
  const client = await ctx.client();
  const task = await (await client.loadContainer(positionals[0]!)).task();
  printMetrics(ctx, await task.metrics());
  return 0;
}
