/**
 * sbx-sandboxer hosted in sandboxd's own process (`[sandbox] in_process =
 * "NAME"`), as containerd hosts its podsandbox controller: on a single node,
 * one Node process instead of two (docs/benchmarks-memory.md).
 * The sandboxer is the same code as the sbx-sandboxer executable, started from
 * its one public entry point (`@sandboxd/sandboxer/in-process`, imported only
 * when configured, so a daemon without it never loads the sandboxer):
 *
 * - its Controller is a ProxyController whose transport is a local client of
 *   the sandboxer's Controller implementation (no gRPC socket);
 * - its tasks are still served on its ttrpc `task_socket`, which Start and
 *   Status name, so task routing is the same as with a separate sandboxer;
 * - its events come here instead of going to an `events_address`. They are
 *   held until the daemon has loaded its tasks (what a restarted separate
 *   sandboxer's retries amount to), so that an exit the sandboxer recovered
 *   is matched against the task that sandboxd's own recovery found stopped.
 *
 * A restart of sandboxd restarts the sandboxer with it: both recover from
 * disk, and pods and containers keep running meanwhile (conmon holds them).
 */
import type { Envelope } from "@sandboxd/api/types/event_pb";
import { Controller } from "@sandboxd/api/services/sandbox/v1/sandbox_pb";
import type { Logger } from "@sandboxd/core";
import { localClient } from "@sandboxd/grpc";
import { ProxyController } from "./proxy-controller.js";

export interface HostedSandboxer {
  readonly controller: ProxyController;
  /** Lets the sandboxer's events through (the ones held so far first). */
  openEvents(): void;
  /** Stops serving; pods keep running. */
  close(): Promise<void>;
}

export async function hostSandboxer(o: {
  name: string;
  /** The sandboxer's config file; "" for its default. */
  configPath: string;
  log: Logger;
  forward: (envelope: Envelope) => void;
}): Promise<HostedSandboxer> {
  const held: Envelope[] = [];
  let open = false;
  const deliver = (envelope: Envelope): void => {
    try {
      o.forward(envelope);
    } catch (err) {
      o.log.warn({ error: err, topic: envelope.topic }, "in-process sandboxer event dropped");
    }
  };
  const { startInProcess } = await import("@sandboxd/sandboxer/in-process");
  const sbx = await startInProcess({
    configPath: o.configPath || undefined,
    log: o.log.child({ sandboxer: o.name }),
    events: (envelope) => (open ? deliver(envelope) : held.push(envelope)),
  });
  const client = localClient(Controller, sbx.controller);
  const controller = new ProxyController(o.name, {
    where: `in process (state ${sbx.stateDir})`,
    client,
    reset: () => undefined,
    close: () => undefined,
  });
  o.log.info(
    { sandboxer: o.name, state_dir: sbx.stateDir, task_socket: sbx.taskSocket },
    "sbx-sandboxer in process",
  );
  return {
    controller,
    openEvents() {
      open = true;
      for (const envelope of held.splice(0)) deliver(envelope);
    },
    close: () => sbx.close(),
  };
}
