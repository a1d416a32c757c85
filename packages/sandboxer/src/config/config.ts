/**
 * The sandboxer's configuration: a TOML file (`--config`, or the file named by
 * SBX_SANDBOXER_CONFIG) overlaid by command-line flags. Everything has a default
 * under /run/sbx-sandboxer; sockets default to files in the state directory, so
 * pointing `state_dir` at a temp dir is enough to run a private instance.
 */
import { readFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { invalidArgument, messageOf } from "@sandboxd/errdefs";
import type { LogLevel } from "@sandboxd/core";
import { parse as parseToml } from "smol-toml";
import { defaultStartHelper, defaultUsernsHelper } from "../native-paths.js";

const configEnv = "SBX_SANDBOXER_CONFIG";
/** Each prepared network holds an address of the subnet and a veth on the bridge. */
const maxPreparedNetworks = 64;
const defaultStateDir = "/run/sbx-sandboxer";
const defaultConfigPath = "/etc/sbx-sandboxer/config.toml";

export interface NetworkConfig {
  /** Set up CNI networking for sandboxes that bring no netns of their own. */
  enabled: boolean;
  /** CNI network name (also the host-local IPAM key). */
  name: string;
  bridge: string;
  subnet: string;
  cniBinDir: string;
  isGateway: boolean;
  ipMasq: boolean;
  mtu: number;
  /** Copied into each pod's /etc/resolv.conf. */
  resolvConf: string;
  /** Pod networks kept made ahead of time (see pod/network-pool.ts); 0: none. */
  preparedNetworks: number;
}

export interface Config {
  stateDir: string;
  /** gRPC containerd.services.sandbox.v1.Controller socket. */
  listen: string;
  /** ttrpc socket: Task (v2 and v3), Sandbox and the shim admin service. */
  taskSocket: string;
  logLevel: LogLevel;
  /** Where the sandboxer logs when started detached by the shim. */
  logFile: string;
  /** A ttrpc events endpoint (containerd's or sandboxd's) that receives every event. */
  eventsAddress: string;
  /** Also forward /sandboxes/* events (off: the daemon that calls Wait publishes them). */
  sandboxEvents: boolean;
  /** Parent of every sandbox cgroup, relative to each hierarchy's root. */
  cgroupParent: string;
  recoveryConcurrency: number;
  /** How often (ms) running containers whose monitor may have died are checked. */
  sweepIntervalMs: number;
  /**
   * runc and conmon are required; socat only for terminals; task_keeper (optional) holds
   * the task socket's connections while the sandboxer restarts (native/task-keeper.c);
   * start (native/start.c) starts created containers as `runc start` does, which stays the
   * way when it is empty or missing.
   */
  binaries: {
    runc: string;
    conmon: string;
    socat: string;
    taskKeeper: string;
    userns: string;
    start: string;
  };
  network: NetworkConfig;
  /** The file the config was read from, if any. */
  source?: string | undefined;
}

export function defaultConfig(stateDir = defaultStateDir): Config {
  return {
    stateDir,
    listen: join(stateDir, "sandboxer.sock"),
    taskSocket: join(stateDir, "task.sock"),
    logLevel: "info",
    logFile: join(stateDir, "sandboxer.log"),
    eventsAddress: "",
    sandboxEvents: false,
    cgroupParent: "sbx-sandboxer",
    recoveryConcurrency: 32,
    sweepIntervalMs: 5000,
    binaries: {
      runc: "/usr/sbin/runc",
      conmon: "/usr/bin/conmon",
      socat: "/usr/bin/socat",
      taskKeeper: "",
      userns: defaultUsernsHelper,
      start: defaultStartHelper,
    },
    network: {
      enabled: true,
      name: "sbx",
      bridge: "sbx0",
      subnet: "10.88.0.0/16",
      cniBinDir: "/usr/lib/cni",
      isGateway: true,
      ipMasq: false,
      mtu: 0,
      resolvConf: "/etc/resolv.conf",
      preparedNetworks: 0,
    },
  };
}

/** Command-line overrides; undefined = not given. */
export interface ConfigOverrides {
  config?: string | undefined;
  stateDir?: string | undefined;
  listen?: string | undefined;
  taskSocket?: string | undefined;
  logLevel?: string | undefined;
  eventsAddress?: string | undefined;
  cgroupParent?: string | undefined;
  bridge?: string | undefined;
  subnet?: string | undefined;
  cniBinDir?: string | undefined;
  network?: boolean | undefined;
}

/**
 * The effective config: defaults, then the TOML file (`overrides.config`, else
 * $SBX_SANDBOXER_CONFIG, else /etc/sbx-sandboxer/config.toml if it exists), then flags.
 */
export function loadConfig(
  overrides: ConfigOverrides = {},
  env: NodeJS.ProcessEnv = process.env,
): Config {
  const explicit = overrides.config ?? (env[configEnv] || undefined);
  const path = explicit ?? defaultConfigPath;
  let text: string | undefined;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if (explicit !== undefined || (err as NodeJS.ErrnoException).code !== "ENOENT") {
      throw invalidArgument(`config ${JSON.stringify(path)}: ${messageOf(err)}`);
    }
  }
  const file = text === undefined ? {} : parseConfigText(text, path);
  return resolveConfig(file, overrides, text === undefined ? undefined : path);
}

export function parseConfigText(text: string, path = "config"): Record<string, unknown> {
  try {
    return parseToml(text);
  } catch (err) {
    throw invalidArgument(`config ${JSON.stringify(path)}: ${messageOf(err)}`);
  }
}

/** A flag, else the file's key, else the default; as arguments, the file's key is always read (and checked). */
function first<T>(flag: T | undefined, file: T | undefined, fallback: T): T {
  return flag ?? file ?? fallback;
}

/** Merges a parsed TOML table and flags over the defaults, and validates the result. */
export function resolveConfig(
  file: Record<string, unknown>,
  overrides: ConfigOverrides = {},
  source?: string,
): Config {
  const t = new Table(file, "");
  const stateDir = first(overrides.stateDir, t.string("state_dir"), defaultStateDir);
  const config = defaultConfig(stateDir);
  config.source = source;
  config.listen = first(overrides.listen, t.string("listen"), config.listen);
  config.taskSocket = first(overrides.taskSocket, t.string("task_socket"), config.taskSocket);
  config.logLevel = logLevelOf(first(overrides.logLevel, t.string("log_level"), config.logLevel));
  config.logFile = t.string("log_file") ?? config.logFile;
  config.eventsAddress = first(
    overrides.eventsAddress,
    t.string("events_address"),
    config.eventsAddress,
  );
  config.sandboxEvents = t.boolean("sandbox_events") ?? config.sandboxEvents;
  config.cgroupParent = first(
    overrides.cgroupParent,
    t.string("cgroup_parent"),
    config.cgroupParent,
  );
  config.recoveryConcurrency = t.integer("recovery_concurrency") ?? config.recoveryConcurrency;
  config.sweepIntervalMs = t.integer("sweep_interval_ms") ?? config.sweepIntervalMs;
  const bin = t.table("binaries");
  config.binaries.runc = bin.string("runc") ?? config.binaries.runc;
  config.binaries.conmon = bin.string("conmon") ?? config.binaries.conmon;
  config.binaries.socat = bin.string("socat") ?? config.binaries.socat;
  config.binaries.taskKeeper = bin.string("task_keeper") ?? config.binaries.taskKeeper;
  config.binaries.userns = bin.string("userns") ?? config.binaries.userns;
  config.binaries.start = bin.string("start") ?? config.binaries.start;
  const net = t.table("network");
  const n = config.network;
  n.enabled = first(overrides.network, net.boolean("enabled"), n.enabled);
  n.name = net.string("name") ?? n.name;
  n.bridge = first(overrides.bridge, net.string("bridge"), n.bridge);
  n.subnet = first(overrides.subnet, net.string("subnet"), n.subnet);
  n.cniBinDir = first(overrides.cniBinDir, net.string("cni_bin_dir"), n.cniBinDir);
  n.isGateway = net.boolean("is_gateway") ?? n.isGateway;
  n.ipMasq = net.boolean("ip_masq") ?? n.ipMasq;
  n.mtu = net.integer("mtu") ?? n.mtu;
  n.resolvConf = net.string("resolv_conf") ?? n.resolvConf;
  n.preparedNetworks = net.integer("prepared_networks") ?? n.preparedNetworks;
  t.rejectUnknown();
  validateConfig(config);
  return config;
}

function validateConfig(config: Config): void {
  for (const [field, value] of [
    ["state_dir", config.stateDir],
    ["listen", config.listen],
    ["task_socket", config.taskSocket],
    ["network.cni_bin_dir", config.network.cniBinDir],
  ] as const) {
    if (!isAbsolute(value))
      throw invalidArgument(`config ${field} ${JSON.stringify(value)}: must be an absolute path`);
  }
  for (const [field, value] of [
    ["listen", config.listen],
    ["task_socket", config.taskSocket],
  ] as const) {
    if (Buffer.byteLength(value) > 106) {
      throw invalidArgument(`config ${field} ${JSON.stringify(value)}: longer than 106 bytes`);
    }
  }
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/.test(config.network.bridge)) {
    throw invalidArgument(
      `config network.bridge ${JSON.stringify(config.network.bridge)}: not a valid interface name (1-15 characters)`,
    );
  }
  if (!/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(config.network.subnet)) {
    throw invalidArgument(
      `config network.subnet ${JSON.stringify(config.network.subnet)}: expected an IPv4 CIDR`,
    );
  }
  if (!/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/.test(config.cgroupParent)) {
    throw invalidArgument(
      `config cgroup_parent ${JSON.stringify(config.cgroupParent)}: expected a relative cgroup path`,
    );
  }
  const prepared = config.network.preparedNetworks;
  if (!Number.isInteger(prepared) || prepared < 0 || prepared > maxPreparedNetworks) {
    throw invalidArgument(
      `config network.prepared_networks ${prepared}: must be from 0 to ${maxPreparedNetworks}`,
    );
  }
  if (!Number.isInteger(config.recoveryConcurrency) || config.recoveryConcurrency < 1) {
    throw invalidArgument(
      `config recovery_concurrency ${config.recoveryConcurrency}: must be at least 1`,
    );
  }
}

const logLevels = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;

function logLevelOf(value: string): LogLevel {
  const found = logLevels.find((l) => l === value);
  if (!found)
    throw invalidArgument(
      `config log_level ${JSON.stringify(value)}: expected one of ${logLevels.join(", ")}`,
    );
  return found;
}

/** Typed access to a TOML table with errors that name the key. */
class Table {
  private readonly data: Record<string, unknown>;
  private readonly prefix: string;
  private readonly known = new Set<string>();
  private readonly tables: Table[] = [];

  constructor(data: Record<string, unknown>, prefix: string) {
    this.data = data;
    this.prefix = prefix;
  }

  /**
   * A key nobody read is a typo or a key in the wrong table (say
   * `cgroup_parent` under `[binaries]`): silently ignoring it would run the
   * sandboxer on a default the operator meant to change.
   */
  rejectUnknown(): void {
    const unknown = Object.keys(this.data).filter((k) => !this.known.has(k));
    if (unknown.length > 0) {
      const known = [...this.known].sort().join(", ");
      throw invalidArgument(
        `config: unknown key ${unknown.map((k) => this.prefix + k).join(", ")} (this table knows: ${known})`,
      );
    }
    for (const table of this.tables) table.rejectUnknown();
  }

  #get(key: string, type: string): unknown {
    this.known.add(key);
    const value = this.data[key];
    if (value === undefined) return undefined;
    const actual = Array.isArray(value) ? "array" : typeof value;
    if (actual !== type && !(type === "number" && typeof value === "bigint")) {
      throw invalidArgument(`config ${this.prefix}${key}: expected a ${type}, got ${actual}`);
    }
    return value;
  }

  string(key: string): string | undefined {
    return this.#get(key, "string") as string | undefined;
  }

  boolean(key: string): boolean | undefined {
    return this.#get(key, "boolean") as boolean | undefined;
  }

  integer(key: string): number | undefined {
    const value = this.#get(key, "number") as number | bigint | undefined;
    return value === undefined ? undefined : Number(value);
  }

  table(key: string): Table {
    const value = this.#get(key, "object") as Record<string, unknown> | undefined;
    const table = new Table(value ?? {}, `${this.prefix}${key}.`);
    this.tables.push(table);
    return table;
  }
}
