/**
 * A real containerd (Debian's 1.6) on a private root, state and socket, for
 * interop tests and side-by-side benchmarks. The CRI plugin is disabled unless
 * `cri` is set (the benchmarks' CRI comparison, its config in `extraConfig`);
 * tests drive it with `ctr`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

export interface ContainerdOptions {
  /** A directory owned by the test; containerd's root, state, sockets and log go below it. */
  dir: string;
  /** Directories put first on containerd's PATH (where it finds shims). */
  extraPath?: readonly string[];
  /** Extra TOML appended to the generated config (e.g. proxy plugins). */
  extraConfig?: string;
  /** Log level (default "info"). */
  logLevel?: string;
  binary?: string;
  /** Keep containerd's own CRI plugin (io.containerd.grpc.v1.cri); its section goes in `extraConfig`. */
  cri?: boolean;
}

export interface CtrResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Containerd {
  readonly address: string;
  readonly ttrpcAddress: string;
  readonly root: string;
  readonly state: string;
  readonly logPath: string;
  readonly process: ChildProcess;
  /** Runs `ctr --address <sock> ARGS`; never throws on a non-zero exit. */
  ctr(
    args: readonly string[],
    options?: { namespace?: string; timeoutMs?: number; input?: string },
  ): Promise<CtrResult>;
  /** SIGTERM, wait for exit, then kill leftover shims and remove the directory's state. */
  stop(): Promise<void>;
}

export const containerdBinary = "/usr/bin/containerd";
export const ctrBinary = "/usr/bin/ctr";

export async function startContainerd(options: ContainerdOptions): Promise<Containerd> {
  const root = join(options.dir, "root");
  const state = join(options.dir, "state");
  const address = join(options.dir, "containerd.sock");
  const ttrpcAddress = `${address}.ttrpc`;
  const logPath = join(options.dir, "containerd.log");
  const configPath = join(options.dir, "config.toml");
  await mkdir(root, { recursive: true });
  await mkdir(state, { recursive: true });
  await writeFile(
    configPath,
    [
      "version = 2",
      `root = ${JSON.stringify(root)}`,
      `state = ${JSON.stringify(state)}`,
      `disabled_plugins = [${options.cri ? "" : '"io.containerd.grpc.v1.cri", '}"io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]`,
      "[grpc]",
      `  address = ${JSON.stringify(address)}`,
      "[ttrpc]",
      `  address = ${JSON.stringify(ttrpcAddress)}`,
      "[debug]",
      `  level = ${JSON.stringify(options.logLevel ?? "info")}`,
      '[plugins."io.containerd.internal.v1.opt"]',
      `  path = ${JSON.stringify(join(options.dir, "opt"))}`,
      options.extraConfig ?? "",
      "",
    ].join("\n"),
  );
  const { openSync, closeSync } = await import("node:fs");
  const logFd = openSync(logPath, "a");
  const env = {
    ...process.env,
    PATH: [...(options.extraPath ?? []), process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin"].join(
      ":",
    ),
  };
  const child = spawn(options.binary ?? containerdBinary, ["--config", configPath], {
    env,
    stdio: ["ignore", logFd, logFd],
  });
  closeSync(logFd);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));

  const ctr = async (
    args: readonly string[],
    o: { namespace?: string; timeoutMs?: number; input?: string } = {},
  ): Promise<CtrResult> => runCtr(address, args, o);

  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(
        `containerd exited with ${child.exitCode} at start-up; log:\n${await readFile(logPath, "utf8")}`,
      );
    }
    const probe = await ctr(["version"], { timeoutMs: 5000 });
    if (probe.code === 0 && probe.stdout.includes("Server:")) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(
        `containerd did not answer within 20 s; log:\n${await readFile(logPath, "utf8")}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      await removeEverything(ctr);
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    }
    await killShimsOf(address);
    await rm(state, { recursive: true, force: true });
  };

  return { address, ttrpcAddress, root, state, logPath, process: child, ctr, stop };
}

export async function runCtr(
  address: string,
  args: readonly string[],
  options: { namespace?: string; timeoutMs?: number; input?: string } = {},
): Promise<CtrResult> {
  return new Promise((resolve) => {
    const child = spawn(
      ctrBinary,
      ["--address", address, ...(options.namespace ? ["-n", options.namespace] : []), ...args],
      {
        stdio: ["pipe", "pipe", "pipe"],
        env: { ...process.env, CONTAINERD_SUPPRESS_DEPRECATION_WARNINGS: "true" },
      },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.stdin.on("error", () => {}); // ctr may exit before reading its input (EPIPE)
    child.stdin.end(options.input ?? "");
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });
}

/** Kills shim processes started for the containerd at `address` (they outlive it by design). */
export async function killShimsOf(address: string): Promise<void> {
  const pids: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = (await readFile(`/proc/${entry}/cmdline`, "utf8")).split("\0");
      if (cmdline.some((a) => a.includes("containerd-shim")) && cmdline.includes(address))
        pids.push(Number(entry));
    } catch {
      // the process exited while we looked
    }
  }
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

/** Kills and deletes every task and container in every namespace, through containerd. */
async function removeEverything(ctr: Containerd["ctr"]): Promise<void> {
  const namespaces = (await ctr(["namespaces", "ls", "-q"])).stdout.split("\n").filter(Boolean);
  for (const namespace of namespaces) {
    const tasks = (await ctr(["tasks", "ls", "-q"], { namespace })).stdout
      .split("\n")
      .filter(Boolean);
    for (const id of tasks) {
      await ctr(["tasks", "kill", "-a", "-s", "SIGKILL", id], { namespace });
      await ctr(["tasks", "rm", "-f", id], { namespace });
    }
    const containers = (await ctr(["containers", "ls", "-q"], { namespace })).stdout
      .split("\n")
      .filter(Boolean);
    for (const id of containers) await ctr(["containers", "rm", id], { namespace });
  }
}
