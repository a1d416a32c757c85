import type { Parsed } from "@sandboxd/core/args";
import type { sandboxStopFlags } from "../specs/sandbox.js";
import { UsageError } from "@sandboxd/core/args";
import type { Context } from "../context.js";
import { forEach } from "./common.js";

export async function run(
  ctx: Context,
  { flags, positionals }: Parsed<typeof sandboxStopFlags>,
): Promise<number> {
  const timeout = flags.timeout ?? "10";
  if (!/^\d+$/.test(timeout)) {
    throw new UsageError(
      `flag --timeout must be a number of seconds, not ${JSON.stringify(timeout)}`,
      "sandbox stop",
    );
  }
  const client = await ctx.client();
  return forEach(ctx, positionals, async (id) => {
    const sandbox = await client.loadSandbox(id);
    await sandbox.stop({ timeoutMs: Number(timeout) * 1000 });
    ctx.print(id);
  });
}
