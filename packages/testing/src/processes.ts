/**
 * Child processes for tests: run a command to completion with its output, and check or
 * wait for arbitrary pids (processes the test did not start itself, such as a shim's
 * re-executed server or a container's init).
 */
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { waitUntil } from "./wait-until.js";

export interface RunOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Written to stdin, which is then closed (stdin is empty otherwise). */
  readonly input?: Uint8Array | string;
  /** Kills the command (SIGKILL) after this long; default 30 s. */
  readonly timeoutMs?: number;
}

export interface RunResult {
  /** Exit code, or null when killed by a signal. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: Buffer;
  readonly stderr: Buffer;
}

/**
 * Runs `file` with `args` and collects its output. Never throws for a non-zero exit; fails
 * only if it cannot be started or runs past its timeout. The command must not leave
 * children holding its stdout/stderr open, or this waits for them too.
 */
export function run(
  file: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ["pipe", "pipe", "pipe"],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => stdout.push(c));
    child.stderr.on("data", (c: Buffer) => stderr.push(c));
    const timeoutMs = options.timeoutMs ?? 30_000;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${file} ${args.join(" ")}: still running after ${timeoutMs} ms`));
    }, timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr) });
    });
    child.stdin.on("error", () => {}); // the command may exit without reading its input
    child.stdin.end(options.input);
  });
}

/** Whether a process with this pid exists (zombies count as gone). */
export async function processAlive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ESRCH") return false;
    // EPERM: it exists, owned by someone else.
  }
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined);
  if (stat === undefined) return false;
  // The state is the field after the parenthesised command name.
  return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
}

/** Waits until `pid` is gone. */
export async function waitForExit(pid: number, timeoutMs = 10_000): Promise<void> {
  await waitUntil(async () => !(await processAlive(pid)), {
    timeoutMs,
    what: `pid ${pid} to exit`,
  });
}

/**
 * Kills `pid` (SIGKILL unless told otherwise) if it still exists and waits until it is
 * gone. For cleanup: never throws for a process that is already gone.
 */
export async function killAndWait(
  pid: number,
  signal: NodeJS.Signals = "SIGKILL",
  timeoutMs = 10_000,
): Promise<void> {
  try {
    process.kill(pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ESRCH") return;
    throw err;
  }
  await waitForExit(pid, timeoutMs);
}
