import type { Parsed } from "../args.js";
import type { Context } from "../context.js";
import { printMetrics } from "./metrics-format.js";

export async function run(ctx: Context, { positionals }: Parsed): Promise<number> {
  const client = await ctx.client();
  const sandbox = await client.loadSandbox(positionals[0]!);
  printMetrics(ctx, await sandbox.metrics());
  return 0;
}
