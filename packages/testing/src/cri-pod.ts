/**
 * What containerd 2.x's CRI plugin hands a sandbox controller and its task
 * service, built for tests that stand in for containerd (it cannot be built
 * here). Facts from containerd v2.1.4:
 * - RunPodSandbox: `controller.Create(sandbox, WithOptions(PodSandboxConfig),
 *   WithNetNSPath(/var/run/netns/cni-…))`, the options an Any with type URL
 *   `runtime.v1.PodSandboxConfig` (protobuf bytes); no sandbox spec.
 * - CreateContainer: `WithPodNamespaces` writes `/proc/<Status.pid>/ns/{net,ipc,uts}`
 *   and, unless the container's pid mode is CONTAINER, `/proc/<pid>/ns/pid`.
 * - the overlayfs snapshotter's mounts for an active snapshot with parents:
 *   `overlay` with `workdir=`, `upperdir=`, `lowerdir=a:b` and `index=off`.
 * - container I/O: FIFOs `<dir>/<id>-stdin|stdout|stderr` (cio.NewFIFOSet), read by
 *   the CRI logger into CRI-format log lines.
 */
import { execFile } from "node:child_process";
import { constants, openSync } from "node:fs";
import { appendFile, mkdir, writeFile } from "node:fs/promises";
import net from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

export const podSandboxConfigTypeUrl = "runtime.v1.PodSandboxConfig";

export type CriNamespaceMode = "POD" | "CONTAINER" | "NODE" | "TARGET";
const modes: Record<CriNamespaceMode, number> = { POD: 0, CONTAINER: 1, NODE: 2, TARGET: 3 };

export interface PodSandboxConfigInput {
  name: string;
  uid: string;
  namespace: string;
  attempt?: number;
  hostname?: string;
  logDirectory?: string;
  dns?: { servers?: string[]; searches?: string[]; options?: string[] };
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  cgroupParent?: string;
  network?: CriNamespaceMode;
  pid?: CriNamespaceMode;
  ipc?: CriNamespaceMode;
  sysctls?: Record<string, string>;
}

// A protobuf writer just big enough for PodSandboxConfig (field numbers from cri-api v0.32).
type Field = [number, "string", string] | [number, "varint", number] | [number, "message", Field[]];

function varint(n: number): number[] {
  const out: number[] = [];
  let v = n >>> 0;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return out;
}

function encodeFields(fields: Field[]): Uint8Array {
  const parts: number[] = [];
  for (const [no, kind, value] of fields) {
    if (kind === "varint") {
      if (value === 0) continue;
      parts.push(...varint(no << 3), ...varint(value));
      continue;
    }
    const bytes = kind === "string" ? new TextEncoder().encode(value) : encodeFields(value);
    parts.push(...varint((no << 3) | 2), ...varint(bytes.length), ...bytes);
  }
  return Uint8Array.from(parts);
}

function mapFields(no: number, m: Record<string, string> | undefined): Field[] {
  return Object.entries(m ?? {}).map(([k, v]) => [
    no,
    "message",
    [
      [1, "string", k],
      [2, "string", v],
    ],
  ]);
}

export function encodePodSandboxConfig(c: PodSandboxConfigInput): Uint8Array {
  const dns = c.dns;
  const fields: Field[] = [
    [
      1,
      "message",
      [
        [1, "string", c.name],
        [2, "string", c.uid],
        [3, "string", c.namespace],
        [4, "varint", c.attempt ?? 0],
      ],
    ],
    ...(c.hostname ? ([[2, "string", c.hostname]] as Field[]) : []),
    ...(c.logDirectory ? ([[3, "string", c.logDirectory]] as Field[]) : []),
    ...(dns
      ? ([
          [
            4,
            "message",
            [
              ...(dns.servers ?? []).map((s): Field => [1, "string", s]),
              ...(dns.searches ?? []).map((s): Field => [2, "string", s]),
              ...(dns.options ?? []).map((s): Field => [3, "string", s]),
            ],
          ],
        ] as Field[])
      : []),
    ...mapFields(6, c.labels),
    ...mapFields(7, c.annotations),
    [
      8,
      "message",
      [
        ...(c.cgroupParent ? ([[1, "string", c.cgroupParent]] as Field[]) : []),
        [
          2,
          "message",
          [
            [
              1,
              "message",
              [
                [1, "varint", modes[c.network ?? "POD"]],
                [2, "varint", modes[c.pid ?? "POD"]],
                [3, "varint", modes[c.ipc ?? "POD"]],
              ],
            ],
          ],
        ],
        ...mapFields(3, c.sysctls),
      ],
    ],
  ];
  return encodeFields(fields);
}

/**
 * containerd's `customopts.WithPodNamespaces`: net, ipc and uts at
 * `/proc/<sandboxPid>/ns/*`, and pid too unless the container's pid mode is CONTAINER.
 */
export function withPodNamespaces<T extends object>(
  spec: T,
  sandboxPid: number,
  containerPid: CriNamespaceMode,
  targetPid = sandboxPid,
): T {
  const s = spec as { linux?: { namespaces?: { type: string; path?: string }[] } };
  const set = (type: string, path: string): void => {
    s.linux ??= {};
    const list = (s.linux.namespaces ??= []);
    const existing = list.find((n) => n.type === type);
    if (existing) existing.path = path;
    else list.push({ type, path });
  };
  set("network", `/proc/${sandboxPid}/ns/net`);
  set("ipc", `/proc/${sandboxPid}/ns/ipc`);
  set("uts", `/proc/${sandboxPid}/ns/uts`);
  if (containerPid !== "CONTAINER") set("pid", `/proc/${targetPid}/ns/pid`);
  return spec;
}

export interface SnapshotMount {
  type: string;
  source: string;
  target: string;
  options: string[];
}

/**
 * An active overlay snapshot laid out like containerd's overlayfs snapshotter
 * (`<root>/snapshots/<n>/{fs,work}`): the given lower layers (outermost first in
 * the list, as lowerdir wants them) and a fresh upper. Returns its mounts.
 */
export async function overlaySnapshot(
  root: string,
  key: string,
  lowers: readonly string[],
): Promise<SnapshotMount[]> {
  const snap = join(root, "snapshots", key);
  await mkdir(join(snap, "fs"), { recursive: true });
  await mkdir(join(snap, "work"), { recursive: true });
  return [
    {
      type: "overlay",
      source: "overlay",
      target: "",
      options: [
        `workdir=${join(snap, "work")}`,
        `upperdir=${join(snap, "fs")}`,
        `lowerdir=${lowers.join(":")}`,
        "index=off",
      ],
    },
  ];
}

export interface CriFifos {
  stdin?: string | undefined;
  stdout: string;
  stderr: string;
}

/** containerd's cio.NewFIFOSet for a CRI container: `<dir>/<id>-stdout` etc. */
export async function criFifos(dir: string, id: string, stdin: boolean): Promise<CriFifos> {
  await mkdir(dir, { recursive: true });
  const f: CriFifos = {
    ...(stdin ? { stdin: join(dir, `${id}-stdin`) } : {}),
    stdout: join(dir, `${id}-stdout`),
    stderr: join(dir, `${id}-stderr`),
  };
  await execFileAsync("mkfifo", [...(f.stdin ? [f.stdin] : []), f.stdout, f.stderr]);
  return f;
}

/**
 * The CRI logger (internal/cri/io/logger.go): each line read from a stream FIFO
 * becomes `<RFC3339Nano> <stdout|stderr> F <line>` in the log file (`P` for a
 * partial last line). Resolves when the FIFO's last writer closes it.
 */
export function criLogger(
  fifo: string,
  stream: "stdout" | "stderr",
  logFile: string,
): Promise<void> {
  const fd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  const socket = new net.Socket({ fd, readable: true, writable: false });
  let pending = "";
  let writes = Promise.resolve();
  const write = (line: string, tag: "F" | "P"): void => {
    const text = `${new Date().toISOString()} ${stream} ${tag} ${line}\n`;
    writes = writes.then(() => appendFile(logFile, text));
  };
  socket.setEncoding("utf8");
  socket.on("data", (d: string) => {
    pending += d;
    let nl: number;
    while ((nl = pending.indexOf("\n")) >= 0) {
      write(pending.slice(0, nl), "F");
      pending = pending.slice(nl + 1);
    }
  });
  return new Promise((resolve, reject) => {
    socket.once("end", () => {
      if (pending) write(pending, "P");
      writes.then(resolve, reject);
    });
    socket.once("error", reject);
  });
}

/** A named network namespace as containerd's CRI makes one (`/var/run/netns/cni-…`). */
export async function createNetns(name: string): Promise<string> {
  await execFileAsync("ip", ["netns", "add", name]);
  await execFileAsync("ip", ["-n", name, "link", "set", "lo", "up"]);
  return `/var/run/netns/${name}`;
}

export async function removeNetns(name: string): Promise<void> {
  await execFileAsync("ip", ["netns", "delete", name]).catch(() => undefined);
}

/** Writes a file into a layer directory (a second image layer for the overlay). */
export async function writeLayerFile(layer: string, path: string, text: string): Promise<void> {
  const file = join(layer, path);
  await mkdir(join(file, ".."), { recursive: true });
  await writeFile(file, text);
}
