import module from "node:module";
import { fileURLToPath } from "node:url";
import type { FlagSpec } from "@sandboxd/core/args";

// Cache compiled code between runs: start-up latency is part of the product.
// In the install, not os.tmpdir(), where any user could plant code for root
// (NODE_COMPILE_CACHE still wins; unwritable only means no cache).
module.enableCompileCache?.(fileURLToPath(new URL("../.compile-cache", import.meta.url)));

// The defaults are the config loader's, so they are stated in the
// descriptions rather than given to the parser.
const valueFlagRows = [
  [
    "config",
    "FILE",
    "TOML config (default: $SBX_SANDBOXER_CONFIG, else /etc/sbx-sandboxer/config.toml)",
  ],
  ["state-dir", "DIR", "state directory (default /run/sbx-sandboxer)"],
  ["listen", "PATH", "gRPC socket (default <state-dir>/sandboxer.sock)"],
  ["task-socket", "PATH", "ttrpc socket (default <state-dir>/task.sock)"],
  ["log-level", "LEVEL", "trace, debug, info, warn, error"],
  ["events-address", "PATH", "a ttrpc events endpoint that gets every event"],
  ["cgroup-parent", "PATH", "parent cgroup of the sandboxes (default sbx-sandboxer)"],
  ["bridge", "NAME", "CNI bridge (default sbx0)"],
  ["subnet", "CIDR", "pod subnet (default 10.88.0.0/16)"],
  ["cni-bin-dir", "DIR", "CNI plugins (default /usr/lib/cni)"],
] as const;

const switches = [
  {
    name: "no-network",
    type: "switch",
    description: "no CNI networking (pods get an empty netns)",
  },
  { name: "version", short: "v", type: "switch", description: "print the version" },
  { name: "help", short: "h", type: "switch", description: "show this help" },
] as const satisfies readonly FlagSpec[];

function usage(flagLines: readonly string[]): string {
  return `usage: sbx-sandboxer [options]

A domain sandboxer for Linux pods: one process per node owning every sandbox.
Serves gRPC containerd.services.sandbox.v1.Controller on --listen and ttrpc Task
(v2, v3), Sandbox and sandboxd.sandboxer.v1.Sandboxer on --task-socket.

options:
${flagLines.join("\n")}
`;
}

async function main(): Promise<number> {
  // Loaded here, not imported above: the compile cache must be on first.
  const { flagHelp, parseArgs, valueFlags } = await import("@sandboxd/core/args");
  const flags = [...valueFlags(valueFlagRows), ...switches];
  const { flags: values } = parseArgs(process.argv.slice(2), flags, {
    program: "sbx-sandboxer",
    command: "",
  });
  if (values.help) {
    process.stdout.write(usage(flagHelp(flags)));
    return 0;
  }
  if (values.version) {
    process.stdout.write("sbx-sandboxer 0.1.0\n");
    return 0;
  }
  const { loadConfig } = await import("../config/config.js");
  const config = loadConfig({
    config: values.config,
    stateDir: values["state-dir"],
    listen: values.listen,
    taskSocket: values["task-socket"],
    logLevel: values["log-level"],
    eventsAddress: values["events-address"],
    cgroupParent: values["cgroup-parent"],
    bridge: values.bridge,
    subnet: values.subnet,
    cniBinDir: values["cni-bin-dir"],
    network: values["no-network"] ? false : undefined,
  });
  const { createLogger } = await import("@sandboxd/core");
  const log = createLogger({ level: config.logLevel, name: "sbx-sandboxer" });
  // One failed background task must not take every pod's control plane down with it.
  process.on("unhandledRejection", (reason) => log.error({ error: reason }, "unhandled rejection"));
  const { startDaemon } = await import("../daemon.js");
  const { isAlreadyExists } = await import("@sandboxd/errdefs");
  let daemon;
  try {
    daemon = await startDaemon(config, log);
  } catch (err) {
    if (isAlreadyExists(err)) {
      // Another instance owns this state directory (a concurrent start): not an error.
      log.info({ state_dir: config.stateDir }, "already running");
      return 0;
    }
    throw err;
  }
  const running = daemon;
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      log.info({ signal }, "shutting down (pods keep running)");
      void running.close().finally(resolve);
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  });
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`sbx-sandboxer: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
