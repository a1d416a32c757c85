/**
 * A minimal runc-style OCI runtime spec for tests (what `runc spec` writes, trimmed): a
 * process in new pid/ipc/uts/mount/network namespaces with the usual mounts, masked paths
 * and capabilities. Enough for runc and containerd's runc shim to run a busybox rootfs.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

export interface OciSpecOptions {
  /** The command (default `["sh"]`). */
  readonly args?: readonly string[];
  /** Extra `KEY=VALUE` environment (PATH and TERM are set). */
  readonly env?: readonly string[];
  readonly cwd?: string;
  readonly terminal?: boolean;
  readonly hostname?: string;
  /** Relative to the bundle (default `rootfs`). */
  readonly rootfs?: string;
  readonly readonlyRootfs?: boolean;
  /** `linux.cgroupsPath`, e.g. `/sbx-test/<id>`; runc picks one when unset. */
  readonly cgroupsPath?: string;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** The spec as a plain JSON object (the OCI schema, not typed field by field here). */
export type OciSpec = Record<string, unknown>;

const capabilities = [
  "CAP_AUDIT_WRITE",
  "CAP_KILL",
  "CAP_NET_BIND_SERVICE",
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_FOWNER",
  "CAP_FSETID",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETPCAP",
  "CAP_SYS_CHROOT",
];

export function ociSpec(options: OciSpecOptions = {}): OciSpec {
  return {
    ociVersion: "1.0.2",
    process: {
      terminal: options.terminal ?? false,
      user: { uid: 0, gid: 0 },
      args: [...(options.args ?? ["sh"])],
      env: [
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "TERM=xterm",
        ...(options.env ?? []),
      ],
      cwd: options.cwd ?? "/",
      capabilities: {
        bounding: capabilities,
        effective: capabilities,
        permitted: capabilities,
        ambient: capabilities,
      },
      rlimits: [{ type: "RLIMIT_NOFILE", hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: options.rootfs ?? "rootfs", readonly: options.readonlyRootfs ?? false },
    hostname: options.hostname ?? "sbx-test",
    mounts: [
      { destination: "/proc", type: "proc", source: "proc" },
      {
        destination: "/dev",
        type: "tmpfs",
        source: "tmpfs",
        options: ["nosuid", "strictatime", "mode=755", "size=65536k"],
      },
      {
        destination: "/dev/pts",
        type: "devpts",
        source: "devpts",
        options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"],
      },
      {
        destination: "/dev/shm",
        type: "tmpfs",
        source: "shm",
        options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
      },
      {
        destination: "/dev/mqueue",
        type: "mqueue",
        source: "mqueue",
        options: ["nosuid", "noexec", "nodev"],
      },
      {
        destination: "/sys",
        type: "sysfs",
        source: "sysfs",
        options: ["nosuid", "noexec", "nodev", "ro"],
      },
      {
        destination: "/sys/fs/cgroup",
        type: "cgroup",
        source: "cgroup",
        options: ["nosuid", "noexec", "nodev", "relatime", "ro"],
      },
    ],
    ...(options.annotations === undefined ? {} : { annotations: { ...options.annotations } }),
    linux: {
      ...(options.cgroupsPath === undefined ? {} : { cgroupsPath: options.cgroupsPath }),
      resources: { devices: [{ allow: false, access: "rwm" }] },
      namespaces: [
        { type: "pid" },
        { type: "network" },
        { type: "ipc" },
        { type: "uts" },
        { type: "mount" },
      ],
      maskedPaths: [
        "/proc/acpi",
        "/proc/asound",
        "/proc/kcore",
        "/proc/keys",
        "/proc/latency_stats",
        "/proc/timer_list",
        "/proc/timer_stats",
        "/proc/sched_debug",
        "/sys/firmware",
        "/proc/scsi",
      ],
      readonlyPaths: ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
    },
  };
}

/** Writes `<bundle>/config.json` (creating the bundle directory) and returns the bundle path. */
export async function writeBundleSpec(bundle: string, spec: OciSpec): Promise<string> {
  await mkdir(bundle, { recursive: true });
  await writeFile(join(bundle, "config.json"), JSON.stringify(spec, null, 2));
  return bundle;
}
