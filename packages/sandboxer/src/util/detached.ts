/**
 * Helper processes that must outlive the sandboxer (a pid namespace's holder,
 * the task keeper): started in their own session with no stdio, and
 * unreferenced so that the sandboxer's event loop does not wait for them.
 * posix_spawn'ed (core's spawnChild: the sandboxer is not forked), or forked by
 * Node where koffi does not load.
 */
import { spawn } from "node:child_process";
import { spawnChild } from "@sandboxd/core";

export interface DetachedChild {
  /** Its exit code once it has exited; null while it runs (and, as Node's, after a signal). */
  readonly exitCode: number | null;
  /** True once it has exited, whatever ended it. */
  readonly exited: boolean;
  /** Resolves when it has exited. */
  readonly gone: Promise<void>;
  kill: (signal?: NodeJS.Signals) => void;
}

/** Starts `command` detached; resolves once it has spawned (rejects when it cannot). */
export async function spawnDetached(
  command: string,
  args: readonly string[],
  env?: Record<string, string>,
): Promise<{ child: DetachedChild; pid: number }> {
  const fullEnv = env ? { ...process.env, ...env } : process.env;
  const spawned = await spawnChild(command, args, {
    stdio: ["ignore", "ignore", "ignore"],
    env: fullEnv,
    detached: true,
    ref: false,
  });
  if (spawned) {
    const gone = spawned.exited.then((e) => e.code);
    return { child: detachedChild(gone, spawned.kill), pid: spawned.pid };
  }
  const forked = spawn(command, args, { detached: true, stdio: "ignore", env: fullEnv });
  const pid = await new Promise<number>((resolve, reject) => {
    forked.once("error", reject);
    forked.once("spawn", () => resolve(forked.pid ?? 0));
  });
  const gone = new Promise<number | null>((resolve) => forked.once("exit", resolve));
  forked.unref();
  return { child: detachedChild(gone, (signal) => void forked.kill(signal)), pid };
}

/** The DetachedChild of either spawn: `ended` resolves with the exit code (null after a signal). */
function detachedChild(
  ended: Promise<number | null>,
  kill: (signal?: NodeJS.Signals) => void,
): DetachedChild {
  let exitCode: number | null = null;
  let exited = false;
  const gone = ended.then((code) => {
    exitCode = code;
    exited = true;
  });
  return {
    get exitCode() {
      return exitCode;
    },
    get exited() {
      return exited;
    },
    gone,
    kill,
  };
}
