/**
 * A controller in memory for the sandbox policy's unit tests (no root, no
 * processes): containerd's controller contract (NotFound for a sandbox it
 * never created, idempotent Stop and Shutdown), a random delay in every call,
 * and a count of calls in flight per sandbox to show they never overlap.
 */
import { setTimeout as delay } from "node:timers/promises";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { alreadyExists, notFound, unavailable } from "@sandboxd/errdefs";
import { namespaceRequired, notFoundText, type Ctx } from "@sandboxd/core";
import type { Metric } from "@sandboxd/api/types/metrics_pb";
import type { Sandbox } from "../metadata/types.js";
import type {
  CreateOptions,
  ExitStatus,
  Platform,
  SandboxController,
  StartResult,
  StatusResult,
} from "./controller.js";

interface Held {
  state: "created" | "ready" | "stopped";
  exited: Promise<ExitStatus>;
  exit: (e: ExitStatus) => void;
}

export class FakeController implements SandboxController {
  readonly name: string;
  readonly sandboxes = new Map<string, Held>();
  readonly calls: string[] = [];
  /** Wait calls made. */
  waits = 0;
  /** Most calls seen in flight at once for one sandbox. */
  maxInFlight = 0;
  /** Sandboxes whose Shutdown fails as if the peer were down. */
  readonly unreachable = new Set<string>();
  /** Sandboxes whose Create makes the sandbox, then fails as if the answer were lost. */
  readonly loseCreateAnswer = new Set<string>();
  readonly #inFlight = new Map<string, number>();
  readonly #maxDelayMs: number;

  constructor(name = "fake", maxDelayMs = 5) {
    this.name = name;
    this.#maxDelayMs = maxDelayMs;
  }

  /** A sandbox made behind the manager's back (left by a previous run). */
  put(namespace: string, id: string, state: Held["state"] = "ready"): void {
    this.sandboxes.set(`${namespace}/${id}`, held(state));
  }

  has(namespace: string, id: string): boolean {
    return this.sandboxes.has(`${namespace}/${id}`);
  }

  async create(ctx: Ctx, sandbox: Sandbox, _options: CreateOptions): Promise<void> {
    await this.#call(ctx, sandbox.id, "create", (k) => {
      if (this.sandboxes.has(k)) throw alreadyExists(`sandbox ${sandbox.id}`);
      this.sandboxes.set(k, held("created"));
      if (this.loseCreateAnswer.has(sandbox.id))
        throw unavailable(`the connection closed before ${sandbox.id}'s create answered`);
    });
  }

  async start(ctx: Ctx, id: string): Promise<StartResult> {
    return await this.#call(ctx, id, "start", (k) => {
      const h = this.#get(k, id);
      if (h.state === "stopped") this.sandboxes.set(k, held("ready"));
      else h.state = "ready";
      return { pid: 1, labels: {}, address: `ttrpc+unix:///fake/${id}`, version: 3 };
    });
  }

  async platform(ctx: Ctx, id: string): Promise<Platform> {
    return await this.#call(ctx, id, "platform", (k) => {
      this.#get(k, id);
      return { os: "linux", architecture: "amd64" };
    });
  }

  async stop(ctx: Ctx, id: string, _timeoutSecs: number): Promise<void> {
    await this.#call(ctx, id, "stop", (k) => {
      const h = this.sandboxes.get(k);
      if (!h || h.state === "stopped") return;
      h.state = "stopped";
      h.exit({ exitStatus: 0, exitedAt: timestampFromMs(Date.now()) });
    });
  }

  async wait(ctx: Ctx, id: string): Promise<ExitStatus> {
    this.waits++;
    const h = this.#get(`${namespaceRequired(ctx)}/${id}`, id);
    return await new Promise<ExitStatus>((resolve, reject) => {
      const onAbort = (): void => reject(unavailable("wait aborted"));
      if (ctx.signal.aborted) return onAbort();
      ctx.signal.addEventListener("abort", onAbort, { once: true });
      void h.exited.then(resolve);
    });
  }

  async status(ctx: Ctx, id: string, _verbose: boolean): Promise<StatusResult> {
    return await this.#call(ctx, id, "status", (k) => {
      const h = this.#get(k, id);
      return {
        pid: 1,
        state: h.state === "ready" ? "SANDBOX_READY" : "SANDBOX_NOTREADY",
        info: {},
        address: h.state === "ready" ? `ttrpc+unix:///fake/${id}` : "",
        version: 3,
      };
    });
  }

  async shutdown(ctx: Ctx, id: string, _force: boolean): Promise<void> {
    await this.#call(ctx, id, "shutdown", (k) => {
      if (this.unreachable.has(id)) throw unavailable(`peer of ${id} is down`);
      const h = this.sandboxes.get(k);
      h?.exit({ exitStatus: 137 });
      this.sandboxes.delete(k);
    });
  }

  async metrics(ctx: Ctx, id: string): Promise<Metric | undefined> {
    return await this.#call(ctx, id, "metrics", (k) => {
      this.#get(k, id);
      return undefined;
    });
  }

  async update(ctx: Ctx, id: string, _s: Sandbox, _f: readonly string[]): Promise<void> {
    await this.#call(ctx, id, "update", (k) => void this.#get(k, id));
  }

  load(_ctx: Ctx): Promise<{ namespace: string; id: string }[]> {
    return Promise.resolve(
      [...this.sandboxes.keys()].map((k) => {
        const [namespace = "", id = ""] = k.split("/");
        return { namespace, id };
      }),
    );
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  #get(k: string, id: string): Held {
    const h = this.sandboxes.get(k);
    if (!h) throw notFound(notFoundText("sandbox", id, ` in ${this.name}`));
    return h;
  }

  /** One call: counted in flight (status excepted: it takes no lock), delayed, then done. */
  async #call<T>(ctx: Ctx, id: string, what: string, fn: (key: string) => T): Promise<T> {
    const k = `${namespaceRequired(ctx)}/${id}`;
    const counted = what !== "status";
    this.calls.push(`${what} ${id}`);
    if (counted) {
      const n = (this.#inFlight.get(k) ?? 0) + 1;
      this.#inFlight.set(k, n);
      this.maxInFlight = Math.max(this.maxInFlight, n);
    }
    try {
      await delay(Math.floor(Math.random() * (this.#maxDelayMs + 1)));
      return fn(k);
    } finally {
      if (counted) this.#inFlight.set(k, (this.#inFlight.get(k) ?? 1) - 1);
    }
  }
}

function held(state: Held["state"]): Held {
  let exit!: (e: ExitStatus) => void;
  const exited = new Promise<ExitStatus>((resolve) => (exit = resolve));
  return { state, exited, exit };
}
