import type { Parsed } from "@sandboxd/core/args";
import type { taskKillFlags } from "../specs/task.js";
import { UsageError } from "@sandboxd/core/args";
import type { Context } from "../context.js";
import { forEach } from "./common.js";

export async function run(
  ctx: Context,
  { flags, positionals }: Parsed<typeof taskKillFlags>,
): Promise<number> {
  const { signalNumber } = await import("@sandboxd/client");
  const raw = flags.signal ?? "SIGTERM";
  let signal: number;
  try {
    signal = signalNumber(/^\d+$/.test(raw) ? Number(raw) : (raw as NodeJS.Signals));
  } catch {
    throw new UsageError(
      `flag --signal: unknown signal ${JSON.stringify(raw)} (try TERM, KILL, HUP or a number)`,
      "task kill",
    );
  }
  const execId = flags["exec-id"];
  const client = await ctx.client();
  return forEach(ctx, positionals, async (id) => {
    const task = await (await client.loadContainer(id)).task();
    const target = execId ? task.loadProcess(execId) : task;
    await target.kill(signal, { all: flags.all });
  });
}
