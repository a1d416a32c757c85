/**
 * sandboxd's configuration: a TOML file in containerd's shape (`version`,
 * `root`, `state`, `[grpc]`, `[ttrpc]`, `[debug]`, `[metrics]`, sandboxd's own `[cli]`,
 * `[proxy_plugins.NAME]`), then command-line flags on top. Every error names
 * the key and the file; keys containerd has and sandboxd ignores are reported
 * as warnings, not errors, so a containerd config can be reused.
 */
import { readFile } from "node:fs/promises";
import { isAbsolute } from "node:path";
import { parse } from "smol-toml";
import { invalidArgument, notFound, messageOf } from "@sandboxd/errdefs";
import type { LogLevel } from "@sandboxd/core";

export interface ProxyPlugin {
  /** `sandbox` (a sandbox controller over gRPC), or another containerd proxy type kept as is. */
  readonly type: string;
  /** A unix socket path (containerd prefixes `unix://`). */
  readonly address: string;
  readonly platform?: string | undefined;
}

export interface Config {
  readonly version: number;
  /** Persistent data: metadata, the server uuid, task work dirs. */
  readonly root: string;
  /** Runtime state: bundles, sockets. Expected on tmpfs. */
  readonly state: string;
  readonly grpc: { readonly address: string; readonly uid: number; readonly gid: number };
  /** Where shims forward events (`containerd.services.events.ttrpc.v1.Events`). */
  readonly ttrpc: { readonly address: string };
  readonly debug: { readonly level: LogLevel };
  /** `host:port` for Prometheus text metrics; empty = off. */
  readonly metrics: { readonly address: string };
  /** `serve`: run sbx's commands at `<grpc.address>.cli` for sbx-client (default on). */
  readonly cli: { readonly serve: boolean };
  readonly proxyPlugins: Readonly<Record<string, ProxyPlugin>>;
  readonly sandbox: {
    /** The controller used when neither a request nor the record names one. */
    readonly defaultSandboxer: string;
    /**
     * sbx-sandboxer hosted in sandboxd's own process under this sandboxer name
     * (`in_process`), with its config file (`in_process_config`; default: the
     * sandboxer's own default). Empty name = off.
     */
    readonly inProcess: { readonly name: string; readonly config: string };
  };
  /** containerd's `[plugins."NAME"]` tables as written; components (the CRI) read their own. */
  readonly plugins: Readonly<Record<string, unknown>>;
  /** The file this came from, if any. */
  readonly file?: string | undefined;
}

export const defaultConfigFile = "/etc/sandboxd/config.toml";
const defaultRoot = "/var/lib/sandboxd";
const defaultState = "/run/sandboxd";
const defaultAddress = "/run/sandboxd/sandboxd.sock";

const logLevels: readonly LogLevel[] = ["trace", "debug", "info", "warn", "error", "fatal"];

export function defaultConfig(): Config {
  return {
    version: 2,
    root: defaultRoot,
    state: defaultState,
    grpc: { address: defaultAddress, uid: 0, gid: 0 },
    ttrpc: { address: `${defaultAddress}.ttrpc` },
    debug: { level: "info" },
    metrics: { address: "" },
    cli: { serve: true },
    proxyPlugins: {},
    sandbox: { defaultSandboxer: shimSandboxer, inProcess: { name: "", config: "" } },
    plugins: {},
  };
}

/** The built-in sandbox controller: runs the runtime's shim binary per sandbox. */
const shimSandboxer = "shim";

/** Proxy plugin types that are sandbox controllers (containerd accepts both spellings). */
export const sandboxProxyTypes: readonly string[] = [
  "sandbox",
  "io.containerd.sandbox.controller.v1",
];

/** The sandbox controllers a config provides: `shim`, the in-process one, every sandbox proxy plugin. */
export function sandboxerNames(config: Pick<Config, "proxyPlugins" | "sandbox">): string[] {
  return [
    shimSandboxer,
    ...(config.sandbox.inProcess.name ? [config.sandbox.inProcess.name] : []),
    ...Object.entries(config.proxyPlugins)
      .filter(([, p]) => sandboxProxyTypes.includes(p.type))
      .map(([name]) => name),
  ];
}

/** Overrides from the command line. */
export interface ConfigFlags {
  root?: string | undefined;
  state?: string | undefined;
  address?: string | undefined;
  logLevel?: string | undefined;
}

export interface LoadedConfig {
  config: Config;
  /** Keys that were ignored (reported at start-up). */
  warnings: string[];
}

/** Reads and validates `file`; NotFound if it does not exist. */
export async function loadConfigFile(file: string): Promise<LoadedConfig> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw notFound(`config file ${JSON.stringify(file)}`);
    }
    throw invalidArgument(`config file ${JSON.stringify(file)}: ${messageOf(err)}`);
  }
  return parseConfig(text, file);
}

/** Parses TOML text; errors name `file` and the offending key. */
export function parseConfig(text: string, file = "<config>"): LoadedConfig {
  let doc: Record<string, unknown>;
  try {
    doc = parse(text);
  } catch (err) {
    const first = messageOf(err).split("\n")[0] ?? "";
    const where = err as { line?: number; column?: number };
    const at = where.line ? ` (line ${where.line}, column ${where.column ?? 0})` : "";
    throw invalidArgument(`config ${file}${at}: ${first}`);
  }
  const reader = new Reader(file);
  const base = defaultConfig();
  const version = reader.int(doc, "version", base.version);
  if (version < 1 || version > 3) {
    throw reader.fail("version", `unsupported version ${version} (1, 2 or 3)`);
  }
  const grpc = reader.table(doc, "grpc");
  const ttrpc = reader.table(doc, "ttrpc");
  const debug = reader.table(doc, "debug");
  const metrics = reader.table(doc, "metrics");
  const cli = reader.table(doc, "cli");
  const sandbox = reader.table(doc, "sandbox");
  const address = reader.path(grpc, "grpc.address", base.grpc.address);
  const level = reader.string(debug, "debug.level", base.debug.level);
  if (!logLevels.includes(level as LogLevel)) {
    throw reader.fail(
      "debug.level",
      `unknown level ${JSON.stringify(level)} (${logLevels.join(", ")})`,
    );
  }
  const config: Config = {
    version,
    root: reader.path(doc, "root", base.root),
    state: reader.path(doc, "state", base.state),
    grpc: {
      address,
      uid: reader.int(grpc, "grpc.uid", 0),
      gid: reader.int(grpc, "grpc.gid", 0),
    },
    ttrpc: { address: reader.path(ttrpc, "ttrpc.address", `${address}.ttrpc`) },
    debug: { level: level as LogLevel },
    metrics: { address: reader.hostPort(metrics, "metrics.address") },
    cli: { serve: reader.bool(cli, "cli.serve", base.cli.serve) },
    proxyPlugins: reader.proxyPlugins(doc),
    sandbox: {
      defaultSandboxer: reader.string(
        sandbox,
        "sandbox.default_sandboxer",
        base.sandbox.defaultSandboxer,
      ),
      inProcess: {
        name: reader.string(sandbox, "sandbox.in_process", ""),
        config: reader.string(sandbox, "sandbox.in_process_config", ""),
      },
    },
    plugins: reader.table(doc, "plugins"),
    file,
  };
  const inProcess = config.sandbox.inProcess.name;
  if (
    inProcess === shimSandboxer ||
    sandboxProxyTypes.includes(config.proxyPlugins[inProcess]?.type ?? "")
  ) {
    throw reader.fail(
      "sandbox.in_process",
      `the name ${JSON.stringify(inProcess)} is already the ${inProcess === shimSandboxer ? "built-in shim controller's" : `[proxy_plugins.${inProcess}]'s`}`,
    );
  }
  if (config.sandbox.inProcess.config && !inProcess) {
    throw reader.fail(
      "sandbox.in_process_config",
      "needs sandbox.in_process (the sandboxer's name)",
    );
  }
  const known = sandboxerNames(config);
  if (!known.includes(config.sandbox.defaultSandboxer)) {
    throw reader.fail(
      "sandbox.default_sandboxer",
      `unknown sandboxer ${JSON.stringify(config.sandbox.defaultSandboxer)} (${known.map((n) => JSON.stringify(n)).join(", ")}: "shim", sandbox.in_process or a [proxy_plugins.NAME] with type = "sandbox")`,
    );
  }
  reader.unknown(doc, "", [
    "version",
    "root",
    "state",
    "grpc",
    "ttrpc",
    "debug",
    "metrics",
    "cli",
    "proxy_plugins",
    "sandbox",
    "plugins",
  ]);
  reader.unknown(grpc, "grpc.", ["address", "uid", "gid"]);
  reader.unknown(ttrpc, "ttrpc.", ["address"]);
  reader.unknown(debug, "debug.", ["level"]);
  reader.unknown(metrics, "metrics.", ["address"]);
  reader.unknown(cli, "cli.", ["serve"]);
  reader.unknown(sandbox, "sandbox.", ["default_sandboxer", "in_process", "in_process_config"]);
  // The plugin tables sandboxd reads (containerd 2.x's CRI keys); a 1.x `io.containerd.grpc.v1.cri` is not.
  reader.unknown(config.plugins, "plugins.", [
    "io.containerd.cri.v1.runtime",
    "io.containerd.cri.v1.images",
  ]);
  return { config, warnings: reader.warnings };
}

/** The config with command-line flags applied (flags win over the file). */
export function applyFlags(config: Config, flags: ConfigFlags): Config {
  const where = "command line";
  const reader = new Reader(where);
  const address = flags.address ?? config.grpc.address;
  if (!isAbsolute(address)) throw reader.fail("--address", "must be an absolute path");
  for (const [name, value] of [
    ["--root", flags.root],
    ["--state", flags.state],
  ] as const) {
    if (value !== undefined && !isAbsolute(value))
      throw reader.fail(name, "must be an absolute path");
  }
  if (flags.logLevel !== undefined && !logLevels.includes(flags.logLevel as LogLevel)) {
    throw reader.fail(
      "--log-level",
      `unknown level ${JSON.stringify(flags.logLevel)} (${logLevels.join(", ")})`,
    );
  }
  // The ttrpc socket follows a changed gRPC address unless the file set it.
  const ttrpcFollows = config.ttrpc.address === `${config.grpc.address}.ttrpc`;
  return {
    ...config,
    root: flags.root ?? config.root,
    state: flags.state ?? config.state,
    grpc: { ...config.grpc, address },
    ttrpc: { address: ttrpcFollows ? `${address}.ttrpc` : config.ttrpc.address },
    debug: { level: (flags.logLevel as LogLevel | undefined) ?? config.debug.level },
  };
}

class Reader {
  readonly warnings: string[] = [];
  readonly #file: string;

  constructor(file: string) {
    this.#file = file;
  }

  fail(key: string, message: string): Error {
    return invalidArgument(`config ${this.#file}: ${JSON.stringify(key)}: ${message}`);
  }

  table(doc: Record<string, unknown>, key: string): Record<string, unknown> {
    const value = doc[key];
    if (value === undefined) return {};
    if (!isTable(value)) throw this.fail(key, `must be a table, got ${typeName(value)}`);
    return value;
  }

  string(doc: Record<string, unknown>, key: string, fallback: string): string {
    const value = doc[leaf(key)];
    if (value === undefined) return fallback;
    if (typeof value !== "string") throw this.fail(key, `must be a string, got ${typeName(value)}`);
    return value;
  }

  bool(doc: Record<string, unknown>, key: string, fallback: boolean): boolean {
    const value = doc[leaf(key)];
    if (value === undefined) return fallback;
    if (typeof value !== "boolean")
      throw this.fail(key, `must be true or false, got ${typeName(value)}`);
    return value;
  }

  int(doc: Record<string, unknown>, key: string, fallback: number): number {
    const value = doc[leaf(key)];
    if (value === undefined) return fallback;
    const n = typeof value === "bigint" ? Number(value) : value;
    if (typeof n !== "number" || !Number.isInteger(n) || n < 0) {
      throw this.fail(key, `must be a non-negative integer, got ${typeName(value)}`);
    }
    return n;
  }

  path(doc: Record<string, unknown>, key: string, fallback: string): string {
    const value = this.string(doc, key, fallback);
    if (value === "") return fallback;
    if (!isAbsolute(value))
      throw this.fail(key, `must be an absolute path, got ${JSON.stringify(value)}`);
    return value;
  }

  hostPort(doc: Record<string, unknown>, key: string): string {
    const value = this.string(doc, key, "");
    if (value === "") return "";
    const m = /^(\[[0-9a-fA-F:]+\]|[^:]*):(\d{1,5})$/.exec(value);
    if (!m || Number(m[2]) > 65535) {
      throw this.fail(key, `must be host:port (e.g. 127.0.0.1:1338), got ${JSON.stringify(value)}`);
    }
    return value;
  }

  proxyPlugins(doc: Record<string, unknown>): Record<string, ProxyPlugin> {
    const table = this.table(doc, "proxy_plugins");
    const out: Record<string, ProxyPlugin> = {};
    for (const [name, raw] of Object.entries(table)) {
      const key = `proxy_plugins.${name}`;
      if (!isTable(raw)) throw this.fail(key, `must be a table, got ${typeName(raw)}`);
      const type = this.string(raw, `${key}.type`, "");
      const address = this.string(raw, `${key}.address`, "");
      if (type === "") throw this.fail(`${key}.type`, "must be set");
      if (address === "") throw this.fail(`${key}.address`, "must be set");
      const platform =
        raw.platform === undefined ? undefined : this.string(raw, `${key}.platform`, "");
      if (name === shimSandboxer && sandboxProxyTypes.includes(type)) {
        throw this.fail(
          key,
          `the name ${JSON.stringify(name)} is the built-in sandbox controller's`,
        );
      }
      out[name] = { type, address, platform };
      this.unknown(raw, `${key}.`, ["type", "address", "platform", "exports", "capabilities"]);
    }
    return out;
  }

  unknown(doc: Record<string, unknown>, prefix: string, known: readonly string[]): void {
    for (const key of Object.keys(doc)) {
      if (!known.includes(key))
        this.warnings.push(`config ${this.#file}: ignoring unknown key "${prefix}${key}"`);
    }
  }
}

function leaf(key: string): string {
  return key.slice(key.lastIndexOf(".") + 1);
}

function isTable(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date)
  );
}

function typeName(value: unknown): string {
  if (Array.isArray(value)) return "an array";
  if (value instanceof Date) return "a date";
  if (isTable(value)) return "a table";
  return `${typeof value} ${JSON.stringify(typeof value === "bigint" ? String(value) : value)}`;
}
