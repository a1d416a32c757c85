/**
 * Runs a helper program (runc, mount, unshare, CNI plugins) and collects its
 * output. Never uses a shell. A non-zero exit becomes an error naming the
 * program and carrying its stderr, so callers' errors say what failed.
 */
import { spawn } from "node:child_process";
import type { Ctx } from "@sandboxd/core";
import { canceled, deadlineExceeded, unknown as unknownError } from "@sandboxd/errdefs";

export interface RunOptions {
  input?: string | Uint8Array | undefined;
  env?: NodeJS.ProcessEnv | undefined;
  cwd?: string | undefined;
  /** Kill the program after this long (default 30 s). */
  timeoutMs?: number | undefined;
}

export interface RunResult {
  code: number;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `file args`; resolves whatever the exit code. Rejects only if it cannot start. */
export function run(
  ctx: Ctx,
  file: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    if (ctx.signal.aborted) {
      reject(canceled(`${file}: not started`, { cause: ctx.signal.reason }));
      return;
    }
    const child = spawn(file, args, {
      stdio: ["pipe", "pipe", "pipe"],
      env: options.env ?? process.env,
      cwd: options.cwd,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => err.push(d));
    let killedBy: "timeout" | "cancel" | undefined;
    const kill = (why: "timeout" | "cancel"): void => {
      killedBy = why;
      child.kill("SIGKILL");
    };
    const timer = setTimeout(() => kill("timeout"), options.timeoutMs ?? 30_000);
    const onAbort = (): void => kill("cancel");
    ctx.signal.addEventListener("abort", onAbort, { once: true });
    const done = (): void => {
      clearTimeout(timer);
      ctx.signal.removeEventListener("abort", onAbort);
    };
    child.once("error", (e) => {
      done();
      reject(unknownError(`${file}: cannot start`, { cause: e }));
    });
    child.once("close", (code, signal) => {
      done();
      const stdout = Buffer.concat(out).toString("utf8");
      const stderr = Buffer.concat(err).toString("utf8");
      if (killedBy === "timeout") {
        reject(deadlineExceeded(`${file} ${args.join(" ")}: timed out`));
        return;
      }
      if (killedBy === "cancel") {
        reject(canceled(`${file} ${args.join(" ")}`, { cause: ctx.signal.reason }));
        return;
      }
      resolve({ code: code ?? 128, signal, stdout, stderr });
    });
    child.stdin.on("error", () => {
      // The program may exit without reading its input; its exit code says what happened.
    });
    child.stdin.end(options.input ?? "");
  });
}

/** Runs `file args` and returns stdout; a non-zero exit throws an error with stderr. */
export async function runChecked(
  ctx: Ctx,
  file: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<string> {
  const result = await run(ctx, file, args, options);
  if (result.code !== 0) {
    const detail = (result.stderr.trim() || result.stdout.trim()).split("\n").slice(-3).join("; ");
    throw unknownError(
      `${file} ${args.join(" ")}: exit status ${result.code}${detail ? `: ${detail}` : ""}`,
    );
  }
  return result.stdout;
}
