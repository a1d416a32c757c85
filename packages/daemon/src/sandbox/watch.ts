/**
 * What sandboxd knows of each sandbox instance while it runs: the last state
 * and task endpoint its controller reported, whether the controller can be
 * reached (and why not), and one exit monitor per instance — a controller
 * Wait made by the daemon itself, armed as Start answers and again after a restart,
 * retried with backoff while the controller is unreachable. `/sandboxes/exit`
 * is published once, when that Wait returns; every client Wait shares it.
 *
 * An unreachable controller never makes a sandbox disappear: Status answers
 * SANDBOX_NOTREADY with the reason in `info.reason`, and a background refresh
 * (backoff up to 10 s) asks again until the controller answers.
 */
import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import {
  isDeadlineExceeded,
  isNotFound,
  isUnavailable,
  messageOf,
  unavailable,
} from "@sandboxd/errdefs";
import {
  NamespacedMap,
  abortReason,
  sleep,
  withLogFields,
  withNamespace,
  withSignal,
  withTimeout,
  type Ctx,
} from "@sandboxd/core";
import { Topic } from "@sandboxd/api";
import { SandboxExitSchema } from "@sandboxd/api/events/sandbox_pb";
import { publishEvent, type Publisher } from "../events/exchange.js";
import type { TaskEndpoint } from "../runtime/sandbox-task.js";
import {
  SandboxState,
  type ExitStatus,
  type SandboxController,
  type StatusResult,
} from "./controller.js";

/** How long a status query may take before the controller counts as unreachable. */
const statusTimeoutMs = 5000;
const firstRetryMs = 128;
const maxWaitRetryMs = 4096;
const maxRefreshMs = 10_000;

export interface Live {
  readonly namespace: string;
  readonly id: string;
  sandboxer: string;
  endpoint: TaskEndpoint | undefined;
  /** Why the controller cannot be reached ("" when it can). */
  unreachable: string;
  monitor: Promise<ExitStatus> | undefined;
  exit: ExitStatus | undefined;
  refreshing: boolean;
  readonly abort: AbortController;
}

export class Watch {
  readonly #root: Ctx;
  readonly #publisher: Publisher;
  readonly #controllers: (name: string) => SandboxController | undefined;
  readonly #onEndpoint: (live: Live) => void;
  readonly #live = new NamespacedMap<Live>();
  readonly #abort = new AbortController();

  constructor(options: {
    root: Ctx;
    publisher: Publisher;
    controller: (name: string) => SandboxController | undefined;
    /** A new endpoint was reported (to persist it). */
    onEndpoint: (live: Live) => void;
  }) {
    this.#root = options.root;
    this.#publisher = options.publisher;
    this.#controllers = options.controller;
    this.#onEndpoint = options.onEndpoint;
  }

  get(namespace: string, id: string): Live | undefined {
    return this.#live.get(namespace, id);
  }

  /** The instance's entry, made if needed. */
  track(namespace: string, id: string, sandboxer: string, endpoint?: TaskEndpoint): Live {
    let live = this.#live.get(namespace, id);
    if (!live) {
      const abort = new AbortController();
      this.#abort.signal.addEventListener("abort", () => abort.abort(this.#abort.signal.reason), {
        once: true,
      });
      live = {
        namespace,
        id,
        sandboxer,
        endpoint,
        unreachable: "",
        monitor: undefined,
        exit: undefined,
        refreshing: false,
        abort,
      };
      this.#live.set(namespace, id, live);
    }
    live.sandboxer = sandboxer;
    if (endpoint && endpoint.address !== "") live.endpoint = endpoint;
    return live;
  }

  /** The instance is gone (Shutdown): its monitor and refresh stop. */
  forget(namespace: string, id: string): void {
    const live = this.#live.get(namespace, id);
    if (!live) return;
    this.#live.delete(namespace, id);
    live.abort.abort(unavailable(`sandbox ${JSON.stringify(id)} was shut down`));
  }

  /** Starts the exit monitor (after Start; after a restart); a new Start re-arms an ended one. */
  arm(live: Live, restart = false): Promise<ExitStatus> {
    if (live.monitor && !restart) return live.monitor;
    live.exit = undefined;
    const monitor = this.#monitor(live);
    live.monitor = monitor;
    // A monitor that ends in error is dropped, so the next Wait arms a new one.
    monitor.catch(() => {
      if (live.monitor === monitor) live.monitor = undefined;
    });
    return monitor;
  }

  /**
   * After a Start: the monitor of an earlier start is dropped now, and the new one armed on
   * the next turn of the event loop, off the Start's reply path (its controller Wait is one
   * more call to the sandboxer); a Wait asked before then arms it, and shares it.
   */
  rearm(live: Live): void {
    live.monitor = undefined;
    live.exit = undefined;
    setImmediate(() => {
      if (this.#live.get(live.namespace, live.id) === live && !live.abort.signal.aborted)
        void this.arm(live);
    });
  }

  /** A client's Wait: the shared monitor, for as long as the client waits. */
  async wait(ctx: Ctx, live: Live): Promise<ExitStatus> {
    const monitor = this.arm(live);
    return await new Promise<ExitStatus>((resolve, reject) => {
      const onAbort = (): void => reject(abortReason(ctx.signal));
      if (ctx.signal.aborted) return onAbort();
      ctx.signal.addEventListener("abort", onAbort, { once: true });
      monitor.then(resolve, reject).finally(() => ctx.signal.removeEventListener("abort", onAbort));
    });
  }

  /**
   * Asks the controller for the sandbox's status. An unreachable controller
   * (or one that does not know the sandbox) gives SANDBOX_NOTREADY with the
   * reason, never an error; a refresh then keeps asking in the background.
   */
  async status(ctx: Ctx, live: Live, verbose: boolean): Promise<StatusResult> {
    return (await this.query(ctx, live, verbose)).status;
  }

  /** Status, and whether the controller answered that it does not know the sandbox. */
  async query(
    ctx: Ctx,
    live: Live,
    verbose: boolean,
  ): Promise<{ status: StatusResult; unknown: boolean }> {
    const known = (status: StatusResult): { status: StatusResult; unknown: boolean } => ({
      status,
      unknown: false,
    });
    const controller = this.#controllers(live.sandboxer);
    if (!controller) {
      return known(
        this.#notReady(live, `sandboxer ${JSON.stringify(live.sandboxer)} is not configured`),
      );
    }
    const bounded = withTimeout(ctx, statusTimeoutMs);
    try {
      const s = await controller.status(bounded.ctx, live.id, verbose);
      live.unreachable = "";
      if (s.address !== "" && !sameEndpoint(live.endpoint, s)) {
        live.endpoint = { address: s.address, version: s.version };
        this.#onEndpoint(live);
      }
      return known({
        ...s,
        address: s.address || live.endpoint?.address || "",
        version: s.address ? s.version : (live.endpoint?.version ?? 0),
      });
    } catch (err) {
      if (isNotFound(err)) {
        const reason = `sandboxer ${JSON.stringify(live.sandboxer)} does not know the sandbox: ${messageOf(err)}`;
        return { status: this.#notReady(live, reason), unknown: true };
      }
      if (!isUnavailable(err) && !(isDeadlineExceeded(err) && !ctx.signal.aborted)) throw err;
      live.unreachable = messageOf(err);
      this.refresh(live);
      return known(this.#notReady(live, live.unreachable));
    } finally {
      bounded.done();
    }
  }

  /** Keeps asking an unreachable controller (backoff) until it answers. */
  refresh(live: Live): void {
    if (live.refreshing) return;
    live.refreshing = true;
    void (async () => {
      let delay = firstRetryMs;
      try {
        while (!live.abort.signal.aborted) {
          await sleep(delay, live.abort.signal);
          if (live.abort.signal.aborted) return;
          await this.status(this.#ctx(live), live, false).catch(() => undefined);
          if (live.unreachable === "") {
            this.#ctx(live).log.info("sandboxer reachable again");
            return;
          }
          delay = Math.min(delay * 2, maxRefreshMs);
        }
      } finally {
        live.refreshing = false;
      }
    })();
  }

  close(): void {
    this.#abort.abort(unavailable("sandboxd is stopping"));
  }

  async #monitor(live: Live): Promise<ExitStatus> {
    const ctx = this.#ctx(live);
    let delay = firstRetryMs;
    for (;;) {
      const controller = this.#controllers(live.sandboxer);
      if (!controller)
        throw unavailable(`sandboxer ${JSON.stringify(live.sandboxer)} is not configured`);
      try {
        const exit = await controller.wait(ctx, live.id);
        live.exit = exit;
        publishEvent(this.#publisher, ctx, Topic.SandboxExit, SandboxExitSchema, {
          sandboxId: live.id,
          exitStatus: exit.exitStatus,
          exitedAt: exit.exitedAt ?? timestampFromMs(Date.now()),
        });
        ctx.log.info(
          {
            exit_status: exit.exitStatus,
            exited_at: exit.exitedAt ? new Date(timestampMs(exit.exitedAt)).toISOString() : "",
          },
          "sandbox exited",
        );
        return exit;
      } catch (err) {
        if (live.abort.signal.aborted) throw abortReason(live.abort.signal);
        if (!isUnavailable(err)) throw err;
        live.unreachable = messageOf(err);
        this.refresh(live);
        await sleep(delay, live.abort.signal);
        delay = Math.min(delay * 2, maxWaitRetryMs);
      }
    }
  }

  #notReady(live: Live, reason: string): StatusResult {
    return {
      pid: 0,
      state: SandboxState.NotReady,
      info: { reason },
      address: live.endpoint?.address ?? "",
      version: live.endpoint?.version ?? 0,
      exitedAt: live.exit?.exitedAt,
    };
  }

  #ctx(live: Live): Ctx {
    return withSignal(
      withLogFields(withNamespace(this.#root, live.namespace), {
        sandbox_id: live.id,
        sandboxer: live.sandboxer,
      }),
      live.abort.signal,
    );
  }
}

function sameEndpoint(a: TaskEndpoint | undefined, s: StatusResult): boolean {
  return a !== undefined && a.address === s.address && a.version === s.version;
}
