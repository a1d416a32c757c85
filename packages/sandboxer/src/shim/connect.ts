/**
 * Reaching the sandboxer from a shim: connect to its task socket, and if nobody
 * answers, start it detached (own session, stdio to its log file: never the
 * caller's pipes, which containerd reads to the end) and wait until it listens.
 * Concurrent shims may each start one; the sandboxer's instance lock keeps
 * exactly one, the others exit at once, and every shim connects to the winner.
 */
import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Socket } from "node:net";
import { unavailable } from "@sandboxd/errdefs";
import type { Config } from "../config/config.js";
import { dial } from "./wire.js";

function sandboxerBinary(env: NodeJS.ProcessEnv = process.env): string {
  const fromLauncher = env.SANDBOXD_BIN_DIR
    ? join(env.SANDBOXD_BIN_DIR, "sbx-sandboxer")
    : undefined;
  if (fromLauncher && existsSync(fromLauncher)) return fromLauncher;
  // dist/bin/<shim>.js → ../../bin/sbx-sandboxer (the package's launcher)
  return join(dirname(process.argv[1] ?? ""), "..", "..", "bin", "sbx-sandboxer");
}

async function tryConnect(path: string): Promise<Socket | undefined> {
  try {
    return await dial(path, 1000);
  } catch {
    return undefined;
  }
}

export interface EnsureOptions {
  /** Start the sandboxer if it is not running (default true). */
  start?: boolean;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

export async function connectSandboxer(config: Config, o: EnsureOptions = {}): Promise<Socket> {
  const first = await tryConnect(config.taskSocket);
  if (first) return first;
  if (o.start === false)
    throw unavailable(`sbx-sandboxer is not running (no answer on ${config.taskSocket})`);
  const child = startSandboxer(config, o.env ?? process.env);
  const deadline = Date.now() + (o.timeoutMs ?? 10_000);
  const started: { exitCode: number | null } = { exitCode: null };
  child.once("exit", (code) => (started.exitCode = code ?? 1));
  for (;;) {
    const client = await tryConnect(config.taskSocket);
    if (client) return client;
    if (started.exitCode !== null && started.exitCode !== 0) {
      throw unavailable(
        `sbx-sandboxer exited with status ${started.exitCode} at start-up: ${await logTail(config.logFile)}`,
      );
    }
    if (Date.now() > deadline) {
      throw unavailable(
        `sbx-sandboxer did not listen on ${config.taskSocket} within ${o.timeoutMs ?? 10_000} ms: ${await logTail(config.logFile)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

function startSandboxer(config: Config, env: NodeJS.ProcessEnv) {
  mkdirSync(dirname(config.logFile), { recursive: true, mode: 0o711 });
  const log = openSync(config.logFile, "a", 0o600);
  try {
    const args = config.source ? ["--config", config.source] : [];
    const child = spawn(sandboxerBinary(env), args, {
      detached: true,
      stdio: ["ignore", log, log],
      cwd: "/",
      env,
    });
    child.unref();
    return child;
  } finally {
    closeSync(log);
  }
}

async function logTail(path: string): Promise<string> {
  const text = await readFile(path, "utf8").catch(() => "");
  return text.trim().split("\n").slice(-3).join(" | ") || "(empty log)";
}
