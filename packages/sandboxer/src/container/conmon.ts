/**
 * Starting a container or an exec under conmon (Debian's 2.1.6), the monitor
 * that owns each container process so that it outlives the sandboxer:
 *
 * - conmon double-forks (no --sync): the process we spawn exits at once, the
 *   monitor is reparented away from us and writes its pid to `-P`.
 * - `-l passthrough`: conmon hands its own stdio (our FIFO descriptors) straight
 *   to runc and the container; no copying, and conmon holds no pipes.
 * - `_OCI_SYNCPIPE=3` (API version 1): conmon writes `{"data": <pid>}` once
 *   runc has created the process, and for an exec `{"data": <exit code>}` when
 *   it exits. With passthrough, a failed runc leaves no message there (its
 *   stderr is the container's), so the error is taken from runc's --log file.
 * - `--persist-dir DIR`: conmon writes DIR/exit (atomically) with the exit code
 *   (128+signal for a signal) and touches DIR/oom on an OOM kill.
 */
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import type { Socket } from "node:net";
import { join } from "node:path";
import { spawnChild, type Ctx } from "@sandboxd/core";
import { unknown as unknownError } from "@sandboxd/errdefs";
import { lastRuncLogError } from "./runc.js";

export interface ConmonSpawn {
  conmon: string;
  runc: string;
  runcRoot: string;
  /** runc's container id. */
  cid: string;
  /** Persist dir and cwd: conmon.pid, pid, exit, oom, runc.log land here. */
  dir: string;
  /** create: the bundle; exec: omit and pass `processSpec`. */
  bundle?: string | undefined;
  processSpec?: string | undefined;
  /** conmon's stdio, passed through to the container (/dev/null with a terminal). */
  stdio: [number, number, number];
  /** Descriptors conmon keeps open until the process exits (it closes extra fds only then). */
  hold?: number[] | undefined;
  /** A terminal: conmon gets the pty and logs its output; see terminal.ts. */
  terminal?: { cuuid: string; log: string; socketDir: string; controlDir: string } | undefined;
  timeoutMs?: number | undefined;
}

export interface ConmonStarted {
  /** The container (or exec) process. */
  pid: number;
  /** The long-lived conmon. */
  conmonPid: number;
  /** Exec only: the exit code conmon reports on the sync pipe (undefined if it closed first). */
  syncExit: Promise<number | undefined>;
}

export function conmonArgs(o: ConmonSpawn): string[] {
  const args = [
    "--api-version",
    "1",
    "-c",
    o.cid,
    "-u",
    o.terminal?.cuuid ?? o.cid,
    "-r",
    o.runc,
    `--runtime-arg=--root`,
    `--runtime-arg=${o.runcRoot}`,
    `--runtime-arg=--log`,
    `--runtime-arg=${join(o.dir, "runc.log")}`,
    `--runtime-arg=--log-format`,
    `--runtime-arg=json`,
    "-p",
    join(o.dir, "pid"),
    "-P",
    join(o.dir, "conmon.pid"),
    "--persist-dir",
    o.dir,
    "-l",
    o.terminal ? `k8s-file:${o.terminal.log}` : "passthrough",
    "--log-level",
    "error",
  ];
  if (o.terminal) args.push("-t", "--socket-dir-path", o.terminal.socketDir);
  if (o.processSpec !== undefined) {
    args.push("-e", "--exec-process-spec", o.processSpec);
    // With a terminal, -b is where conmon puts the attach socket and ctl FIFO of the exec.
    if (o.terminal) args.push("-b", o.terminal.controlDir);
  } else if (o.bundle !== undefined) args.push("-b", o.bundle);
  return args;
}

/** Spawns conmon and resolves once runc created the process (or rejects with runc's error). */
export async function startConmon(ctx: Ctx, o: ConmonSpawn): Promise<ConmonStarted> {
  const { sync, spawned } = await spawnConmon(o);
  const messages = readSyncMessages(sync);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(unknownError(`conmon for ${o.cid}: no answer within ${o.timeoutMs ?? 30_000} ms`)),
      o.timeoutMs ?? 30_000,
    );
  });
  const onAbort = (): void => {
    sync.destroy();
  };
  ctx.signal.addEventListener("abort", onAbort, { once: true });
  try {
    const code = await Promise.race([spawned, timeout]);
    if (code !== 0) {
      sync.destroy();
      throw unknownError(
        `conmon for ${o.cid}: exited with status ${code} before starting the container`,
      );
    }
    const first = await Promise.race([messages.next(), timeout]);
    const conmonPid = Number(
      (await readFile(join(o.dir, "conmon.pid"), "utf8").catch(() => "0")).trim(),
    );
    if (first === undefined || first.data < 0) {
      sync.destroy();
      const log = await readFile(join(o.dir, "runc.log"), "utf8").catch(() => "");
      const why =
        first?.message?.trim() || lastRuncLogError(log) || "runc failed without a message";
      throw unknownError(`runc ${o.processSpec ? "exec" : "create"} ${o.cid}: ${why}`);
    }
    const syncExit =
      o.processSpec !== undefined
        ? messages.next().then((m) => m?.data)
        : Promise.resolve(undefined).finally(() => sync.destroy());
    return { pid: first.data, conmonPid, syncExit };
  } finally {
    clearTimeout(timer);
    ctx.signal.removeEventListener("abort", onAbort);
  }
}

/**
 * conmon with its sync pipe as fd 3 and the held fds after it: posix_spawn'ed
 * (the daemon is not copied), or forked by Node where koffi does not load.
 * `spawned` resolves conmon's exit status (it double-forks, so at once).
 */
async function spawnConmon(o: ConmonSpawn): Promise<{ sync: Socket; spawned: Promise<number> }> {
  const env = { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin", _OCI_SYNCPIPE: "3" };
  const status = (code: number | null, signal: NodeJS.Signals | null): number =>
    code ?? (signal ? 128 : 1);
  let child: Awaited<ReturnType<typeof spawnChild>>;
  try {
    child = await spawnChild(o.conmon, conmonArgs(o), {
      stdio: [...o.stdio, "pipe", ...(o.hold ?? [])],
      env,
      cwd: o.dir,
      detached: true,
      ref: false,
    });
  } catch (err) {
    throw unknownError(`start conmon ${o.conmon}`, { cause: err });
  }
  if (child) {
    const sync = child.stdio[3];
    if (!sync) throw new TypeError("conmon: no sync pipe");
    return { sync, spawned: child.exited.then((e) => status(e.code, e.signal)) };
  }
  const forked = spawn(o.conmon, conmonArgs(o), {
    stdio: [o.stdio[0], o.stdio[1], o.stdio[2], "pipe", ...(o.hold ?? [])],
    env,
    cwd: o.dir,
    detached: true,
  });
  const sync = forked.stdio[3] as Socket;
  const spawned = new Promise<number>((resolve, reject) => {
    forked.once("error", (err) => reject(unknownError(`start conmon ${o.conmon}`, { cause: err })));
    forked.once("exit", (code, signal) => resolve(status(code, signal)));
  });
  forked.unref();
  return { sync, spawned };
}

interface SyncMessage {
  data: number;
  message?: string;
}

/** Newline-delimited JSON from the sync pipe; next() resolves undefined at EOF. */
export function readSyncMessages(socket: Socket): { next(): Promise<SyncMessage | undefined> } {
  let buffer = "";
  const queue: SyncMessage[] = [];
  const waiters: ((m: SyncMessage | undefined) => void)[] = [];
  let ended = false;
  const deliver = (): void => {
    while (waiters.length && (queue.length || ended)) waiters.shift()?.(queue.shift());
  };
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => {
    buffer += chunk;
    let nl: number;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, nl).trim();
      buffer = buffer.slice(nl + 1);
      if (!line) continue;
      try {
        const parsed = JSON.parse(line) as Record<string, unknown>;
        const value = parsed.data ?? parsed.pid ?? parsed.exit_code;
        if (typeof value === "number") {
          queue.push({
            data: value,
            ...(typeof parsed.message === "string" ? { message: parsed.message } : {}),
          });
        }
      } catch {
        // not a sync message
      }
    }
    deliver();
  });
  const end = (): void => {
    ended = true;
    deliver();
  };
  socket.once("end", end);
  socket.once("close", end);
  socket.once("error", end);
  return {
    next: () =>
      new Promise((resolve) => {
        waiters.push(resolve);
        deliver();
      }),
  };
}
