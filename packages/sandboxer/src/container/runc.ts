/**
 * runc, one command per operation, with the sandboxer's --root for the
 * container's namespace. Errors carry runc's own message (from stderr, or its
 * JSON log) and name the operation and the container.
 */
import type { Ctx } from "@sandboxd/core";
import { failedPrecondition, notFound, unknown as unknownError } from "@sandboxd/errdefs";
import { run } from "@sandboxd/core";
import { join } from "node:path";
import { helperTimeoutMs } from "../util/time.js";
import { removeStoppedContainer } from "./runc-state.js";

export interface RuncState {
  id: string;
  pid: number;
  /** creating, created, running, paused or stopped. */
  status: string;
  bundle: string;
}

export class Runc {
  readonly binary: string;
  readonly root: string;
  /** sbx-start (native/start.c); "": `runc start` (the daemon empties it when missing). */
  readonly startHelper: string;

  constructor(binary: string, root: string, startHelper = "") {
    this.binary = binary;
    this.root = root;
    this.startHelper = startHelper;
  }

  async #run(ctx: Ctx, args: string[], input?: string): Promise<string> {
    const r = await run(ctx, this.binary, ["--root", this.root, ...args], {
      input,
      timeoutMs: helperTimeoutMs,
    });
    if (r.code !== 0) throw runcError(args, r.stderr || r.stdout);
    return r.stdout;
  }

  /**
   * What `runc start` does (open the init's exec FIFO, read until the init execs, remove
   * the FIFO), by sbx-start where it is built, ~5 ms less than runc's Go start-up; else by
   * runc. Either way a process of its own: reading the FIFO in this process was tried and
   * reverted, because a kill -9 of the sandboxer between opening the FIFO and the init's
   * write took the reader away and the init died on EPIPE (the kill -9 fault test caught
   * it); a process of its own outlives the sandboxer and finishes the start.
   */
  async start(ctx: Ctx, id: string, initPid: number): Promise<void> {
    if (initPid > 0 && this.startHelper) {
      const fifo = join(this.root, id, "exec.fifo");
      const r = await run(ctx, this.startHelper, [fifo, String(initPid)], {
        timeoutMs: helperTimeoutMs,
      });
      if (r.code !== 0) throw runcError(["start", id], r.stderr || r.stdout);
      return;
    }
    await this.#run(ctx, ["start", id]);
  }

  async kill(ctx: Ctx, id: string, signal: number, all = false): Promise<void> {
    await this.#run(ctx, ["kill", ...(all ? ["--all"] : []), id, String(signal)]);
  }

  async delete(ctx: Ctx, id: string, force = false): Promise<void> {
    try {
      await this.#run(ctx, ["delete", ...(force ? ["--force"] : []), id]);
    } catch (err) {
      if (isRuncNotExist(err)) return;
      throw err;
    }
  }

  /** Removes a container whose processes are gone: by hand when runc has nothing else to do. */
  async removeStopped(ctx: Ctx, id: string): Promise<void> {
    if (await removeStoppedContainer(this.root, id)) return;
    await this.delete(ctx, id, true);
  }

  async state(ctx: Ctx, id: string): Promise<RuncState | undefined> {
    try {
      return JSON.parse(await this.#run(ctx, ["state", id])) as RuncState;
    } catch (err) {
      if (isRuncNotExist(err)) return undefined;
      throw err;
    }
  }

  async pause(ctx: Ctx, id: string): Promise<void> {
    await this.#run(ctx, ["pause", id]);
  }

  async resume(ctx: Ctx, id: string): Promise<void> {
    await this.#run(ctx, ["resume", id]);
  }

  async ps(ctx: Ctx, id: string): Promise<number[]> {
    const out = await this.#run(ctx, ["ps", "--format", "json", id]);
    const pids = JSON.parse(out || "[]") as number[] | null;
    return pids ?? [];
  }

  /** `runc update --resources -` with the OCI LinuxResources JSON on stdin. */
  async update(ctx: Ctx, id: string, resources: unknown): Promise<void> {
    await this.#run(ctx, ["update", "--resources", "-", id], JSON.stringify(resources));
  }
}

const notExist = /does not exist|not exist|container not found/i;

function isRuncNotExist(err: unknown): boolean {
  return err instanceof Error && notExist.test(err.message);
}

/** runc's message, without logrus decoration, as a typed error. */
export function runcError(args: readonly string[], output: string): Error {
  const message = cleanRuncMessage(output);
  const what = `runc ${args[0] ?? ""} ${args[args.length - 1] ?? ""}`.trim();
  if (notExist.test(message)) return notFound(`${what}: ${message}`);
  if (/not running|is paused|is not paused|cannot .* a (stopped|paused)/i.test(message)) {
    return failedPrecondition(`${what}: ${message}`);
  }
  return unknownError(`${what}: ${message}`);
}

export function cleanRuncMessage(output: string): string {
  const lines = output
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  const last = lines[lines.length - 1] ?? "";
  const logrus = /msg="((?:[^"\\]|\\.)*)"/.exec(last);
  if (logrus?.[1] !== undefined) return logrus[1].replace(/\\"/g, '"');
  return last.replace(/^time=\S+ level=\S+ /, "");
}

/** The last error in runc's --log file (JSON lines), for failures conmon cannot relay. */
export function lastRuncLogError(log: string): string | undefined {
  let found: string | undefined;
  for (const line of log.split("\n")) {
    if (!line.trim()) continue;
    try {
      const entry = JSON.parse(line) as { level?: string; msg?: string };
      if ((entry.level === "error" || entry.level === "fatal") && entry.msg) found = entry.msg;
    } catch {
      // not a JSON line
    }
  }
  return found;
}
