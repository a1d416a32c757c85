import type { Parsed } from "@sandboxd/core/args";
import type { taskPsFlags } from "../specs/task.js";
import type { Context } from "../context.js";
import { table } from "../output.js";

export async function run(
  ctx: Context,
  { positionals }: Parsed<typeof taskPsFlags>,
): Promise<number> {
  const client = await ctx.client();
  const task = await (await client.loadContainer(positionals[0]!)).task();
  const pids = await task.pids();
  if (ctx.globals.output === "json") {
    ctx.printJson(pids.map((p) => ({ pid: p.pid, execId: p.execId ?? null })));
    return 0;
  }
  ctx.stdout.write(
    table(
      ["PID", "EXEC"],
      pids.map((p) => [String(p.pid), p.execId ?? "-"]),
    ),
  );
  return 0;
}
