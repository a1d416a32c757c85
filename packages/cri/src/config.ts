/**
 * The CRI's configuration, read from containerd 2.x's own keys so a
 * containerd config's CRI section works unchanged:
 *
 *   [plugins."io.containerd.cri.v1.runtime"]
 *     [plugins."io.containerd.cri.v1.runtime".containerd]
 *       default_runtime_name = "sbx"
 *       [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.sbx]
 *         runtime_type = "io.containerd.sbx.v1"
 *         sandboxer = "sbx"
 *     [plugins."io.containerd.cri.v1.runtime".cni]
 *       bin_dirs = ["/usr/lib/cni"]
 *       conf_dir = "/etc/cni/net.d"
 *   [plugins."io.containerd.grpc.v1.cri"]
 *     stream_server_address = "127.0.0.1"
 *     stream_server_port = "0"
 *
 * `cgroup_driver` is read from `SystemdCgroup` in a runtime's options
 * (containerd's way): absent or false means cgroupfs.
 */
import { invalidArgument } from "@sandboxd/errdefs";

export const runtimePlugin = "io.containerd.cri.v1.runtime";
export const grpcPlugin = "io.containerd.grpc.v1.cri";
/** The namespace CRI objects live in (containerd's constant). */
export const criNamespace = "k8s.io";

export interface RuntimeHandler {
  name: string;
  /** The runtime name containers and sandboxes record (`io.containerd.sbx.v1`). */
  runtimeType: string;
  /** The sandbox controller pods of this handler go to. */
  sandboxer: string;
  systemdCgroup: boolean;
}

export interface CriConfig {
  defaultRuntimeName: string;
  runtimes: Record<string, RuntimeHandler>;
  cni: { binDirs: string[]; confDir: string };
  streamAddress: string;
  streamPort: number;
  /** Where the CRI keeps container FIFOs and per-container state (under the daemon's state). */
  stateDir: string;
}

type Table = Record<string, unknown>;

function table(t: Table, key: string, where: string): Table {
  const v = t[key];
  if (v === undefined) return {};
  if (typeof v !== "object" || v === null || Array.isArray(v))
    throw invalidArgument(`config: ${where}.${key} must be a table`);
  return v as Table;
}

function str(t: Table, key: string, where: string, def: string): string {
  const v = t[key];
  if (v === undefined) return def;
  if (typeof v !== "string") throw invalidArgument(`config: ${where}.${key} must be a string`);
  return v;
}

function strings(t: Table, key: string, where: string, def: string[]): string[] {
  const v = t[key];
  if (v === undefined) return def;
  if (!Array.isArray(v) || v.some((x) => typeof x !== "string"))
    throw invalidArgument(`config: ${where}.${key} must be an array of strings`);
  return v as string[];
}

/**
 * Reads the CRI sections of the daemon's `[plugins]` table. With none, one
 * handler `sbx` (runtime `io.containerd.sbx.v1`, sandboxer `defaultSandboxer`).
 */
export function parseCriConfig(
  plugins: Readonly<Record<string, unknown>>,
  opts: { stateDir: string; defaultSandboxer: string; sandboxers: readonly string[] },
): CriConfig {
  const rt = table(plugins, runtimePlugin, "plugins");
  const where = `plugins."${runtimePlugin}"`;
  const ctd = table(rt, "containerd", where);
  const runtimesTable = table(ctd, "runtimes", `${where}.containerd`);
  const runtimes: Record<string, RuntimeHandler> = {};
  for (const [name, raw] of Object.entries(runtimesTable)) {
    const w = `${where}.containerd.runtimes.${name}`;
    if (typeof raw !== "object" || raw === null || Array.isArray(raw))
      throw invalidArgument(`config: ${w} must be a table`);
    const r = raw as Table;
    const sandboxer = str(r, "sandboxer", w, opts.defaultSandboxer) || opts.defaultSandboxer;
    // containerd's built-in "podsandbox" (pause container) does not exist here.
    if (!opts.sandboxers.includes(sandboxer)) {
      throw invalidArgument(
        `config: ${w}.sandboxer: unknown sandboxer ${JSON.stringify(sandboxer)} (known: ${opts.sandboxers.map((s) => JSON.stringify(s)).join(", ")})`,
      );
    }
    const options = table(r, "options", w);
    runtimes[name] = {
      name,
      runtimeType: str(r, "runtime_type", w, "io.containerd.sbx.v1"),
      sandboxer,
      systemdCgroup: options.SystemdCgroup === true,
    };
  }
  if (Object.keys(runtimes).length === 0) {
    runtimes.sbx = {
      name: "sbx",
      runtimeType: "io.containerd.sbx.v1",
      sandboxer: opts.defaultSandboxer,
      systemdCgroup: false,
    };
  }
  const first = Object.keys(runtimes)[0] ?? "sbx";
  const defaultRuntimeName = str(ctd, "default_runtime_name", `${where}.containerd`, first);
  if (!runtimes[defaultRuntimeName]) {
    throw invalidArgument(
      `config: ${where}.containerd.default_runtime_name: no runtime ${JSON.stringify(defaultRuntimeName)} under ${where}.containerd.runtimes`,
    );
  }
  const cniTable = table(rt, "cni", where);
  const grpc = table(plugins, grpcPlugin, "plugins");
  const gw = `plugins."${grpcPlugin}"`;
  const portText = grpc.stream_server_port;
  const port =
    portText === undefined ? 0 : typeof portText === "number" ? portText : Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw invalidArgument(`config: ${gw}.stream_server_port: not a port: ${String(portText)}`);
  return {
    defaultRuntimeName,
    runtimes,
    cni: {
      binDirs: strings(cniTable, "bin_dirs", `${where}.cni`, ["/usr/lib/cni", "/opt/cni/bin"]),
      confDir: str(cniTable, "conf_dir", `${where}.cni`, "/etc/cni/net.d"),
    },
    streamAddress: str(grpc, "stream_server_address", gw, "127.0.0.1"),
    streamPort: port,
    stateDir: opts.stateDir,
  };
}

/** The handler a request names ("" = the default); InvalidArgument naming it if unknown. */
export function handlerOf(config: CriConfig, name: string): RuntimeHandler {
  const h = config.runtimes[name || config.defaultRuntimeName];
  if (!h) throw invalidArgument(`no runtime for ${JSON.stringify(name)} is configured`);
  return h;
}
