/**
 * The one runner for short-lived helper programs (runc, mount, CNI plugins, a
 * shim's `start` and `delete`): never a shell; stdout, stderr and both
 * interleaved in arrival order (Go's CombinedOutput); the request's
 * cancellation and deadline, or an optional timeout, kill it. The call ends
 * when every pipe is closed, not only when the process exits. Failures are
 * typed and name the command: Canceled, DeadlineExceeded, Unknown when it
 * cannot start; `runChecked` also turns a non-zero exit into Unknown.
 */
import { spawn } from "node:child_process";
import { canceled, deadlineExceeded, messageOf, unknown } from "@sandboxd/errdefs";
import type { Ctx } from "../context/context.js";
import { spawnChild, type Child } from "./child.js";

export interface RunOptions {
  /** Written to stdin, which is then closed. */
  input?: string | Uint8Array | undefined;
  env?: NodeJS.ProcessEnv | undefined;
  cwd?: string | undefined;
  /** Kill the program after this long; without it only the context bounds it. */
  timeoutMs?: number | undefined;
  /** Own process group (containerd starts shims with Setpgid). */
  detached?: boolean | undefined;
}

export interface RunResult {
  /** The exit code; null when a signal ended the program. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The same output as bytes; `combined` interleaves both pipes. */
  bytes: { stdout: Buffer; stderr: Buffer; combined: Buffer };
}

/** `file args`, as error messages name a command. */
export function commandLine(file: string, args: readonly string[]): string {
  return [file, ...args].join(" ");
}

/** Runs `file args`; resolves whatever the exit code. Rejects only if it cannot start or is killed. */
export async function run(
  ctx: Ctx,
  file: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<RunResult> {
  if (ctx.signal.aborted) throw stopped(ctx.signal, commandLine(file, args), "not started");
  let child: Child | undefined;
  try {
    child = await spawnChild(file, args, {
      env: options.env,
      cwd: options.cwd,
      detached: options.detached,
    });
  } catch (e) {
    throw unknown(`${file}: cannot start: ${messageOf(e)}`, { cause: e });
  }
  if (!child) return runForked(ctx, file, args, options);
  return collect(ctx, child, file, args, options);
}

/** run() on a posix_spawn'ed child: ends when it is reaped and both pipes have closed. */
function collect(
  ctx: Ctx,
  child: Child,
  file: string,
  args: readonly string[],
  options: RunOptions,
): Promise<RunResult> {
  const { stdin, stdout, stderr } = child;
  if (!stdin || !stdout || !stderr) throw new TypeError("run: a child without pipes");
  return new Promise((resolve, reject) => {
    const watched = watch(ctx, file, args, options, { stdout, stderr }, () =>
      child.kill("SIGKILL"),
    );
    const closed = (s: NodeJS.ReadableStream): Promise<void> =>
      new Promise((r) => s.once("close", () => r()));
    stdin.on("error", () => {
      // The program may exit without reading its input; its exit says what happened.
    });
    stdout.on("error", () => undefined);
    stderr.on("error", () => undefined);
    stdin.end(options.input ?? "");
    void Promise.all([
      child.exited.then((exit) => (stdin.destroy(), exit)),
      closed(stdout),
      closed(stderr),
    ]).then(([{ code, signal }]) => watched.settle(code, signal).then(resolve, reject));
  });
}

/** run() through Node's spawn (which forks), where posix_spawn is not available. */
function runForked(
  ctx: Ctx,
  file: string,
  args: readonly string[],
  options: RunOptions,
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    if (ctx.signal.aborted) {
      reject(stopped(ctx.signal, commandLine(file, args), "not started"));
      return;
    }
    const child = spawn(file, args, {
      stdio: ["pipe", "pipe", "pipe"],
      env: options.env ?? process.env,
      cwd: options.cwd,
      detached: options.detached ?? false,
    });
    const watched = watch(ctx, file, args, options, child, () => void child.kill("SIGKILL"));
    child.once("error", (e) => {
      watched.stop();
      reject(unknown(`${file}: cannot start: ${e.message}`, { cause: e }));
    });
    child.once("close", (code, signal) => void watched.settle(code, signal).then(resolve, reject));
    child.stdin.on("error", () => {
      // The program may exit without reading its input; its exit says what happened.
    });
    child.stdin.end(options.input ?? "");
  });
}

/**
 * What both runners share: the output (each pipe and both interleaved in
 * arrival order), the SIGKILL on timeout or on the context's abort, and the
 * outcome once the process has ended: a typed error or the result.
 */
function watch(
  ctx: Ctx,
  file: string,
  args: readonly string[],
  options: RunOptions,
  pipes: { stdout: NodeJS.ReadableStream; stderr: NodeJS.ReadableStream },
  kill: () => void,
): {
  stop(): void;
  settle(code: number | null, signal: NodeJS.Signals | null): Promise<RunResult>;
} {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const all: Buffer[] = [];
  pipes.stdout.on("data", (d: Buffer) => (out.push(d), all.push(d)));
  pipes.stderr.on("data", (d: Buffer) => (err.push(d), all.push(d)));
  let timedOut = false;
  const timer =
    options.timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          kill();
        }, options.timeoutMs);
  ctx.signal.addEventListener("abort", kill, { once: true });
  if (ctx.signal.aborted) kill();
  const stop = (): void => {
    clearTimeout(timer);
    ctx.signal.removeEventListener("abort", kill);
  };
  return {
    stop,
    settle(code, signal) {
      stop();
      const command = commandLine(file, args);
      if (timedOut)
        return Promise.reject(
          deadlineExceeded(`${command}: timed out after ${options.timeoutMs} ms`),
        );
      if (ctx.signal.aborted) return Promise.reject(stopped(ctx.signal, command, "killed"));
      const stdout = Buffer.concat(out);
      const stderr = Buffer.concat(err);
      return Promise.resolve({
        code,
        signal,
        stdout: stdout.toString("utf8"),
        stderr: stderr.toString("utf8"),
        bytes: { stdout, stderr, combined: Buffer.concat(all) },
      });
    },
  };
}

/** Runs `file args` and returns stdout; a non-zero exit throws Unknown naming the command. */
export async function runChecked(
  ctx: Ctx,
  file: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<string> {
  const result = await run(ctx, file, args, options);
  if (result.code !== 0) {
    const detail = (result.stderr.trim() || result.stdout.trim()).split("\n").slice(-3).join("; ");
    throw unknown(`${commandLine(file, args)}: ${exitText(result)}${detail ? `: ${detail}` : ""}`);
  }
  return result.stdout;
}

/** `exit status N` / `signal: killed`, as Go's exec.ExitError prints. */
export function exitText(result: Pick<RunResult, "code" | "signal">): string {
  if (result.signal) return `signal: ${result.signal === "SIGKILL" ? "killed" : result.signal}`;
  return `exit status ${result.code ?? -1}`;
}

function stopped(signal: AbortSignal, command: string, what: string): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error && reason.name === "TimeoutError")
    return deadlineExceeded(`${command}: ${what}`, { cause: reason });
  return canceled(`${command}: ${what}`, { cause: reason });
}
