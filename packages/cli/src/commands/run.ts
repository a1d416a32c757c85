// sbx run: image (pulled when missing), sandbox (unless --sandbox), container, task; wait;
// clean up.
import { constants } from "node:os";
import type { Container, Sandbox, Task } from "@sandboxd/client";
import type { Parsed } from "@sandboxd/core/args";
import type { runCommandFlags } from "../specs/run.js";
import { keyValues } from "@sandboxd/core/args";
import type { CallerSignal } from "../caller.js";
import type { Context } from "../context.js";
import { defaultRootfs } from "../rootfs.js";
import { imageForRun, numericUser } from "./run-image.js";
import { securitySpecOpts } from "./run-security.js";
import { containerSpecOpts, sandboxNetwork } from "./run-flags.js";
import { readEnvFile } from "./run-net.js";
import { runTarget } from "./run-target.js";
import { callerIO, followResize, forwardSignals } from "./terminal.js";

/** Signals that cancel a run whose container has not started yet. */
const earlySignals: readonly CallerSignal[] = ["SIGINT", "SIGTERM", "SIGHUP"];

export async function run(
  ctx: Context,
  { flags, positionals }: Parsed<typeof runCommandFlags>,
): Promise<number> {
  const sdk = await import("@sandboxd/client");
  const client = await ctx.client();
  const { id, image: imageRef, command } = await runTarget(client, flags, positionals);
  const detach = flags.detach;
  const tty = flags.tty && !detach;
  const runtime = flags.runtime;
  const labels = keyValues(flags.label, "label", "run");
  const given = flags.rootfs;
  // Every flag is checked before anything is pulled or made.
  const { network, portMappings } = sandboxNetwork(flags);
  const env = [
    ...flags["env-file"].flatMap((f) => readEnvFile(f, ctx.env, ctx.caller)),
    ...flags.env,
  ];
  const specOpts = [
    ...containerSpecOpts(flags),
    ...(await securitySpecOpts(flags["security-opt"], ctx.caller)),
  ];
  // Pulled when the daemon does not have it (before anything is made).
  const image =
    imageRef === undefined ? undefined : await imageForRun(ctx, client, imageRef, flags.platform);
  const rootfs = image || given ? given : await defaultRootfs(ctx.env);
  // The shared busybox rootfs must never be written to; a rootfs of one's own may be.
  const readonlyRootfs = (given === undefined && !image) || flags["read-only"];

  const undo: (() => Promise<unknown>)[] = [];
  const rollback = async (): Promise<void> => {
    for (const step of undo.reverse()) await step().catch(() => undefined);
  };
  const cleanup = { timeoutMs: 30_000 };
  // A Ctrl-C or SIGTERM while things are being made is held until they are,
  // then everything is undone and sbx exits as if killed by it.
  const early: CallerSignal[] = [];
  const stopEarly = ctx.caller.onSignals(earlySignals, (signal) => early.push(signal));
  let sandbox: Sandbox;
  let container: Container;
  let task: Task;
  let exited: Promise<{ exitStatus: number }>;
  // The FIFOs are made while the sandbox starts (a mkfifo process and the opens).
  const io = sdk.preparedIO(detach ? sdk.nullIO() : callerIO(ctx, sdk, tty, flags.interactive), id);
  undo.push(() => io.discard());
  try {
    const sandboxId = flags.sandbox;
    if (sandboxId === undefined) {
      const podSpec = sdk.defaultSpec({ id, namespace: client.namespace, hostname: id });
      delete podSpec.process;
      delete podSpec.root;
      sandbox = await client.newSandbox(id, {
        ...(runtime ? { runtime: { name: runtime } } : {}),
        sandboxer: flags.sandboxer,
        labels,
        spec: podSpec,
        network,
        portMappings,
      });
      const made = sandbox;
      undo.push(() => made.shutdown({ force: true }, cleanup));
      await sandbox.start();
    } else {
      sandbox = await client.loadSandbox(sandboxId);
    }
    const size = tty ? ctx.caller.terminalSize() : undefined;
    const hostname = flags.hostname ?? sandbox.id;
    const base = { labels, ...(runtime ? { runtime: { name: runtime } } : {}) };
    if (image) {
      // The spec comes from the image config; the rootfs is a snapshot of the image.
      container = await sandbox.newContainer(id, {
        ...base,
        image,
        process: {
          args: command,
          ...(flags.entrypoint === undefined
            ? {}
            : { entrypoint: flags.entrypoint === "" ? [] : [flags.entrypoint] }),
          env,
          cwd: flags.cwd,
          user: flags.user,
          terminal: tty,
          hostname,
          readonlyRootfs,
          consoleSize: size,
          specOpts,
        },
      });
    } else {
      const spec = sdk.defaultSpec({
        id,
        namespace: client.namespace,
        args: flags.entrypoint ? [flags.entrypoint, ...command] : command.length ? command : ["sh"],
        env,
        cwd: flags.cwd ?? "/",
        terminal: tty,
        rootfs,
        readonlyRootfs,
        hostname,
      });
      if (size && spec.process) spec.process.consoleSize = size;
      if (flags.user !== undefined && spec.process) {
        spec.process.user = numericUser(flags.user);
      }
      sdk.applySpecOpts(spec, specOpts);
      container = await sandbox.newContainer(id, { ...base, spec });
    }
    const made = container;
    undo.push(() => made.delete({ force: true }, cleanup));
    task = await container.newTask({ io });
    const madeTask = task;
    // Kills it, deletes it and removes its FIFOs.
    undo.push(() => madeTask.delete({ force: true }, cleanup));
    exited = detach ? Promise.resolve({ exitStatus: 0 }) : task.wait();
    // Seen below, or moot after a rollback (which ends the wait).
    exited.catch(() => undefined);
    await task.start();
  } catch (err) {
    await rollback();
    stopEarly();
    throw err;
  }
  if (early[0] !== undefined) {
    await rollback();
    stopEarly();
    return 128 + constants.signals[early[0]];
  }

  if (detach) {
    stopEarly();
    ctx.print(id);
    return 0;
  }
  const restoreTerminal = tty ? ctx.caller.rawTerminal() : () => undefined;
  const stopResize = tty ? followResize(ctx.caller, (w, h) => task.resize(w, h)) : () => undefined;
  // Held until the clean-up below is done too: a Ctrl-C or SIGTERM that comes
  // after the exit must not kill sbx halfway through removing things.
  const stopSignals = forwardSignals(ctx.caller, ctx.stderr, (signal) => task.kill(signal));
  stopEarly();
  try {
    let status: number;
    try {
      status = (await exited).exitStatus;
    } finally {
      stopResize();
      restoreTerminal();
    }
    await task.delete({}, cleanup);
    if (flags.rm) {
      await container.delete({}, cleanup);
      if (flags.sandbox === undefined) await sandbox.shutdown({}, cleanup);
    }
    return status > 255 ? 255 : status;
  } finally {
    stopSignals();
  }
}
