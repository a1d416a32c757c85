/**
 * Running a short-lived helper binary (a shim's `start` or `delete`): its
 * exit, stdout and stderr, with the request's cancellation and deadline
 * killing it. `combined` interleaves stdout and stderr in arrival order, as
 * Go's CombinedOutput does for `start`; the call ends when every pipe is
 * closed, not only when the process exits.
 */
import { spawn } from "node:child_process";
import { deadlineExceeded, canceled } from "@sandboxd/errdefs";
import type { Ctx } from "@sandboxd/core";

export interface RunOptions {
  args: readonly string[];
  cwd?: string | undefined;
  env?: NodeJS.ProcessEnv | undefined;
  stdin?: Uint8Array | undefined;
  /** Own process group (containerd starts shims with Setpgid). */
  detached?: boolean | undefined;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: Buffer;
  combined: Buffer;
}

export function run(ctx: Ctx, file: string, options: RunOptions): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    if (ctx.signal.aborted) {
      reject(reason(ctx.signal));
      return;
    }
    const child = spawn(file, options.args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ["pipe", "pipe", "pipe"],
      detached: options.detached ?? false,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const all: Buffer[] = [];
    child.stdout.on("data", (d: Buffer) => (out.push(d), all.push(d)));
    child.stderr.on("data", (d: Buffer) => (err.push(d), all.push(d)));
    child.stdin.on("error", () => undefined);
    child.stdin.end(options.stdin ?? new Uint8Array());
    const onAbort = (): void => {
      child.kill("SIGKILL");
    };
    ctx.signal.addEventListener("abort", onAbort, { once: true });
    child.once("error", (e) => {
      ctx.signal.removeEventListener("abort", onAbort);
      reject(e);
    });
    child.once("close", (code, signal) => {
      ctx.signal.removeEventListener("abort", onAbort);
      if (ctx.signal.aborted) {
        reject(reason(ctx.signal));
        return;
      }
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out),
        stderr: Buffer.concat(err),
        combined: Buffer.concat(all),
      });
    });
  });
}

function reason(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  if (r instanceof Error && r.name === "TimeoutError")
    return deadlineExceeded(undefined, { cause: r });
  return canceled(undefined, { cause: r });
}

/** `exit status N` / `signal: killed`, as Go's exec.ExitError prints. */
export function exitText(result: Pick<RunResult, "code" | "signal">): string {
  if (result.signal) return `signal: ${result.signal === "SIGKILL" ? "killed" : result.signal}`;
  return `exit status ${result.code ?? -1}`;
}
