// `sbx run`'s container flags as spec changes, the way nerdctl and podman read them:
// -v/--mount binds, --memory, --cpus, --cap-add/--cap-drop and --privileged.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import type { SpecOpt } from "@sandboxd/client";
import { invalidArgument } from "@sandboxd/errdefs";

interface OciMount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}

/** Capability numbers 0..40 (linux/capability.h), in order. */
const allCapabilities = [
  "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
  "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
  "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
  "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
  "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
  "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
].map((c) => `CAP_${c}`); // prettier-ignore

/**
 * The capabilities sbx itself may hold (its bounding set, as runc's process will): "all"
 * for --privileged and ALL. In a nested container that is less than the kernel knows,
 * and runc cannot give more.
 */
function hostCapabilities(): string[] {
  try {
    const status = readFileSync("/proc/self/status", "utf8");
    const m = /^CapBnd:\s*([0-9a-f]+)$/m.exec(status);
    if (m) {
      const mask = BigInt(`0x${m[1]}`);
      return allCapabilities.filter((_, bit) => (mask >> BigInt(bit)) & 1n);
    }
  } catch {
    // Not Linux's procfs: offer the whole list.
  }
  return [...allCapabilities];
}

function bindMount(flag: string, source: string, destination: string, readonly: boolean): OciMount {
  if (!isAbsolute(source)) {
    throw invalidArgument(
      `run: ${flag}: source ${JSON.stringify(source)} must be an absolute host path (named volumes are not supported)`,
    );
  }
  if (!isAbsolute(destination))
    throw invalidArgument(
      `run: ${flag}: destination ${JSON.stringify(destination)} must be absolute`,
    );
  // nerdctl and docker make a missing host directory rather than fail.
  if (!existsSync(source)) mkdirSync(source, { recursive: true });
  return {
    destination,
    type: "bind",
    source,
    options: ["rbind", "rprivate", readonly ? "ro" : "rw"],
  };
}

/** `-v HOST:CTR[:ro|rw]`. */
export function parseVolume(value: string): OciMount {
  const parts = value.split(":");
  if (parts.length < 2 || parts.length > 3 || !parts[0] || !parts[1]) {
    throw invalidArgument(`run: --volume ${JSON.stringify(value)}: want HOST:CONTAINER[:ro|rw]`);
  }
  const options = parts[2] === undefined ? [] : parts[2].split(",");
  for (const o of options) {
    if (o !== "ro" && o !== "rw")
      throw invalidArgument(
        `run: --volume ${JSON.stringify(value)}: unknown option ${JSON.stringify(o)} (ro or rw)`,
      );
  }
  return bindMount("--volume", parts[0], parts[1], options.includes("ro"));
}

/** `--mount type=bind,src=HOST,dst=CTR[,ro]` or `type=tmpfs,dst=CTR`. */
export function parseMount(value: string): OciMount {
  let type = "volume";
  let source = "";
  let destination = "";
  let readonly = false;
  for (const field of value.split(",")) {
    const eq = field.indexOf("=");
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    const v = eq < 0 ? "" : field.slice(eq + 1);
    if (key === "type") type = v;
    else if (key === "src" || key === "source") source = v;
    else if (key === "dst" || key === "destination" || key === "target") destination = v;
    else if (key === "ro" || key === "readonly") {
      if (!["", "true", "1", "false", "0"].includes(v))
        throw invalidArgument(
          `run: --mount ${JSON.stringify(value)}: ${key}=${v} is not a boolean`,
        );
      readonly = v === "" || v === "true" || v === "1";
    } else
      throw invalidArgument(
        `run: --mount ${JSON.stringify(value)}: unknown field ${JSON.stringify(key)}`,
      );
  }
  if (!destination)
    throw invalidArgument(`run: --mount ${JSON.stringify(value)}: dst= is required`);
  if (type === "tmpfs") {
    return {
      destination,
      type: "tmpfs",
      source: "tmpfs",
      options: ["nosuid", "nodev", "mode=1777", ...(readonly ? ["ro"] : [])],
    };
  }
  if (type !== "bind")
    throw invalidArgument(
      `run: --mount ${JSON.stringify(value)}: type ${JSON.stringify(type)} is not supported (bind or tmpfs)`,
    );
  if (!source) throw invalidArgument(`run: --mount ${JSON.stringify(value)}: src= is required`);
  return bindMount("--mount", source, destination, readonly);
}

const units: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
};

/** `--memory 512m`: bytes (binary units, as docker's RAMInBytes). */
export function parseMemory(value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([bkmgt]?)i?b?$/i.exec(value.trim());
  const bytes = m ? Math.floor(Number(m[1]) * units[m[2]!.toLowerCase()]!) : NaN;
  // The kernel refuses a limit below a few pages; docker's minimum is 6 MiB.
  if (!(bytes >= 6 * 1024 * 1024)) {
    throw invalidArgument(
      `run: --memory ${JSON.stringify(value)}: want a size of at least 6m, e.g. 512m or 1g`,
    );
  }
  return bytes;
}

/** `--cpus 1.5`: a CFS quota per 100 ms period. */
export function parseCpus(value: string): { quota: number; period: number } {
  const cpus = Number(value);
  if (!/^\d*\.?\d+$/.test(value.trim()) || !(cpus > 0))
    throw invalidArgument(
      `run: --cpus ${JSON.stringify(value)}: want a positive number, e.g. 0.5 or 2`,
    );
  return { quota: Math.max(1000, Math.round(cpus * 100_000)), period: 100_000 };
}

function capName(flag: string, name: string, known: readonly string[]): string {
  const upper = name.toUpperCase();
  if (upper === "ALL") return upper;
  const full = upper.startsWith("CAP_") ? upper : `CAP_${upper}`;
  if (!allCapabilities.includes(full))
    throw invalidArgument(`run: ${flag} ${JSON.stringify(name)}: not a capability`);
  if (!known.includes(full))
    throw invalidArgument(`run: ${flag} ${JSON.stringify(name)}: not in sbx's bounding set`);
  return full;
}

/** `--cap-add`/`--cap-drop` as docker applies them: ALL first, then the names (drops win). */
export function withCapabilityChanges(add: readonly string[], drop: readonly string[]): SpecOpt {
  const known = hostCapabilities();
  const adds = add.map((c) => capName("--cap-add", c, known));
  const drops = drop.map((c) => capName("--cap-drop", c, known));
  return (spec) => {
    const process = (spec.process ??= { user: { uid: 0, gid: 0 }, cwd: "/" });
    const caps = (process.capabilities ??= {});
    let set = new Set(caps.bounding ?? []);
    if (drops.includes("ALL")) set = new Set();
    if (adds.includes("ALL")) set = new Set(known);
    for (const c of adds) if (c !== "ALL") set.add(c);
    for (const c of drops) if (c !== "ALL") set.delete(c);
    caps.bounding = [...set];
    caps.effective = [...set];
    caps.permitted = [...set];
  };
}

/** The host's device nodes directly under /dev (docker's --privileged gives them all). */
function hostDevices(): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  let names: string[];
  try {
    names = readdirSync("/dev");
  } catch {
    return out;
  }
  for (const name of names) {
    if (name === "console" || name === "ptmx" || name === "tty") continue;
    const path = join("/dev", name);
    try {
      const st = statSync(path);
      if (!st.isCharacterDevice() && !st.isBlockDevice()) continue;
      const rdev = st.rdev;
      out.push({
        path,
        type: st.isCharacterDevice() ? "c" : "b",
        major: Math.floor(rdev / 256) & 0xfff,
        minor: (rdev & 0xff) | ((Math.floor(rdev / 4096) & 0xfff00) >>> 0),
        fileMode: st.mode & 0o777,
        uid: st.uid,
        gid: st.gid,
      });
    } catch {
      // Gone while listing: skipped.
    }
  }
  return out;
}

/** --net host: no network or UTS namespace entry (a pathless one would be a new, empty one). */
export function withHostNetwork(): SpecOpt {
  return (spec) => {
    const linux = (spec.linux ??= {});
    linux.namespaces = (linux.namespaces ?? []).filter(
      (n) => n.type !== "network" && n.type !== "uts",
    );
    // The host's hostname, as docker gives a host-network container.
    delete spec.hostname;
  };
}

/** docker's --privileged: every capability, the host's devices, no masks, seccomp or AppArmor. */
export function withPrivileged(): SpecOpt {
  const known = hostCapabilities();
  return (spec) => {
    const process = (spec.process ??= { user: { uid: 0, gid: 0 }, cwd: "/" });
    process.capabilities = { bounding: [...known], effective: [...known], permitted: [...known] };
    delete process.apparmorProfile;
    const linux = (spec.linux ??= {});
    linux.maskedPaths = [];
    linux.readonlyPaths = [];
    delete linux.seccomp;
    linux.devices = hostDevices();
    (linux.resources ??= {}).devices = [{ allow: true, access: "rwm" }];
    for (const m of spec.mounts ?? []) {
      if (m.destination === "/sys") m.options = (m.options ?? []).filter((o) => o !== "ro");
    }
  };
}
