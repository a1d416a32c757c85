/**
 * sandboxd's command line, in containerd's style: global flags, then an
 * optional command (`publish`, used by shims through `-publish-binary`).
 * `--flag value` and `--flag=value` are both accepted.
 */
import { invalidArgument } from "@sandboxd/errdefs";

export interface GlobalArgs {
  config?: string | undefined;
  root?: string | undefined;
  state?: string | undefined;
  address?: string | undefined;
  logLevel?: string | undefined;
  help: boolean;
  version: boolean;
}

export type Command =
  | { readonly name: "serve"; readonly global: GlobalArgs }
  | {
      readonly name: "publish";
      readonly global: GlobalArgs;
      readonly topic: string;
      readonly namespace: string;
    };

const globalFlags: Record<string, keyof GlobalArgs> = {
  config: "config",
  c: "config",
  root: "root",
  state: "state",
  address: "address",
  a: "address",
  "log-level": "logLevel",
  l: "logLevel",
};

export function parseArgs(argv: readonly string[]): Command {
  const global: GlobalArgs = { help: false, version: false };
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (!arg.startsWith("-")) break;
    const { name, inline } = split(arg);
    if (name === "help" || name === "h") global.help = true;
    else if (name === "version" || name === "v") global.version = true;
    else {
      const key = globalFlags[name];
      if (!key) throw invalidArgument(`flag provided but not defined: ${arg}`);
      const value = inline ?? argv[++i];
      if (value === undefined) throw invalidArgument(`flag ${arg} needs a value`);
      (global as unknown as Record<string, string>)[key] = value;
    }
  }
  const command = argv[i];
  if (command === undefined) return { name: "serve", global };
  if (command === "publish") return parsePublish(global, argv.slice(i + 1));
  throw invalidArgument(`unknown command ${JSON.stringify(command)} (see sandboxd --help)`);
}

function parsePublish(global: GlobalArgs, argv: readonly string[]): Command {
  let topic = "";
  let namespace = "";
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    const { name, inline } = split(arg);
    if (name === "help" || name === "h") {
      global.help = true;
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw invalidArgument(`flag ${arg} needs a value`);
    if (name === "topic") topic = value;
    else if (name === "namespace" || name === "n") namespace = value;
    else throw invalidArgument(`publish: flag provided but not defined: ${arg}`);
  }
  if (!global.help && topic === "") throw invalidArgument("publish: --topic is required");
  if (!global.help && namespace === "") throw invalidArgument("publish: --namespace is required");
  return { name: "publish", global, topic, namespace };
}

function split(arg: string): { name: string; inline: string | undefined } {
  const body = arg.replace(/^--?/, "");
  const eq = body.indexOf("=");
  return eq >= 0
    ? { name: body.slice(0, eq), inline: body.slice(eq + 1) }
    : { name: body, inline: undefined };
}

export const usage = `usage: sandboxd [global options] [command]

sandboxd: a containerd-compatible daemon (metadata, namespaces, containers,
tasks through runtime v2 shims, events, leases) on containerd's gRPC API.

Global options:
  -c, --config FILE       TOML config (default /etc/sandboxd/config.toml if it exists)
      --root DIR          persistent data (default /var/lib/sandboxd)
      --state DIR         runtime state (default /run/sandboxd)
  -a, --address PATH      gRPC socket (default /run/sandboxd/sandboxd.sock)
  -l, --log-level LEVEL   trace, debug, info, warn, error, fatal (default info)
  -h, --help              show this help
  -v, --version           print the version

Commands:
  publish --topic T --namespace N   publish a protobuf Any event read from stdin
                                    (the runtime v2 -publish-binary contract)
`;
