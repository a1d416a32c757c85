/**
 * Starting processes without holding the event loop. child_process.spawn is
 * synchronous: libuv forks the whole process (page tables in proportion to its
 * memory) and then blocks until the child has exec'd, 5–20 ms on a busy machine;
 * a daemon that starts a few helpers per pod, for many pods at once, spends
 * most of its loop there and its pods advance in lockstep. Here the spawn runs
 * on a worker thread, started on first use and unreferenced while nothing is in
 * flight (it never keeps a process alive). The worker shares the process's
 * descriptor table, so descriptors pass to it as numbers.
 */
import { Worker } from "node:worker_threads";
import { messageOf, unavailable } from "@sandboxd/errdefs";
import {
  spawnerWorker,
  type FromWorker,
  type StdioEntry,
  type ToWorker,
} from "./spawner-worker.js";

export type { StdioEntry } from "./spawner-worker.js";

export interface ChildOptions {
  env?: NodeJS.ProcessEnv | undefined;
  cwd?: string | undefined;
  /** Own process group (setsid), as child_process's `detached`. */
  detached?: boolean | undefined;
  /** The child's descriptors 0, 1, 2, …: "pipe" (0–2 only), "ignore", or a descriptor of ours. */
  stdio: readonly StdioEntry[];
  /** Written to a piped stdin, which is then closed (empty: closed at once). */
  input?: string | Uint8Array | undefined;
  /** Output of piped stdout (1) and stderr (2), in arrival order. */
  onData?: ((fd: 1 | 2, chunk: Buffer) => void) | undefined;
  /**
   * Until when a caller waits on this child, keeping the process alive: its
   * start (a long-lived process left to run), its exit, or the close of its
   * pipes too (default).
   */
  awaited?: "spawn" | "exit" | "close" | undefined;
}

export interface ExitStatus {
  /** The exit code; null when a signal ended the program. */
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A process started by the spawner; its events come from the worker that reaps it. */
export interface SpawnedChild {
  /** Resolves with the pid once the program runs; rejects with why it could not start. */
  readonly spawned: Promise<number>;
  /**
   * Resolves when it exits (rejects only if the spawner stopped first), keeping
   * the process alive meanwhile, whatever `awaited` said.
   */
  wait(): Promise<ExitStatus>;
  /** Resolves when it has exited and every pipe is closed. */
  readonly closed: Promise<ExitStatus>;
  /** Its exit status once known. */
  readonly status: ExitStatus | undefined;
  /** Signals it unless it has been reaped (never a pid that may have been reused). */
  kill(signal?: NodeJS.Signals): void;
}

interface Entry {
  onData: ChildOptions["onData"];
  awaited: NonNullable<ChildOptions["awaited"]>;
  holding: boolean;
  status: ExitStatus | undefined;
  spawn: Settler<number>;
  exit: Settler<ExitStatus>;
  close: Settler<ExitStatus>;
}

interface Settler<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (err: unknown) => void;
}

function settler<T>(): Settler<T> {
  const s = Promise.withResolvers<T>();
  // Callers await only what they need; the rest must not surface as unhandled.
  s.promise.catch(() => undefined);
  return s;
}

let worker: Worker | undefined;
let nextId = 1;
const entries = new Map<number, Entry>();
/** Entries a caller still waits on: the worker is referenced while there are any. */
let holding = 0;

function release(entry: Entry): void {
  if (!entry.holding) return;
  entry.holding = false;
  if (--holding === 0) worker?.unref();
}

function started(): Worker {
  if (worker) return worker;
  const w = new Worker(
    `(${String(spawnerWorker)})(require("node:child_process"), require("node:worker_threads").parentPort)`,
    // A spawn loop needs little heap; the limits keep the isolate small.
    { eval: true, name: "sandboxd-spawner", resourceLimits: { maxOldGenerationSizeMb: 16 } },
  );
  w.on("message", (m: FromWorker) => deliver(m));
  w.on("error", (err: unknown) => gone(w, `worker failed: ${messageOf(err)}`));
  w.on("exit", (code) => gone(w, `worker exited with ${code}`));
  w.unref();
  worker = w;
  return w;
}

/** The worker `w` is gone: whatever waits on its children learns it. */
function gone(w: Worker, why: string): void {
  if (worker !== w) return;
  worker = undefined;
  for (const [id, entry] of entries) {
    entries.delete(id);
    const err = unavailable(`process spawner: ${why}`);
    entry.spawn.reject(err);
    entry.exit.reject(err);
    entry.close.reject(err);
    release(entry);
  }
}

function deliver(m: FromWorker): void {
  const entry = entries.get(m.id);
  if (!entry) return;
  switch (m.t) {
    case "spawn":
      entry.spawn.resolve(m.pid);
      if (entry.awaited === "spawn") release(entry);
      return;
    case "error":
      entries.delete(m.id);
      entry.spawn.reject(new Error(m.message));
      entry.exit.reject(new Error(m.message));
      entry.close.reject(new Error(m.message));
      release(entry);
      return;
    case "data":
      entry.onData?.(m.fd, Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength));
      return;
    case "exit":
      entry.status = { code: m.code, signal: m.signal };
      entry.exit.resolve(entry.status);
      if (entry.awaited === "exit") release(entry);
      return;
    case "close":
      entries.delete(m.id);
      entry.status = { code: m.code, signal: m.signal };
      entry.exit.resolve(entry.status);
      entry.close.resolve(entry.status);
      release(entry);
  }
}

/** Starts `file args` on the spawner's worker; see SpawnedChild. */
export function spawnChild(
  file: string,
  args: readonly string[],
  options: ChildOptions,
): SpawnedChild {
  const w = started();
  const id = nextId++;
  const entry: Entry = {
    onData: options.onData,
    awaited: options.awaited ?? "close",
    holding: true,
    status: undefined,
    spawn: settler(),
    exit: settler(),
    close: settler(),
  };
  entries.set(id, entry);
  if (holding++ === 0) w.ref();
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(options.env ?? process.env)) if (v !== undefined) env[k] = v;
  const request: ToWorker = {
    t: "spawn",
    id,
    file,
    args: [...args],
    env,
    cwd: options.cwd,
    detached: options.detached ?? false,
    stdio: [...options.stdio],
    input: options.input ?? "",
  };
  w.postMessage(request);
  return {
    spawned: entry.spawn.promise,
    wait() {
      if (entry.status === undefined && entries.has(id)) {
        if (entry.awaited === "spawn") entry.awaited = "exit";
        if (!entry.holding) {
          entry.holding = true;
          if (holding++ === 0) worker?.ref();
        }
      }
      return entry.exit.promise;
    },
    closed: entry.close.promise,
    get status() {
      return entry.status;
    },
    kill(signal: NodeJS.Signals = "SIGTERM") {
      // Sent after the spawn request on the same port: the worker has the child (or its error).
      if (entries.has(id) && entry.status === undefined)
        worker?.postMessage({ t: "kill", id, signal } satisfies ToWorker);
    },
  };
}

/**
 * Stops the worker (a daemon's shutdown; it is unreferenced, so a process may
 * also just exit). Children keep running; what was awaited rejects Unavailable.
 * A later spawn starts a new worker.
 */
export async function stopSpawner(): Promise<void> {
  const w = worker;
  if (!w) return;
  await w.terminate();
  gone(w, "stopped");
}

/** Whether the spawner's worker is running (for tests and diagnostics). */
export function spawnerRunning(): boolean {
  return worker !== undefined;
}
