/**
 * sbx-sandboxer hosted inside sandboxd (`[sandbox] in_process`), the way
 * containerd hosts its podsandbox controller: the same daemon as the
 * sbx-sandboxer executable (instance lock, recovery of the state directory,
 * ttrpc Task/Sandbox/Sandboxer services on `task_socket`, monitor sweep), but
 * its Controller is called directly instead of over gRPC, and its events go
 * straight to the host instead of to `events_address`. On a single node this
 * saves a whole Node process (docs/benchmarks-memory.md).
 *
 * The one entry point another package may import (`@sandboxd/sandboxer/in-process`);
 * sandboxd loads it only when configured.
 */
import type { Controller } from "@sandboxd/api/services/sandbox/v1/sandbox_pb";
import type { Envelope } from "@sandboxd/api/types/event_pb";
import type { Logger } from "@sandboxd/core";
import type { ServiceImpl } from "@sandboxd/grpc";
import { loadConfig } from "./config/config.js";
import { startDaemon } from "./daemon.js";

export interface InProcessOptions {
  /** The sandboxer's config file (default: $SBX_SANDBOXER_CONFIG, else /etc/sbx-sandboxer/config.toml). */
  configPath?: string | undefined;
  log: Logger;
  /** Every event the sandboxer publishes, in order (its `events_address` is not used). */
  events: (envelope: Envelope) => void;
}

export interface InProcessSandboxer {
  /** The Controller's implementation, as its gRPC server would serve it. */
  readonly controller: ServiceImpl<typeof Controller>;
  /** Where tasks are served (`ttrpc+unix://…`, what Start and Status answer). */
  readonly taskSocket: string;
  readonly stateDir: string;
  /** Stops serving; pods and containers keep running (as a SIGTERM of sbx-sandboxer). */
  close(): Promise<void>;
}

export async function startInProcess(o: InProcessOptions): Promise<InProcessSandboxer> {
  const config = loadConfig({ config: o.configPath });
  if (config.eventsAddress) {
    o.log.info(
      { events_address: config.eventsAddress },
      "in process: events go to the host directly; events_address is not used",
    );
  }
  config.eventsAddress = "";
  // sbx-sandboxer's own rule, kept when hosted: one failed background task must not take
  // every pod's control plane (now the host's too) down with it.
  process.on("unhandledRejection", (reason) =>
    o.log.error({ error: reason }, "unhandled rejection"),
  );
  const daemon = await startDaemon(config, o.log, {
    serveController: false,
    localEvents: o.events,
  });
  return {
    controller: daemon.controller,
    taskSocket: config.taskSocket,
    stateDir: config.stateDir,
    close: () => daemon.close(),
  };
}
