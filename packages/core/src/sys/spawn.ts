/**
 * posix_spawn(3) through koffi. Node's child_process forks the daemon (libuv
 * uses fork(2)): its page tables are copied, the event loop waits until the
 * child execs, and the parent takes copy-on-write faults meanwhile. glibc's
 * posix_spawn clones with CLONE_VM|CLONE_VFORK: nothing is copied and only the
 * calling thread waits for the exec. The children are not libuv's, so Node
 * never reaps them; ../process/child.ts does, by pid.
 */
import { accessSync, constants as fsConstants } from "node:fs";
import { constants } from "node:os";
import { delimiter, join } from "node:path";
import { errnoError, openLibc } from "./libc.js";

// glibc x86_64's sizes (checked with sizeof), with room to spare: the structs are opaque.
const fileActionsSize = 80 + 48;
const attrSize = 336 + 48;
const sigsetSize = 128;

const SETSIGDEF = 0x04;
const SETSIGMASK = 0x08;
const SETSID = 0x80;
const O_CLOEXEC = 0o2000000;
const F_DUPFD_CLOEXEC = 1030;
export const WNOHANG = 1;

interface Ffi {
  pipe2: (fds: Buffer, flags: number) => number;
  close: (fd: number) => number;
  /** fcntl(F_DUPFD_CLOEXEC): a close-on-exec copy of `fd` numbered at least `min`. */
  dupAbove: (fd: number, min: number) => number;
  faInit: (fa: Buffer) => number;
  faDestroy: (fa: Buffer) => number;
  faDup2: (fa: Buffer, fd: number, newfd: number) => number;
  faOpen: (fa: Buffer, fd: number, path: string, flags: number, mode: number) => number;
  faChdir: (fa: Buffer, path: string) => number;
  attrInit: (attr: Buffer) => number;
  attrDestroy: (attr: Buffer) => number;
  attrSetFlags: (attr: Buffer, flags: number) => number;
  attrSetSigDefault: (attr: Buffer, set: Buffer) => number;
  attrSetSigMask: (attr: Buffer, set: Buffer) => number;
  sigemptyset: (set: Buffer) => number;
  spawn: (
    pid: Buffer,
    path: string,
    fa: Buffer,
    attr: Buffer,
    argv: (string | null)[],
    envp: (string | null)[],
  ) => number;
  waitpid: (pid: number, status: Buffer, options: number) => number;
  errno: () => number;
}

let ffi: Promise<Ffi> | undefined;

/** Loads the bindings once; rejects when koffi or libc cannot be loaded. */
export function loadSpawn(): Promise<Ffi> {
  ffi ??= openLibc().then(({ koffi, lib }) => {
    const f = (decl: string): unknown => lib.func(decl);
    return {
      pipe2: f("int pipe2(void *fds, int flags)") as Ffi["pipe2"],
      close: f("int close(int fd)") as Ffi["close"],
      dupAbove: (
        (fcntl: (fd: number, cmd: number, ...rest: unknown[]) => number) =>
        (fd: number, min: number) =>
          fcntl(fd, F_DUPFD_CLOEXEC, "int", min)
      )(
        lib.func("int fcntl(int fd, int cmd, ...)") as (
          fd: number,
          cmd: number,
          ...rest: unknown[]
        ) => number,
      ),
      faInit: f("int posix_spawn_file_actions_init(void *fa)") as Ffi["faInit"],
      faDestroy: f("int posix_spawn_file_actions_destroy(void *fa)") as Ffi["faDestroy"],
      faDup2: f(
        "int posix_spawn_file_actions_adddup2(void *fa, int fd, int newfd)",
      ) as Ffi["faDup2"],
      faOpen: f(
        "int posix_spawn_file_actions_addopen(void *fa, int fd, const char *path, int flags, uint32_t mode)",
      ) as Ffi["faOpen"],
      faChdir: f(
        "int posix_spawn_file_actions_addchdir_np(void *fa, const char *path)",
      ) as Ffi["faChdir"],
      attrInit: f("int posix_spawnattr_init(void *attr)") as Ffi["attrInit"],
      attrDestroy: f("int posix_spawnattr_destroy(void *attr)") as Ffi["attrDestroy"],
      attrSetFlags: f(
        "int posix_spawnattr_setflags(void *attr, short flags)",
      ) as Ffi["attrSetFlags"],
      attrSetSigDefault: f(
        "int posix_spawnattr_setsigdefault(void *attr, const void *set)",
      ) as Ffi["attrSetSigDefault"],
      attrSetSigMask: f(
        "int posix_spawnattr_setsigmask(void *attr, const void *set)",
      ) as Ffi["attrSetSigMask"],
      sigemptyset: f("int sigemptyset(void *set)") as Ffi["sigemptyset"],
      spawn: f(
        "int posix_spawn(void *pid, const char *path, const void *fa, const void *attr, const char **argv, const char **envp)",
      ) as Ffi["spawn"],
      waitpid: f("int waitpid(int pid, void *status, int options)") as Ffi["waitpid"],
      errno: () => koffi.errno(),
    };
  });
  return ffi;
}

/** An error like the one Node's spawn emits: `spawn file ENOENT`, with code/errno/syscall/path. */
export function spawnError(errno: number, file: string): NodeJS.ErrnoException {
  return errnoError(errno, `spawn ${file}`, file, (code) => `spawn ${file} ${code}`);
}

/**
 * What each of the child's fds 0..n-1 is: a new pipe (the parent writes fd 0's
 * and reads the others'), /dev/null, or one of the parent's fds as-is.
 */
export type StdioMode = "pipe" | "ignore" | number;

export interface Spawned {
  pid: number;
  /** The parent's ends of the pipes (O_CLOEXEC), null where the mode was not "pipe". */
  stdio: (number | null)[];
}

export interface SpawnRequest {
  file: string;
  args: readonly string[];
  env: NodeJS.ProcessEnv;
  cwd?: string | undefined;
  /** A new session, as Node's `detached` (setsid). */
  detached?: boolean | undefined;
  stdio: readonly StdioMode[];
}

/**
 * Starts the program; throws an ErrnoException like Node's when it cannot
 * (the exec's own failure included: glibc reports it as the return value).
 */
export function posixSpawn(c: Ffi, req: SpawnRequest): Spawned {
  const path = resolve(req.file, req.env);
  if (path === undefined) throw spawnError(constants.errno.ENOENT, req.file);
  const mine: number[] = [];
  const theirs: number[] = [];
  const fa = Buffer.alloc(fileActionsSize);
  const attr = Buffer.alloc(attrSize);
  let faReady = false;
  let attrReady = false;
  try {
    if (c.faInit(fa) !== 0) throw spawnError(c.errno(), req.file);
    faReady = true;
    if (c.attrInit(attr) !== 0) throw spawnError(c.errno(), req.file);
    attrReady = true;
    const n = req.stdio.length;
    const parent: Spawned["stdio"] = [];
    const sources: (number | "ignore")[] = req.stdio.map((mode, i) => {
      if (mode !== "pipe") return mode;
      const fds = Buffer.alloc(8);
      if (c.pipe2(fds, O_CLOEXEC) !== 0) throw spawnError(c.errno(), req.file);
      const r = fds.readInt32LE(0);
      const w = fds.readInt32LE(4);
      const [ours, child] = i === 0 ? [w, r] : [r, w];
      mine.push(ours);
      theirs.push(child);
      parent[i] = ours;
      return child;
    });
    sources.forEach((src, i) => {
      parent[i] ??= null;
      if (src === "ignore") {
        check(c, c.faOpen(fa, i, "/dev/null", i === 0 ? 0 : 1, 0), req.file);
        return;
      }
      // The dup2s run in order: a source below n could be overwritten by an earlier one, so
      // it is first copied above them (as libuv does in its child).
      let from = src;
      if (src < n && src !== i) {
        from = c.dupAbove(src, n);
        if (from < 0) throw spawnError(c.errno(), req.file);
        theirs.push(from);
      }
      check(c, c.faDup2(fa, from, i), req.file);
    });
    if (req.cwd !== undefined) check(c, c.faChdir(fa, req.cwd), req.file);
    // Node ignores SIGPIPE and may block signals on this thread; a child must start with neither.
    // All 64 bits by hand: sigfillset leaves out glibc's own two signals (32, 33), which its
    // posix_spawn then sets to SIG_IGN, an inheritance Node's children do not get.
    const all = Buffer.alloc(sigsetSize);
    all.fill(0xff, 0, 8);
    const none = Buffer.alloc(sigsetSize);
    c.sigemptyset(none);
    check(c, c.attrSetSigDefault(attr, all), req.file);
    check(c, c.attrSetSigMask(attr, none), req.file);
    check(c, c.attrSetFlags(attr, SETSIGDEF | SETSIGMASK | (req.detached ? SETSID : 0)), req.file);
    const argv = [req.file, ...req.args, null];
    const envp: (string | null)[] = Object.entries(req.env)
      .filter((e): e is [string, string] => e[1] !== undefined)
      .map(([k, v]) => `${k}=${v}`);
    envp.push(null);
    const pidBuf = Buffer.alloc(4);
    check(c, c.spawn(pidBuf, path, fa, attr, argv, envp), req.file);
    mine.length = 0;
    return { pid: pidBuf.readInt32LE(0), stdio: parent };
  } finally {
    if (faReady) c.faDestroy(fa);
    if (attrReady) c.attrDestroy(attr);
    for (const fd of theirs) c.close(fd);
    for (const fd of mine) c.close(fd);
  }
}

/** posix_spawn* return the error number rather than setting errno. */
function check(c: Ffi, rc: number, file: string): void {
  if (rc !== 0) throw spawnError(rc > 0 ? rc : c.errno(), file);
}

/** execvp's lookup, in the child's PATH as Node's spawn does. */
function resolve(file: string, env: NodeJS.ProcessEnv): string | undefined {
  if (file.includes("/")) return file;
  const dirs = (env.PATH ?? "/usr/local/bin:/usr/bin:/bin").split(delimiter);
  for (const dir of dirs) {
    const candidate = join(dir || ".", file);
    try {
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}
