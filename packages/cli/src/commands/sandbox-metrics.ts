import type { Parsed } from "@sandboxd/core/args";
import type { sandboxMetricsFlags } from "../specs/sandbox.js";
import type { Context } from "../context.js";
import { printMetrics } from "./metrics-format.js";

export async function run(
  ctx: Context,
  { positionals }: Parsed<typeof sandboxMetricsFlags>,
): Promise<number> {
  const client = await ctx.client();
  const sandbox = await client.loadSandbox(positionals[0]!);
  printMetrics(ctx, await sandbox.metrics());
  return 0;
}
