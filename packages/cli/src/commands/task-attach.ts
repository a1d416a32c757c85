import type { Parsed } from "@sandboxd/core/args";
import type { taskAttachFlags } from "../specs/task.js";
import type { Context } from "../context.js";
import { followResize, forwardSignals } from "./terminal.js";

export async function run(
  ctx: Context,
  { positionals }: Parsed<typeof taskAttachFlags>,
): Promise<number> {
  const client = await ctx.client();
  const container = await client.loadContainer(positionals[0]!);
  const task = await container.task({
    attach: { stdin: ctx.caller.stdin, stdout: ctx.stdout, stderr: ctx.stderr },
  });
  const tty = task.io?.config.terminal ?? false;
  const restoreTerminal = tty ? ctx.caller.rawTerminal() : () => undefined;
  const stopResize = tty ? followResize(ctx.caller, (w, h) => task.resize(w, h)) : () => undefined;
  const stopSignals = forwardSignals(ctx.caller, ctx.stderr, (signal) => task.kill(signal));
  try {
    const { exitStatus } = await task.wait();
    return exitStatus > 255 ? 255 : exitStatus;
  } finally {
    stopSignals();
    stopResize();
    restoreTerminal();
    await task.io?.close();
  }
}
