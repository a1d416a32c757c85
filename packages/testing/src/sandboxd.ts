/**
 * A real sandboxd (packages/daemon/bin/sandboxd) on a private root, state and
 * socket, for integration and interop tests and benchmarks. Starting it again
 * on the same `dir` reuses the same root and state, which is how restart
 * tests bring it back after `kill()`.
 *
 * Sandboxes work out of the box: the default sandboxer is `shim`, and a
 * sandbox of runtime `io.containerd.sbx.v1` gets its sbx-sandboxer from
 * `containerd-shim-sbx-v1` on a private config (SBX_SANDBOXER_CONFIG in
 * sandboxd's environment: temp dirs, its own cgroup parent, bridge and
 * subnet), which `stop()` kills and cleans up after. Proxy sandboxers are
 * `proxyPlugins`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { execFile } from "node:child_process";
import { mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { promisify } from "node:util";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Channel } from "@sandboxd/grpc";
import { Controller, Store } from "@sandboxd/api/services/sandbox/v1/sandbox_pb";
import { Namespaces } from "@sandboxd/api/services/namespaces/v1/namespace_pb";
import { killShimsOf, runCtr, type CtrResult } from "./containerd.js";
import {
  cleanupSandboxerInstance,
  writeSandboxerConfig,
  type SandboxerConfig,
  type SandboxerConfigOptions,
} from "./sandboxer.js";

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
  /** `[proxy_plugins.NAME]` entries (type defaults to "sandbox"). */
  proxyPlugins?: Record<string, { address: string; type?: string; platform?: string }>;
  /** `[sandbox] default_sandboxer` (sandboxd's default is "shim"). */
  defaultSandboxer?: string;
  /**
   * `[sandbox] in_process`: sandboxd hosts sbx-sandboxer under this name, on
   * `sandboxerConfig` (`in_process_config`), in its own process.
   */
  inProcessSandboxer?: string;
  /**
   * The config a shim-started sbx-sandboxer uses (SBX_SANDBOXER_CONFIG). Default:
   * one written under `dir` on the first start and reused by later starts.
   */
  sandboxerConfig?: SandboxerConfig;
  /** Options of the config written when `sandboxerConfig` is not given (e.g. `isGateway`). */
  sandboxerOptions?: Omit<SandboxerConfigOptions, "dir">;
}

export interface Sandboxd {
  readonly address: string;
  readonly ttrpcAddress: string;
  readonly root: string;
  readonly state: string;
  readonly configPath: string;
  readonly logPath: string;
  readonly process: ChildProcess;
  /** The config a shim-started sbx-sandboxer gets (its state dir, cgroup parent, bridge). */
  readonly sandboxerConfig: SandboxerConfig;
  /** Pids of sbx-sandboxers started by containerd-shim-sbx-v1 for this sandboxd. */
  sandboxerPids(): Promise<number[]>;
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
  /** Removes every sandbox (forced: their tasks and containers too), task and container. */
  empty(): Promise<void>;
  /**
   * Empties sandboxd (when it runs and its socket is there), stops it, kills
   * leftover shims and the shim-started sandboxer, removes state.
   */
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
  const sandboxerConfig =
    options.sandboxerConfig ??
    (await privateSandboxerConfig(options.dir, options.sandboxerOptions));
  const proxies = Object.entries(options.proxyPlugins ?? {}).flatMap(([name, p]) => [
    `[proxy_plugins.${JSON.stringify(name)}]`,
    `  type = ${JSON.stringify(p.type ?? "sandbox")}`,
    `  address = ${JSON.stringify(p.address)}`,
    ...(p.platform ? [`  platform = ${JSON.stringify(p.platform)}`] : []),
  ]);
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
      ...(options.defaultSandboxer || options.inProcessSandboxer ? ["[sandbox]"] : []),
      ...(options.defaultSandboxer
        ? [`  default_sandboxer = ${JSON.stringify(options.defaultSandboxer)}`]
        : []),
      ...(options.inProcessSandboxer
        ? [
            `  in_process = ${JSON.stringify(options.inProcessSandboxer)}`,
            `  in_process_config = ${JSON.stringify(sandboxerConfig.path)}`,
          ]
        : []),
      ...proxies,
      options.extraConfig ?? "",
      "",
    ].join("\n"),
  );
  const logFd = openSync(paths.logPath, "a");
  const child = spawn(options.binary ?? sandboxdBinary, ["--config", paths.configPath], {
    env: {
      ...process.env,
      SBX_SANDBOXER_CONFIG: sandboxerConfig.path,
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
  const sandboxerPids = (): Promise<number[]> => sandboxersUsing(sandboxerConfig.path);
  const empty = async (): Promise<void> => {
    await removeSandboxes(paths.address).catch(() => undefined);
    await removeEverything(ctr);
  };
  const stop = async (): Promise<void> => {
    if (running()) {
      // The socket may already be gone (a test removed the directory first):
      // then there is nothing to ask, and the shims and containers are killed below.
      if (await isSocket(paths.address)) await empty();
      await terminate();
    }
    await killShimsOf(paths.address);
    await killContainersUnder(paths.state);
    for (const pid of await sandboxerPids()) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    const deadline = Date.now() + 10_000;
    while ((await sandboxerPids()).length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    if (!options.sandboxerConfig) await cleanupSandboxerInstance(sandboxerConfig);
    await rm(paths.state, { recursive: true, force: true });
  };
  return {
    ...paths,
    process: child,
    sandboxerConfig,
    sandboxerPids,
    ctr,
    log,
    kill,
    terminate,
    empty,
    stop,
  };
}

/** The sandboxer config of `dir`: written once, read back by later starts (restarts). */
async function privateSandboxerConfig(
  dir: string,
  options: Omit<SandboxerConfigOptions, "dir"> = {},
): Promise<SandboxerConfig> {
  const saved = join(dir, "sbx-sandboxer.json");
  const text = await readFile(saved, "utf8").catch(() => undefined);
  if (text !== undefined) return JSON.parse(text) as SandboxerConfig;
  const config = await writeSandboxerConfig({ ...options, dir: join(dir, "sbx") });
  await writeFile(saved, JSON.stringify(config));
  return config;
}

/** sbx-sandboxer processes started with `config` (by the shim, through SBX_SANDBOXER_CONFIG). */
async function sandboxersUsing(config: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const environ = await readFile(`/proc/${entry}/environ`, "utf8").catch(() => "");
    if (!environ.includes(`SBX_SANDBOXER_CONFIG=${config}\0`)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
    if (cmdline.includes("sbx-sandboxer")) pids.push(Number(entry));
  }
  return pids;
}

/** Shuts down (forced) and deletes every sandbox in every namespace, through sandboxd. */
async function removeSandboxes(address: string): Promise<void> {
  const channel = new Channel(address);
  try {
    const namespaces = await channel.client(Namespaces).list({}, { timeoutMs: 10_000 });
    for (const { name } of namespaces.namespaces) {
      const metadata = { "containerd-namespace": name, "sandboxd-force": "true" };
      const store = channel.client(Store);
      const { list } = await store.list({}, { metadata, timeoutMs: 10_000 });
      for (const s of list) {
        await channel
          .client(Controller)
          .shutdown({ sandboxId: s.sandboxId }, { metadata, timeoutMs: 30_000 })
          .catch(() => undefined);
        await store
          .delete({ sandboxId: s.sandboxId }, { metadata, timeoutMs: 30_000 })
          .catch(() => undefined);
      }
    }
  } finally {
    channel.close();
  }
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
