/**
 * A real sandboxd (packages/daemon/bin/sandboxd) on a private root, state and
 * socket, for integration and interop tests and benchmarks. Starting it again
 * on the same `dir` reuses the same root and state, which is how restart
 * tests bring it back after `kill()`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { execFile } from "node:child_process";
import { mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { promisify } from "node:util";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { killShimsOf, runCtr, type CtrResult } from "./containerd.js";

const execFileAsync = promisify(execFile);

export interface SandboxdOptions {
  /** A directory owned by the test; root, state, sockets, config and log go below it. */
  dir: string;
  /** Log level (default "debug", so tests can read what happened). */
  logLevel?: string;
  /** Extra TOML appended to the generated config (e.g. `[proxy_plugins.x]`). */
  extraConfig?: string;
  /** Directories put first on sandboxd's PATH (where it finds shims). */
  extraPath?: readonly string[];
  /** Extra environment. */
  env?: Record<string, string>;
  /** The launcher to run (default: this repository's packages/daemon/bin/sandboxd). */
  binary?: string;
}

export interface Sandboxd {
  readonly address: string;
  readonly ttrpcAddress: string;
  readonly root: string;
  readonly state: string;
  readonly configPath: string;
  readonly logPath: string;
  readonly process: ChildProcess;
  /** Runs `ctr --address <sock> ARGS` (Debian's containerd 1.6 ctr); never throws on a non-zero exit. */
  ctr(
    args: readonly string[],
    options?: { namespace?: string; timeoutMs?: number; input?: string },
  ): Promise<CtrResult>;
  /** The daemon's log so far. */
  log(): Promise<string>;
  /** SIGKILL, as a crash: nothing is cleaned up (containers keep running). */
  kill(): Promise<void>;
  /** SIGTERM and wait for a clean exit; returns the exit code. Nothing else is cleaned up. */
  terminate(): Promise<number | null>;
  /** Removes every task and container, stops sandboxd, kills leftover shims, removes state. */
  stop(): Promise<void>;
}

export const sandboxdBinary = fileURLToPath(new URL("../../daemon/bin/sandboxd", import.meta.url));

/** Paths sandboxd uses for `dir` (the same on every start). */
export function sandboxdPaths(dir: string): {
  root: string;
  state: string;
  address: string;
  ttrpcAddress: string;
  configPath: string;
  logPath: string;
} {
  const address = join(dir, "sandboxd.sock");
  return {
    root: join(dir, "root"),
    state: join(dir, "state"),
    address,
    ttrpcAddress: `${address}.ttrpc`,
    configPath: join(dir, "config.toml"),
    logPath: join(dir, "sandboxd.log"),
  };
}

export async function startSandboxd(options: SandboxdOptions): Promise<Sandboxd> {
  const paths = sandboxdPaths(options.dir);
  await mkdir(options.dir, { recursive: true });
  await writeFile(
    paths.configPath,
    [
      "version = 2",
      `root = ${JSON.stringify(paths.root)}`,
      `state = ${JSON.stringify(paths.state)}`,
      "[grpc]",
      `  address = ${JSON.stringify(paths.address)}`,
      "[ttrpc]",
      `  address = ${JSON.stringify(paths.ttrpcAddress)}`,
      "[debug]",
      `  level = ${JSON.stringify(options.logLevel ?? "debug")}`,
      options.extraConfig ?? "",
      "",
    ].join("\n"),
  );
  const logFd = openSync(paths.logPath, "a");
  const child = spawn(options.binary ?? sandboxdBinary, ["--config", paths.configPath], {
    env: {
      ...process.env,
      ...options.env,
      PATH: [
        ...(options.extraPath ?? []),
        process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin",
      ].join(":"),
    },
    stdio: ["ignore", logFd, logFd],
  });
  closeSync(logFd);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const log = (): Promise<string> => readFile(paths.logPath, "utf8").catch(() => "");
  const ctr: Sandboxd["ctr"] = (args, o = {}) => runCtr(paths.address, args, o);

  // Ready when the log says it serves (it writes that after the sockets listen).
  const deadline = Date.now() + 30_000;
  let offset = (await log()).length;
  for (;;) {
    const text = await log();
    if (text.slice(offset).includes('"msg":"sandboxd serving"')) break;
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `sandboxd exited with ${child.exitCode ?? child.signalCode} at start-up; log:\n${text}`,
      );
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`sandboxd did not serve within 30 s; log:\n${text}`);
    }
    offset = Math.max(0, text.lastIndexOf("\n"));
    await new Promise((r) => setTimeout(r, 20));
  }

  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  const kill = async (): Promise<void> => {
    if (running()) child.kill("SIGKILL");
    await exited;
  };
  const terminate = async (): Promise<number | null> => {
    if (running()) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(timer);
    }
    return child.exitCode;
  };
  const stop = async (): Promise<void> => {
    if (running()) {
      // The socket may already be gone (a test removed the directory first):
      // then there is nothing to ask, and the shims and containers are killed below.
      if (await isSocket(paths.address)) await removeEverything(ctr);
      await terminate();
    }
    await killShimsOf(paths.address);
    await killContainersUnder(paths.state);
    await rm(paths.state, { recursive: true, force: true });
  };
  return { ...paths, process: child, ctr, log, kill, terminate, stop };
}

async function isSocket(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isSocket(),
    () => false,
  );
}

/**
 * Containers whose shim was killed keep running: removes, with runc, every
 * runc container (runc shim's root /run/containerd/runc/<ns>) whose bundle
 * is under `state`.
 */
async function killContainersUnder(state: string): Promise<void> {
  const tasks = join(state, "io.containerd.runtime.v2.task");
  for (const ns of await readdir(tasks).catch(() => [] as string[])) {
    const root = join("/run/containerd/runc", ns);
    const listed = await execFileAsync("runc", ["--root", root, "list", "-f", "json"]).catch(
      () => undefined,
    );
    const containers = JSON.parse(listed?.stdout || "null") as
      { id: string; bundle: string }[] | null;
    for (const c of containers ?? []) {
      if (c.bundle.startsWith(`${state}/`)) {
        await execFileAsync("runc", ["--root", root, "delete", "--force", c.id]).catch(
          () => undefined,
        );
      }
    }
  }
}

/** Kills and deletes every task and container in every namespace, through sandboxd. */
async function removeEverything(ctr: Sandboxd["ctr"]): Promise<void> {
  const lines = (r: CtrResult): string[] => r.stdout.split("\n").filter(Boolean);
  for (const namespace of lines(await ctr(["namespaces", "ls", "-q"]))) {
    for (const id of lines(await ctr(["tasks", "ls", "-q"], { namespace }))) {
      await ctr(["tasks", "kill", "-a", "-s", "SIGKILL", id], { namespace });
      await ctr(["tasks", "rm", "-f", id], { namespace });
    }
    for (const id of lines(await ctr(["containers", "ls", "-q"], { namespace }))) {
      await ctr(["containers", "rm", id], { namespace });
    }
  }
}
