/**
 * sandboxd's entry point: parses the command line, loads the config, then
 * either serves (until SIGTERM/SIGINT) or runs a command (`publish`).
 */
import { access } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createLogger } from "@sandboxd/core";
import { parseArgs, usage, type GlobalArgs } from "./cli/args.js";
import { publish } from "./cli/publish.js";
import {
  applyFlags,
  defaultConfig,
  defaultConfigFile,
  loadConfigFile,
  type LoadedConfig,
} from "./config/config.js";
import { Daemon } from "./server/daemon.js";

/** containerd's API level that sandboxd implements. */
const containerdApiVersion = "1.7.0";

export async function main(argv: readonly string[]): Promise<number> {
  let command;
  try {
    command = parseArgs(argv);
  } catch (err) {
    process.stderr.write(`sandboxd: ${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
  const version = packageVersion();
  if (command.global.help) {
    process.stdout.write(usage);
    return 0;
  }
  if (command.global.version) {
    process.stdout.write(`sandboxd ${version} (containerd API ${containerdApiVersion})\n`);
    return 0;
  }
  let loaded: LoadedConfig;
  try {
    loaded = await loadConfig(command.global);
  } catch (err) {
    process.stderr.write(`sandboxd: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  if (command.name === "publish") {
    try {
      await publish({
        address: loaded.config.grpc.address,
        topic: command.topic,
        namespace: command.namespace,
        input: process.stdin,
      });
      return 0;
    } catch (err) {
      process.stderr.write(
        `sandboxd: publish: ${err instanceof Error ? err.message : String(err)}\n`,
      );
      return 1;
    }
  }
  return serve(loaded, version);
}

async function loadConfig(global: GlobalArgs): Promise<LoadedConfig> {
  let loaded: LoadedConfig = { config: defaultConfig(), warnings: [] };
  if (global.config !== undefined) {
    loaded = await loadConfigFile(global.config);
  } else if (
    await access(defaultConfigFile).then(
      () => true,
      () => false,
    )
  ) {
    loaded = await loadConfigFile(defaultConfigFile);
  }
  return {
    config: applyFlags(loaded.config, {
      root: global.root,
      state: global.state,
      address: global.address,
      logLevel: global.logLevel,
    }),
    warnings: loaded.warnings,
  };
}

async function serve({ config, warnings }: LoadedConfig, version: string): Promise<number> {
  const log = createLogger({ level: config.debug.level, name: "sandboxd" });
  for (const warning of warnings) log.warn(warning);
  // A promise nobody awaited (in a served sbx command, say) is a bug to log, not a
  // reason to take every pod's daemon down, as in sbx-sandboxer.
  process.on("unhandledRejection", (reason) => log.error({ error: reason }, "unhandled rejection"));
  const binDir = process.env.SANDBOXD_BIN_DIR;
  let daemon: Daemon;
  try {
    daemon = await Daemon.start({
      config,
      log,
      publishBinary:
        process.env.SANDBOXD_SELF ?? fileURLToPath(new URL("../bin/sandboxd", import.meta.url)),
      shimDirs: binDir ? [binDir] : [],
      version: { version: `${containerdApiVersion}+sandboxd.${version}`, revision: "sandboxd" },
    });
  } catch (err) {
    log.fatal({ error: err }, "sandboxd failed to start");
    process.stderr.write(`sandboxd: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  log.info(
    {
      address: config.grpc.address,
      ttrpc: config.ttrpc.address,
      root: config.root,
      state: config.state,
      metrics: daemon.metricsAddress,
      version,
    },
    "sandboxd serving",
  );
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, "stopping");
      daemon.stop().then(
        () => {
          log.info("stopped");
          resolve(0);
        },
        (err: unknown) => {
          log.error({ error: err }, "stop failed");
          resolve(1);
        },
      );
    };
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  });
}

function packageVersion(): string {
  try {
    const pkg = JSON.parse(
      readFileSync(fileURLToPath(new URL("../package.json", import.meta.url)), "utf8"),
    ) as { version?: string };
    return pkg.version ?? "0.0.0";
  } catch {
    return "0.0.0";
  }
}
