import type { Parsed } from "@sandboxd/core/args";
import type { taskLsFlags } from "../specs/task.js";
import type { Context } from "../context.js";
import { iso, table } from "../output.js";

export async function run(ctx: Context, { flags }: Parsed<typeof taskLsFlags>): Promise<number> {
  const client = await ctx.client();
  const tasks = await client.tasks();
  if (flags.quiet) {
    for (const t of tasks) ctx.print(t.containerId);
    return 0;
  }
  if (ctx.globals.output === "json") {
    ctx.printJson(
      tasks.map((t) => ({
        id: t.containerId,
        pid: t.pid,
        status: t.status,
        exitStatus: t.status === "stopped" ? t.exitStatus : null,
        exitedAt: iso(t.exitedAt),
        terminal: t.terminal,
      })),
    );
    return 0;
  }
  ctx.stdout.write(
    table(
      ["TASK", "PID", "STATUS"],
      tasks.map((t) => [
        t.containerId,
        String(t.pid),
        t.status === "stopped" ? `stopped (exit ${t.exitStatus})` : t.status,
      ]),
    ),
  );
  return 0;
}
