/**
 * New namespaces pinned to files with no helper process: what util-linux's
 * `unshare --net=FILE --ipc=FILE --uts=FILE hostname NAME` and the CNI loopback
 * plugin do, as system calls on the calling thread through koffi. A process per pod
 * costs a fork and an exec (~3–4 ms each here, more under load); the calls
 * themselves take the kernel's own time to make the namespaces.
 */
import { closeSync, openSync } from "node:fs";
import { errnoError, loadLibc, openLibc, type Libc } from "./libc.js";

export type PinnableKind = "net" | "ipc" | "uts";

const cloneFlag: Record<PinnableKind, number> = {
  net: 0x40000000, // CLONE_NEWNET
  ipc: 0x08000000, // CLONE_NEWIPC
  uts: 0x04000000, // CLONE_NEWUTS
};
const MS_BIND = 0x1000;
const AF_INET = 2;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const SIOCGIFFLAGS = 0x8913;
const SIOCSIFFLAGS = 0x8914;
const IFF_UP = 0x1;
/** struct ifreq: the name (IFNAMSIZ 16), then a union whose first member is ifr_flags. */
const ifreqSize = 40;

/** What pinning adds to the shared libc calls. */
interface PinCalls extends Libc {
  unshare: (flags: number) => number;
  socket: (domain: number, type: number, protocol: number) => number;
  ioctl: (fd: number, request: number, type: string, arg: Buffer) => number;
  close: (fd: number) => number;
}

let calls: Promise<PinCalls> | undefined;

function load(): Promise<PinCalls> {
  calls ??= Promise.all([loadLibc(), openLibc()]).then(([shared, { lib }]) => ({
    ...shared,
    unshare: lib.func("int unshare(int flags)") as PinCalls["unshare"],
    socket: lib.func("int socket(int domain, int type, int protocol)") as PinCalls["socket"],
    ioctl: lib.func("int ioctl(int fd, unsigned long request, ...)") as PinCalls["ioctl"],
    close: lib.func("int close(int fd)") as PinCalls["close"],
  }));
  return calls;
}

function failed(errno: number, syscall: string, path: string): NodeJS.ErrnoException {
  return errnoError(errno, syscall, path, (code) => `${code}: ${syscall} ${path}`);
}

/** Sets "lo" up in the calling thread's network namespace (the CNI loopback plugin's ADD). */
function loopbackUp(c: PinCalls): void {
  const fd = c.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw failed(c.errno(), "socket", "lo");
  try {
    const ifr = Buffer.alloc(ifreqSize);
    ifr.write("lo\0", 0, "latin1");
    if (c.ioctl(fd, SIOCGIFFLAGS, "uint8_t *", ifr) !== 0) throw failed(c.errno(), "ioctl", "lo");
    ifr.writeInt16LE(ifr.readInt16LE(16) | IFF_UP, 16);
    if (c.ioctl(fd, SIOCSIFFLAGS, "uint8_t *", ifr) !== 0) throw failed(c.errno(), "ioctl", "lo");
  } finally {
    c.close(fd);
  }
}

/**
 * Makes a new namespace of each kind in `pins` (net, ipc, uts) and bind-mounts it onto
 * its file (which must exist, in a directory that is not a shared mount), names the new
 * UTS namespace `hostname` and, with `loopback`, sets the new network namespace's "lo" up.
 * The calling thread unshares them and returns to its own before anything else runs on it
 * (unshare and setns move only the calling thread). On failure nothing stays mounted.
 */
export async function pinNewNamespaces(
  pins: Partial<Record<PinnableKind, string>>,
  options: { hostname?: string | undefined; loopback?: boolean | undefined } = {},
): Promise<void> {
  const kinds = (Object.keys(pins) as PinnableKind[]).filter((k) => pins[k]);
  if (kinds.length === 0) return;
  const c = await load();
  const own = new Map<PinnableKind, number>();
  const mounted: string[] = [];
  let failure: Error | undefined;
  try {
    for (const kind of kinds) own.set(kind, openSync(`/proc/thread-self/ns/${kind}`, "r"));
    const flags = kinds.reduce((all, kind) => all | cloneFlag[kind], 0);
    if (c.unshare(flags) !== 0) throw failed(c.errno(), "unshare", kinds.join(","));
    try {
      const name = options.hostname;
      if (pins.uts && name && c.sethostname(name, Buffer.byteLength(name)) !== 0) {
        throw failed(c.errno(), "sethostname", name);
      }
      if (pins.net && options.loopback) loopbackUp(c);
      for (const kind of kinds) {
        const target = pins[kind]!;
        if (c.mount(`/proc/thread-self/ns/${kind}`, target, "", MS_BIND, "") !== 0) {
          throw failed(c.errno(), "mount", target);
        }
        mounted.push(target);
      }
    } finally {
      for (const kind of kinds) {
        if (c.setns(own.get(kind)!, cloneFlag[kind]) !== 0) {
          // Left in the new namespace: what this thread makes from here on lands there.
          failure ??= failed(c.errno(), "setns", `/proc/thread-self/ns/${kind}`);
        }
      }
    }
  } catch (err) {
    failure ??= err as Error;
  } finally {
    for (const fd of own.values()) closeSync(fd);
  }
  if (failure) {
    for (const target of mounted.reverse()) c.umount2(target, 0x2 /* MNT_DETACH */);
    throw failure;
  }
}
