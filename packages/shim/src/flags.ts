/**
 * The command line containerd gives a shim binary, parsed the way Go's `flag`
 * package does: single or double dash, `-flag value` or `-flag=value`, flags
 * before the action word (`start`, `delete`).
 */
import { invalidArgument } from "@sandboxd/errdefs";

export interface ShimFlags {
  namespace: string;
  id: string;
  /** containerd's gRPC socket path (no scheme). */
  address: string;
  publishBinary: string;
  bundle: string;
  socket: string;
  debugSocket: string;
  debug: boolean;
  version: boolean;
  info: boolean;
  /** The action word: "start", "delete", or "" (serve). */
  action: string;
  /** Words after the action. */
  rest: string[];
}

const stringFlags: Record<string, keyof ShimFlags> = {
  namespace: "namespace",
  id: "id",
  address: "address",
  "publish-binary": "publishBinary",
  bundle: "bundle",
  socket: "socket",
  "debug-socket": "debugSocket",
};
const boolFlags: Record<string, keyof ShimFlags> = {
  debug: "debug",
  v: "version",
  version: "version",
  info: "info",
};

export function parseShimFlags(argv: readonly string[]): ShimFlags {
  const flags: ShimFlags = {
    namespace: "",
    id: "",
    address: "",
    publishBinary: "",
    bundle: "",
    socket: "",
    debugSocket: "",
    debug: false,
    version: false,
    info: false,
    action: "",
    rest: [],
  };
  const record = flags as unknown as Record<string, unknown>;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (arg === "--") {
      flags.action = argv[i + 1] ?? "";
      flags.rest = argv.slice(i + 2);
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      flags.action = arg;
      flags.rest = argv.slice(i + 1);
      break;
    }
    const body = arg.replace(/^--?/, "");
    const eq = body.indexOf("=");
    const name = eq >= 0 ? body.slice(0, eq) : body;
    const inline = eq >= 0 ? body.slice(eq + 1) : undefined;
    const stringKey = stringFlags[name];
    const boolKey = boolFlags[name];
    if (stringKey) {
      const value = inline ?? argv[++i];
      if (value === undefined) throw invalidArgument(`flag -${name} needs a value`);
      record[stringKey] = value;
    } else if (boolKey) {
      record[boolKey] = inline === undefined ? true : inline === "true" || inline === "1";
    } else {
      throw invalidArgument(`flag provided but not defined: -${name}`);
    }
  }
  return flags;
}

export interface StartArgsOptions {
  namespace: string;
  id: string;
  /** containerd's gRPC socket path. */
  address: string;
  publishBinary: string;
  debug?: boolean | undefined;
}

/** argv for `start`, as containerd builds it. */
export function startArgs(o: StartArgsOptions): string[] {
  return [...commonArgs(o), ...(o.debug ? ["-debug"] : []), "start"];
}

/** argv for `delete`, as containerd builds it. */
export function deleteArgs(o: StartArgsOptions & { bundle: string }): string[] {
  return [...commonArgs(o), "-bundle", o.bundle, ...(o.debug ? ["-debug"] : []), "delete"];
}

/** The flags both actions start with, in containerd's order. */
function commonArgs(o: StartArgsOptions): string[] {
  return [
    "-namespace",
    o.namespace,
    "-address",
    o.address,
    "-publish-binary",
    o.publishBinary,
    "-id",
    o.id,
  ];
}
