/**
 * sbx-sandboxer on temp dirs for tests and benchmarks: a private state dir,
 * sockets, cgroup parent, bridge name and subnet per instance, so instances
 * side by side do not collide. The config file can also be handed to a
 * shim-started sandboxer (SBX_SANDBOXER_CONFIG in containerd's environment).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/** The repository root (packages/testing/dist/sandboxer.js → ../../..). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
export const sandboxerBin = join(repoRoot, "packages", "sandboxer", "bin", "sbx-sandboxer");
export const sbxShimBin = join(repoRoot, "packages", "sandboxer", "bin", "containerd-shim-sbx-v1");
/** Where the launchers of every executable are linked (containerd's PATH for the shim). */
export const binDir = join(repoRoot, "node_modules", ".bin");

export interface SandboxerConfigOptions {
  /** A directory owned by the test. */
  dir: string;
  /** CNI networking (default true). */
  network?: boolean;
  eventsAddress?: string;
  logLevel?: string;
  /** Extra TOML lines at the top level. */
  extra?: string;
  sweepIntervalMs?: number;
  /** CNI plugin directory (default /usr/lib/cni). */
  cniBinDir?: string;
  /** The host bridge gets the gateway address (default false): host ports need the route. */
  isGateway?: boolean;
  /** Pod networks made ahead of time (`[network] prepared_networks`, default 0). */
  preparedNetworks?: number;
}

export interface SandboxerConfig {
  path: string;
  stateDir: string;
  listen: string;
  taskSocket: string;
  logFile: string;
  cgroupParent: string;
  bridge: string;
  subnet: string;
}

/** Writes a config for a private instance under `dir` and returns what it says. */
export async function writeSandboxerConfig(o: SandboxerConfigOptions): Promise<SandboxerConfig> {
  const tag = randomBytes(3).toString("hex");
  const stateDir = join(o.dir, "sbx");
  const subnet = `10.${200 + (randomBytes(1)[0]! % 50)}.${randomBytes(1)[0]!}.0/24`;
  const c: SandboxerConfig = {
    path: join(o.dir, "sbx-sandboxer.toml"),
    stateDir,
    listen: join(stateDir, "sandboxer.sock"),
    taskSocket: join(stateDir, "task.sock"),
    logFile: join(stateDir, "sandboxer.log"),
    cgroupParent: `sbx-test-${tag}`,
    bridge: `sbxt${tag}`,
    subnet,
  };
  await mkdir(o.dir, { recursive: true });
  await writeFile(
    c.path,
    [
      `state_dir = ${JSON.stringify(stateDir)}`,
      `cgroup_parent = ${JSON.stringify(c.cgroupParent)}`,
      `log_level = ${JSON.stringify(o.logLevel ?? "debug")}`,
      ...(o.eventsAddress ? [`events_address = ${JSON.stringify(o.eventsAddress)}`] : []),
      ...(o.sweepIntervalMs ? [`sweep_interval_ms = ${o.sweepIntervalMs}`] : []),
      o.extra ?? "",
      "[network]",
      `enabled = ${o.network ?? true}`,
      `bridge = ${JSON.stringify(c.bridge)}`,
      `subnet = ${JSON.stringify(subnet)}`,
      // No gateway address on the host bridge: the host's sysctls stay untouched.
      `is_gateway = ${o.isGateway ?? false}`,
      ...(o.cniBinDir ? [`cni_bin_dir = ${JSON.stringify(o.cniBinDir)}`] : []),
      ...(o.preparedNetworks ? [`prepared_networks = ${o.preparedNetworks}`] : []),
      "",
    ].join("\n"),
  );
  return c;
}

export interface RunningSandboxer extends SandboxerConfig {
  process: ChildProcess;
  readonly pid: number;
  /** SIGKILL (default) or another signal; resolves when the process is gone. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same state (after kill). */
  restart(): Promise<void>;
  log(): Promise<string>;
  /** Kills it and removes what belongs to the instance (not to pods): pin mount, cgroup parent, bridge, files. */
  stop(): Promise<void>;
}

export async function startSandboxer(o: SandboxerConfigOptions): Promise<RunningSandboxer> {
  const config = await writeSandboxerConfig(o);
  let child = await launch(config);
  const kill = async (signal: NodeJS.Signals = "SIGKILL"): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill(signal);
    await exited;
  };
  const running: RunningSandboxer = {
    ...config,
    get process() {
      return child;
    },
    get pid() {
      return child.pid ?? 0;
    },
    kill,
    async restart() {
      await kill();
      child = await launch(config);
    },
    log: () => readFile(config.logFile, "utf8").catch(() => ""),
    async stop() {
      await kill();
      await cleanupSandboxerInstance(config);
      await rm(o.dir, { recursive: true, force: true });
    },
  };
  return running;
}

async function launch(config: SandboxerConfig): Promise<ChildProcess> {
  await mkdir(config.stateDir, { recursive: true });
  const { openSync, closeSync } = await import("node:fs");
  const log = openSync(config.logFile, "a");
  const child = spawn(sandboxerBin, ["--config", config.path], { stdio: ["ignore", log, log] });
  closeSync(log);
  const deadline = Date.now() + 20_000;
  const net = await import("node:net");
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(
        `sbx-sandboxer exited with ${child.exitCode}: ${await readFile(config.logFile, "utf8")}`,
      );
    }
    const answers = (path: string) =>
      new Promise<boolean>((done) => {
        const s = net.connect(path);
        s.once("connect", () => {
          s.destroy();
          done(true);
        });
        s.once("error", () => done(false));
      });
    // Both servers: the task socket is bound before the Controller's, and a
    // test that calls the Controller first found it missing on a busy machine.
    if ((await answers(config.taskSocket)) && (await answers(config.listen))) return child;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(
        `sbx-sandboxer did not listen within 20 s: ${await readFile(config.logFile, "utf8")}`,
      );
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Removes the per-instance things a stopped sandboxer leaves by design: the
 * private mount of its pin directory, its cgroup parent, its bridge. Pods are
 * the test's business (a leak check before this is what finds pod leaks).
 */
export async function cleanupSandboxerInstance(config: SandboxerConfig): Promise<void> {
  const pinRoot = join(config.stateDir, "ns");
  const mountinfo = await readFile("/proc/self/mountinfo", "utf8");
  const mounts = mountinfo
    .split("\n")
    .map((l) => l.split(" ")[4])
    .filter((m): m is string => m !== undefined && (m === pinRoot || m.startsWith(`${pinRoot}/`)))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) await execFileAsync("umount", ["-l", m]).catch(() => undefined);
  const { readdir, rmdir } = await import("node:fs/promises");
  const removeTree = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const e of entries) if (e.isDirectory()) await removeTree(join(dir, e.name));
    await rmdir(dir).catch(() => undefined);
  };
  for (const h of await cgroupMounts()) await removeTree(join(h, config.cgroupParent));
  await execFileAsync("ip", ["link", "del", config.bridge]).catch(() => undefined);
}

/** Mount points of every cgroup hierarchy (v1 controllers, the unified tree). */
export async function cgroupMounts(): Promise<string[]> {
  const mountinfo = await readFile("/proc/self/mountinfo", "utf8");
  const out: string[] = [];
  for (const line of mountinfo.split("\n")) {
    const sep = line.indexOf(" - ");
    if (sep < 0) continue;
    const fstype = line.slice(sep + 3).split(" ")[0];
    const mount = line.slice(0, sep).split(" ")[4];
    if ((fstype === "cgroup" || fstype === "cgroup2") && mount && !out.includes(mount))
      out.push(mount);
  }
  return out;
}
