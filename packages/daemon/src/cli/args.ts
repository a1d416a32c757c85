/**
 * sandboxd's command line, in containerd's style: global flags, then an
 * optional command (`publish`, used by shims through `-publish-binary`).
 * `--flag value` and `--flag=value` are both accepted.
 */
import {
  flagHelp,
  parseArgs as parseFlags,
  UsageError,
  valueFlags,
  type FlagSpec,
} from "@sandboxd/core/args";

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

// The defaults are the config loader's (a flag overrides the file), so they are
// stated in the descriptions rather than given to the parser.
const globalFlags = [
  ...valueFlags([
    ["config", "FILE", "TOML config (default /etc/sandboxd/config.toml if it exists)", "c"],
    ["root", "DIR", "persistent data (default /var/lib/sandboxd)"],
    ["state", "DIR", "runtime state (default /run/sandboxd)"],
    ["address", "PATH", "gRPC socket (default /run/sandboxd/sandboxd.sock)", "a"],
    ["log-level", "LEVEL", "trace, debug, info, warn, error, fatal (default info)", "l"],
  ]),
  { name: "help", short: "h", type: "switch", description: "show this help" },
  { name: "version", short: "v", type: "switch", description: "print the version" },
] as const satisfies readonly FlagSpec[];

const publishFlags = [
  { name: "topic", type: "value", description: "the event's topic" },
  { name: "namespace", short: "n", type: "value", description: "the event's namespace" },
  { name: "help", short: "h", type: "switch", description: "show help" },
] as const satisfies readonly FlagSpec[];

/** As Go's flag package says it (containerd's wording). */
const goStyle = {
  program: "sandboxd",
  unknownFlag: (shown: string) => `flag provided but not defined: ${shown}`,
};

/** Parses sandboxd's command line; UsageError for a mistake. */
export function parseArgs(argv: readonly string[]): Command {
  const { flags, positionals } = parseFlags(argv, globalFlags, {
    ...goStyle,
    command: "",
    passthroughAfter: 1,
  });
  const global: GlobalArgs = {
    config: flags.config,
    root: flags.root,
    state: flags.state,
    address: flags.address,
    logLevel: flags["log-level"],
    help: flags.help,
    version: flags.version,
  };
  const [command, ...rest] = positionals;
  if (command === undefined) return { name: "serve", global };
  if (command === "publish") return parsePublish(global, rest);
  throw new UsageError(`unknown command ${JSON.stringify(command)} (see sandboxd --help)`);
}

function parsePublish(global: GlobalArgs, argv: readonly string[]): Command {
  const { flags } = parseFlags(argv, publishFlags, {
    ...goStyle,
    command: "publish",
    unknownFlag: (shown: string) => `publish: flag provided but not defined: ${shown}`,
  });
  const help = global.help || flags.help;
  const topic = flags.topic ?? "";
  const namespace = flags.namespace ?? "";
  if (!help && topic === "") throw new UsageError("publish: --topic is required");
  if (!help && namespace === "") throw new UsageError("publish: --namespace is required");
  return { name: "publish", global: { ...global, help }, topic, namespace };
}

export const usage = `usage: sandboxd [global options] [command]

sandboxd: a containerd-compatible daemon (metadata, namespaces, containers,
tasks through runtime v2 shims, events, leases) on containerd's gRPC API.

Global options:
${flagHelp(globalFlags).join("\n")}

Commands:
  publish --topic T --namespace N   publish a protobuf Any event read from stdin
                                    (the runtime v2 -publish-binary contract)
`;
