import { randomUUID } from "node:crypto";
import type { Parsed } from "@sandboxd/core/args";
import type { taskExecFlags } from "../specs/task.js";
import type { Context } from "../context.js";
import { callerIO, followResize, forwardSignals } from "./terminal.js";

export async function run(
  ctx: Context,
  { flags, positionals }: Parsed<typeof taskExecFlags>,
): Promise<number> {
  const [id, ...command] = positionals as [string, ...string[]];
  const sdk = await import("@sandboxd/client");
  const client = await ctx.client();
  const detach = flags.detach;
  const tty = flags.tty && !detach;
  const execId = flags["exec-id"] ?? `exec-${randomUUID().slice(0, 8)}`;
  const container = await client.loadContainer(id);
  const task = await container.task();
  const spec = sdk.execProcess(await container.spec(), {
    args: command,
    env: flags.env,
    ...(flags.cwd !== undefined ? { cwd: flags.cwd } : {}),
    terminal: tty,
  });
  const io = detach ? sdk.nullIO() : callerIO(ctx, sdk, tty, flags.interactive);
  const proc = await task.exec(execId, spec, { io });
  const exited = detach ? undefined : proc.wait();
  exited?.catch(() => undefined);
  try {
    await proc.start();
  } catch (err) {
    await proc.delete({ timeoutMs: 10_000 }).catch(() => undefined);
    throw err;
  }
  if (!exited) {
    ctx.print(execId);
    return 0;
  }
  const restoreTerminal = tty ? ctx.caller.rawTerminal() : () => undefined;
  const stopResize = tty ? followResize(ctx.caller, (w, h) => proc.resize(w, h)) : () => undefined;
  const stopSignals = forwardSignals(ctx.caller, ctx.stderr, (signal) => proc.kill(signal));
  let status: number;
  try {
    status = (await exited).exitStatus;
  } finally {
    stopSignals();
    stopResize();
    restoreTerminal();
  }
  await proc.delete({ timeoutMs: 30_000 });
  return status > 255 ? 255 : status;
}
