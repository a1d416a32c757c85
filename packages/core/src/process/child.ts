/**
 * Children started with posix_spawn (../sys/spawn): their pipes as sockets on
 * the event loop, and their reaping. libuv reaps only its own children, so
 * these are waited for here, by pid (never waitpid(-1), which would take
 * libuv's), whenever SIGCHLD arrives. When koffi cannot load, `spawnChild`
 * resolves undefined and the caller uses Node's spawn.
 */
import { Socket } from "node:net";
import { constants } from "node:os";
import { debuglog } from "node:util";
import { loadSpawn, posixSpawn, WNOHANG, type StdioMode } from "../sys/spawn.js";

const debug = debuglog("sandboxd_spawn");

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Child {
  pid: number;
  stdin: Socket | null;
  stdout: Socket | null;
  stderr: Socket | null;
  /** Every fd's socket (the three above first), null where it was not a pipe. */
  stdio: (Socket | null)[];
  /** Resolves once the child is reaped. */
  exited: Promise<Exit>;
  /** Sends `signal` unless the child is already reaped (its pid may be reused then). */
  kill: (signal?: NodeJS.Signals) => void;
}

export interface ChildOptions {
  env?: NodeJS.ProcessEnv | undefined;
  cwd?: string | undefined;
  detached?: boolean | undefined;
  /** The child's fds 0..n-1; three pipes by default. */
  stdio?: readonly StdioMode[] | undefined;
  /**
   * Whether waiting for its exit keeps the event loop alive (default true); false for a
   * child that outlives this process's work, as Node's `unref()`.
   */
  ref?: boolean | undefined;
}

type Ffi = Awaited<ReturnType<typeof loadSpawn>>;

let loaded: Promise<Ffi | undefined> | undefined;

function load(): Promise<Ffi | undefined> {
  loaded ??= loadSpawn().then(
    (c) => {
      process.on("SIGCHLD", reapAll);
      return c;
    },
    (e: unknown) => {
      debug("posix_spawn unavailable, using node's spawn: %s", String(e));
      return undefined;
    },
  );
  return loaded;
}

const owned = new Map<number, { done: (exit: Exit) => void; ref: boolean }>();
/**
 * Catches a lost wakeup, and keeps the loop alive while a referenced child runs:
 * Node's signal handles are unreferenced.
 */
let poll: NodeJS.Timeout | undefined;
let ffi: Ffi | undefined;
const status = Buffer.alloc(4);

function reapAll(): void {
  if (!ffi) return;
  for (const [pid, { done }] of owned) {
    const r = ffi.waitpid(pid, status, WNOHANG);
    if (r === pid) {
      owned.delete(pid);
      done(decode(status.readInt32LE(0)));
    } else if (r < 0) {
      // ECHILD: not ours any more; nothing else can be learned of its exit.
      owned.delete(pid);
      done({ code: null, signal: null });
    }
  }
  if (owned.size === 0 && poll) {
    clearInterval(poll);
    poll = undefined;
  }
  if (poll && ![...owned.values()].some((o) => o.ref)) poll.unref();
}

const signalNames = new Map<number, NodeJS.Signals>(
  Object.entries(constants.signals).map(([name, n]) => [n, name as NodeJS.Signals]),
);

/** The wait status as Node reports it: an exit code, or the signal that ended the child. */
function decode(s: number): Exit {
  const sig = s & 0x7f;
  if (sig === 0) return { code: (s >> 8) & 0xff, signal: null };
  return { code: null, signal: signalNames.get(sig) ?? null };
}

/** Spawns without copying the process; undefined when posix_spawn is not available here. */
export async function spawnChild(
  file: string,
  args: readonly string[],
  options: ChildOptions = {},
): Promise<Child | undefined> {
  const c = await load();
  if (!c) return undefined;
  ffi = c;
  const stdio = options.stdio ?? ["pipe", "pipe", "pipe"];
  const spawned = posixSpawn(c, {
    file,
    args,
    env: options.env ?? process.env,
    cwd: options.cwd,
    detached: options.detached,
    stdio,
  });
  const { pid } = spawned;
  let reaped = false;
  const exited = new Promise<Exit>((resolve) => {
    owned.set(pid, {
      done: (exit) => {
        reaped = true;
        resolve(exit);
      },
      ref: options.ref ?? true,
    });
  });
  poll ??= setInterval(reapAll, 1000);
  if (options.ref ?? true) poll.ref();
  // It may have exited already, and its SIGCHLD been handled before it was owned.
  reapAll();
  const sockets = spawned.stdio.map((fd, i) =>
    fd === null
      ? null
      : new Socket(
          i === 0
            ? { fd, readable: false, writable: true }
            : { fd, readable: true, writable: false },
        ),
  );
  return {
    pid,
    stdin: sockets[0] ?? null,
    stdout: sockets[1] ?? null,
    stderr: sockets[2] ?? null,
    stdio: sockets,
    exited,
    kill: (signal = "SIGTERM") => {
      if (reaped) return;
      try {
        process.kill(pid, signal);
      } catch {
        // Already gone (a zombie still takes signals, so this is rare).
      }
    },
  };
}
