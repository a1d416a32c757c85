import module from "node:module";
import type { FlagSpec } from "@sandboxd/core/args";

// Cache compiled code between runs: start-up latency is part of the product.
module.enableCompileCache?.();

const flags = [
  {
    name: "config",
    type: "value",
    valueName: "FILE",
    description:
      "TOML config (default: $SBX_SANDBOXER_CONFIG, else /etc/sbx-sandboxer/config.toml)",
  },
  {
    name: "state-dir",
    type: "value",
    valueName: "DIR",
    description: "state directory (default /run/sbx-sandboxer)",
  },
  {
    name: "listen",
    type: "value",
    valueName: "PATH",
    description: "gRPC socket (default <state-dir>/sandboxer.sock)",
  },
  {
    name: "task-socket",
    type: "value",
    valueName: "PATH",
    description: "ttrpc socket (default <state-dir>/task.sock)",
  },
  {
    name: "log-level",
    type: "value",
    valueName: "LEVEL",
    description: "trace, debug, info, warn, error",
  },
  {
    name: "events-address",
    type: "value",
    valueName: "PATH",
    description: "a ttrpc events endpoint that gets every event",
  },
  {
    name: "cgroup-parent",
    type: "value",
    valueName: "PATH",
    description: "parent cgroup of the sandboxes (default sbx-sandboxer)",
  },
  { name: "bridge", type: "value", valueName: "NAME", description: "CNI bridge (default sbx0)" },
  {
    name: "subnet",
    type: "value",
    valueName: "CIDR",
    description: "pod subnet (default 10.88.0.0/16)",
  },
  {
    name: "cni-bin-dir",
    type: "value",
    valueName: "DIR",
    description: "CNI plugins (default /usr/lib/cni)",
  },
  {
    name: "no-network",
    type: "switch",
    description: "no CNI networking (pods get an empty netns)",
  },
  { name: "version", short: "v", type: "switch", description: "print the version" },
  { name: "help", short: "h", type: "switch", description: "show this help" },
] as const satisfies readonly FlagSpec[];

function usage(flagHelp: (specs: readonly FlagSpec[]) => string[]): string {
  return `usage: sbx-sandboxer [options]

A domain sandboxer for Linux pods: one process per node owning every sandbox.
Serves gRPC containerd.services.sandbox.v1.Controller on --listen and ttrpc Task
(v2, v3), Sandbox and sandboxd.sandboxer.v1.Sandboxer on --task-socket.

options:
${flagHelp(flags).join("\n")}
`;
}

async function main(): Promise<number> {
  // Loaded here, not imported above: the compile cache must be on first.
  const { flagHelp, parseArgs } = await import("@sandboxd/core/args");
  const { flags: values } = parseArgs(process.argv.slice(2), flags, {
    program: "sbx-sandboxer",
    command: "",
  });
  if (values.help) {
    process.stdout.write(usage(flagHelp));
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
