/**
 * Starts sandboxd and sbx-sandboxer on temporary state for the demo, the way
 * an operator would: executables, config files, sockets. Nothing here is
 * test machinery; it is what `docs` tell a user to do, automated.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { access, readFile, readdir, rmdir, writeFile } from "node:fs/promises";
import { promisify } from "node:util";
import { connect } from "node:net";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = resolve(fileURLToPath(new URL("../..", import.meta.url)));
export const sandboxdBin = join(repoRoot, "packages/daemon/bin/sandboxd");
export const sandboxerBin = join(repoRoot, "packages/sandboxer/bin/sbx-sandboxer");

export interface Daemon {
  name: string;
  socket: string;
  logPath: string;
  child: ChildProcess;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it has exited. */
  stop(graceMs?: number): Promise<void>;
}

export interface DemoDaemons {
  sandboxd: Daemon;
  sandboxer: Daemon;
  /** sandboxd's gRPC socket. */
  address: string;
  /** The name sandboxd knows the sandboxer by (its `[proxy_plugins]` key). */
  sandboxerName: string;
}

/** The sandboxer is known to sandboxd by this proxy plugin name. */
const sandboxerName = "sbx";
/** The demo's sandboxer network and cgroup parent (nothing else on the host uses them). */
const bridge = "sbxdemo0";
const cgroupParent = "sbx-demo";

const execFileAsync = promisify(execFile);

export async function startDaemons(dir: string): Promise<DemoDaemons> {
  const sandboxerState = join(dir, "sbx-sandboxer");
  const sandboxerSocket = join(sandboxerState, "sandboxer.sock");
  const address = join(dir, "sandboxd.sock");
  const ttrpcAddress = `${address}.ttrpc`;

  const sandboxerConfig = join(dir, "sbx-sandboxer.toml");
  await writeFile(
    sandboxerConfig,
    [
      `state_dir = ${JSON.stringify(sandboxerState)}`,
      // Task events (create, start, exit, ...) go to sandboxd's event exchange.
      `events_address = ${JSON.stringify(ttrpcAddress)}`,
      `cgroup_parent = ${JSON.stringify(cgroupParent)}`,
      "[network]",
      `bridge = ${JSON.stringify(bridge)}`,
      `subnet = "10.213.0.0/24"`,
      // No address on the host side of the bridge: the demo changes nothing on the host.
      "is_gateway = false",
      "",
    ].join("\n"),
  );
  const sandboxer = await startDaemon(
    "sbx-sandboxer",
    sandboxerBin,
    ["--config", sandboxerConfig],
    sandboxerSocket,
    join(dir, "sbx-sandboxer.log"),
  );

  const sandboxdConfig = join(dir, "sandboxd.toml");
  await writeFile(
    sandboxdConfig,
    [
      "version = 2",
      `root = ${JSON.stringify(join(dir, "sandboxd-root"))}`,
      `state = ${JSON.stringify(join(dir, "sandboxd-state"))}`,
      "[grpc]",
      `  address = ${JSON.stringify(address)}`,
      "[ttrpc]",
      `  address = ${JSON.stringify(ttrpcAddress)}`,
      "[sandbox]",
      `  default_sandboxer = ${JSON.stringify(sandboxerName)}`,
      `[proxy_plugins.${sandboxerName}]`,
      '  type = "sandbox"',
      `  address = ${JSON.stringify(sandboxerSocket)}`,
      "",
    ].join("\n"),
  );
  let sandboxd: Daemon;
  try {
    sandboxd = await startDaemon(
      "sandboxd",
      sandboxdBin,
      ["--config", sandboxdConfig],
      address,
      join(dir, "sandboxd.log"),
    );
  } catch (err) {
    await sandboxer.stop();
    throw err;
  }
  return { sandboxd, sandboxer, address, sandboxerName };
}

/**
 * What a stopped sbx-sandboxer keeps on the host for its next start (its
 * namespace-pin mount, its cgroup parent, its bridge), removed once the demo is
 * over; best effort, each step on its own. Call after both daemons stopped.
 */
export async function cleanupHost(dir: string): Promise<void> {
  const pins = join(dir, "sbx-sandboxer", "ns");
  const mountinfo = await readFile("/proc/self/mountinfo", "utf8").catch(() => "");
  const mounts = mountinfo
    .split("\n")
    .map((line) => line.split(" ")[4])
    .filter((m): m is string => m !== undefined && (m === pins || m.startsWith(`${pins}/`)))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) await execFileAsync("umount", ["-l", m]).catch(() => undefined);
  const removeTree = async (path: string): Promise<void> => {
    const entries = await readdir(path, { withFileTypes: true }).catch(() => []);
    for (const e of entries) if (e.isDirectory()) await removeTree(join(path, e.name));
    await rmdir(path).catch(() => undefined);
  };
  const hierarchies = await readdir("/sys/fs/cgroup", { withFileTypes: true }).catch(() => []);
  await removeTree(join("/sys/fs/cgroup", cgroupParent)); // cgroup v2
  for (const h of hierarchies)
    if (h.isDirectory()) await removeTree(join("/sys/fs/cgroup", h.name, cgroupParent));
  await execFileAsync("ip", ["link", "del", bridge]).catch(() => undefined);
}

async function startDaemon(
  name: string,
  binary: string,
  args: string[],
  socket: string,
  logPath: string,
): Promise<Daemon> {
  await access(binary).catch(() => {
    throw new Error(`${name}: ${binary} is missing; run 'npm run setup'`);
  });
  const log = openSync(logPath, "a");
  const child = spawn(binary, args, { stdio: ["ignore", log, log] });
  closeSync(log);
  const exited = new Promise<void>((resolveExit) => child.once("exit", () => resolveExit()));
  const daemon: Daemon = {
    name,
    socket,
    logPath,
    child,
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
  const deadline = Date.now() + 20_000;
  while (!(await accepts(socket))) {
    if (child.exitCode !== null)
      throw new Error(`${name} exited with status ${child.exitCode}; see ${logPath}`);
    if (Date.now() > deadline) {
      await daemon.stop(0);
      throw new Error(`${name} did not listen on ${socket} within 20 s; see ${logPath}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return daemon;
}

function accepts(socket: string): Promise<boolean> {
  return new Promise((resolveProbe) => {
    const probe = connect(socket);
    probe.once("connect", () => {
      probe.destroy();
      resolveProbe(true);
    });
    probe.once("error", () => resolveProbe(false));
  });
}
