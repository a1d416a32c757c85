/**
 * Starting a process under conmon with the client's stdio, as the init of a
 * container (runc create) and every exec (runc exec) do alike: FIFOs or a
 * terminal, the stdin pump, the terminal's output tail and input bridge, and
 * the pids recorded on the Proc. What differs is only what conmon runs.
 */
import { constants, openSync } from "node:fs";
import type { Ctx } from "@sandboxd/core";
import type { Config } from "../config/config.js";
import { ensureDir } from "../state/atomic.js";
import type { Stdio } from "../state/records.js";
import { startConmon, type ConmonStarted } from "./conmon.js";
import { StdinPump, closeQuietly, openStdio } from "./io.js";
import type { Proc } from "./process.js";
import { TerminalOutput, startInputBridge, type TerminalPaths } from "./terminal.js";

export interface LaunchParams {
  binaries: Config["binaries"];
  runcRoot: string;
  /** runc's container id. */
  cid: string;
  /** The client's stdio, as recorded. */
  stdio: Stdio;
  /** Where conmon keeps this process's terminal, when it has one. */
  tty: TerminalPaths | undefined;
  /** What conmon runs: the init from the bundle, or an exec's process.json. */
  run: { bundle: string } | { processSpec: string };
  /** The directory of conmon's terminal control FIFO. */
  controlDir: string;
}

/**
 * Starts `proc`'s process; on failure, what was opened here is closed again
 * (and `proc` with it) before the error is thrown.
 */
export async function launch(ctx: Ctx, proc: Proc, p: LaunchParams): Promise<ConmonStarted> {
  const { tty, stdio } = p;
  if (tty) await ensureDir(tty.socketDir);
  // With a terminal conmon owns the process's stdio (the pty); ours is /dev/null.
  // conmon keeps the client's terminal output open across our restarts (see terminal.ts).
  const outputHold = tty && stdio.stdout ? [openSync(stdio.stdout, constants.O_RDWR)] : undefined;
  const io = await openStdio(
    tty ? { stdin: "", stdout: "", stderr: "", terminal: true } : stdio,
    proc.dir,
  );
  try {
    const started = await startConmon(ctx, {
      conmon: p.binaries.conmon,
      runc: p.binaries.runc,
      runcRoot: p.runcRoot,
      cid: p.cid,
      dir: proc.dir,
      ...p.run,
      stdio: io.stdio,
      hold: outputHold,
      terminal: tty && {
        cuuid: tty.cuuid,
        log: tty.log,
        socketDir: tty.socketDir,
        controlDir: p.controlDir,
      },
    });
    proc.state.pid = started.pid;
    proc.state.conmonPid = started.conmonPid;
    if (io.stdinPump) proc.stdin = new StdinPump(io.stdinPump);
    if (tty) {
      proc.terminal = new TerminalOutput(tty, stdio.stdout, { base: 0, skip: 0 });
      proc.terminal.start(proc.dir);
      if (stdio.stdin) {
        proc.state.ttyInputPid = await startInputBridge(p.binaries.socat, stdio.stdin, tty.attach);
      }
    }
    return started;
  } catch (err) {
    io.closeAll();
    proc.close();
    throw err;
  } finally {
    io.closeChildFds();
    for (const fd of outputHold ?? []) closeQuietly(fd);
  }
}
