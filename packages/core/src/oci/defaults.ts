// containerd's Linux container defaults (oci.populateDefaultUnixSpec and
// oci.defaultUnixCaps), and capability sets computed the way its CRI does.
import { readFileSync } from "node:fs";
import { invalidArgument } from "@sandboxd/errdefs";

/** The capabilities containerd grants a container by default, in containerd's order. */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_FSETID",
  "CAP_FOWNER",
  "CAP_MKNOD",
  "CAP_NET_RAW",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETFCAP",
  "CAP_SETPCAP",
  "CAP_NET_BIND_SERVICE",
  "CAP_SYS_CHROOT",
  "CAP_KILL",
  "CAP_AUDIT_WRITE",
];

/** Paths hidden from an unprivileged container. */
export const DEFAULT_MASKED_PATHS: readonly string[] = [
  "/proc/acpi",
  "/proc/asound",
  "/proc/kcore",
  "/proc/keys",
  "/proc/latency_stats",
  "/proc/timer_list",
  "/proc/timer_stats",
  "/proc/sched_debug",
  "/sys/firmware",
  "/sys/devices/virtual/powercap",
  "/proc/scsi",
];

/** Paths an unprivileged container sees read-only. */
export const DEFAULT_READONLY_PATHS: readonly string[] = [
  "/proc/bus",
  "/proc/fs",
  "/proc/irq",
  "/proc/sys",
  "/proc/sysrq-trigger",
];

/** Every capability of Linux 5.9+, by bit number (linux/capability.h). */
export const KNOWN_CAPABILITIES: readonly string[] = [
  "CHOWN",
  "DAC_OVERRIDE",
  "DAC_READ_SEARCH",
  "FOWNER",
  "FSETID",
  "KILL",
  "SETGID",
  "SETUID",
  "SETPCAP",
  "LINUX_IMMUTABLE",
  "NET_BIND_SERVICE",
  "NET_BROADCAST",
  "NET_ADMIN",
  "NET_RAW",
  "IPC_LOCK",
  "IPC_OWNER",
  "SYS_MODULE",
  "SYS_RAWIO",
  "SYS_CHROOT",
  "SYS_PTRACE",
  "SYS_PACCT",
  "SYS_ADMIN",
  "SYS_BOOT",
  "SYS_NICE",
  "SYS_RESOURCE",
  "SYS_TIME",
  "SYS_TTY_CONFIG",
  "MKNOD",
  "LEASE",
  "AUDIT_WRITE",
  "AUDIT_CONTROL",
  "SETFCAP",
  "MAC_OVERRIDE",
  "MAC_ADMIN",
  "SYSLOG",
  "WAKE_ALARM",
  "BLOCK_SUSPEND",
  "AUDIT_READ",
  "PERFMON",
  "BPF",
  "CHECKPOINT_RESTORE",
].map((c) => `CAP_${c}`);

/** The capabilities in a `/proc/<pid>/status` capability mask (hex), known ones only. */
export function capabilitiesOfMask(hex: string): string[] {
  const bits = BigInt(`0x${hex || "0"}`);
  return KNOWN_CAPABILITIES.filter((_, i) => (bits >> BigInt(i)) & 1n);
}

let current: string[] | undefined;

/**
 * The effective capabilities of this process (containerd's cap.Current): what
 * "all capabilities" means for a container, since runc cannot grant more.
 */
export function currentCapabilities(): string[] {
  if (!current) {
    const line = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync("/proc/self/status", "utf8"));
    current = capabilitiesOfMask(line?.[1] ?? "0");
  }
  return [...current];
}

/**
 * `CAP_X` for `x`, `X` or `CAP_X` (the CRI names them without the prefix);
 * InvalidArgument for a name Linux does not know.
 */
export function capabilityName(name: string): string {
  const up = name.trim().toUpperCase();
  const full = up.startsWith("CAP_") ? up : `CAP_${up}`;
  if (!KNOWN_CAPABILITIES.includes(full))
    throw invalidArgument(`unknown capability ${JSON.stringify(name)}`);
  return full;
}

/**
 * `base` with `add` and `drop` applied in containerd's CRI order: "ALL" in
 * add grants `all`, "ALL" in drop empties the set, then the named adds, then
 * the named drops (so add ALL + drop CHOWN is everything but CAP_CHOWN).
 */
export function applyCapabilities(
  base: readonly string[],
  change: { add?: readonly string[]; drop?: readonly string[] },
  all: readonly string[] = currentCapabilities(),
): string[] {
  const isAll = (c: string) => c.trim().toUpperCase() === "ALL";
  const add = change.add ?? [];
  const drop = change.drop ?? [];
  let caps = [...base];
  if (add.some(isAll)) caps = [...all];
  if (drop.some(isAll)) caps = [];
  for (const c of add.filter((c) => !isAll(c)).map(capabilityName))
    if (!caps.includes(c)) caps.push(c);
  const dropped = new Set(drop.filter((c) => !isAll(c)).map(capabilityName));
  return caps.filter((c) => !dropped.has(c));
}
