/**
 * Device nodes for a CRI container (containerd's oci.WithDevices and
 * WithHostDevices): each `Device` host path (symlinks resolved; a directory
 * is walked) becomes an OCI `linux.devices` entry at its container path and
 * an allow rule in the device cgroup with the requested permissions.
 */
import { lstat, readdir, realpath } from "node:fs/promises";
import { join } from "node:path";
import type { Device } from "@sandboxd/api/cri/runtime/v1/api_pb";
import { invalidArgument, notFound } from "@sandboxd/errdefs";

export interface LinuxDevice {
  path: string;
  type: "c" | "b";
  major: number;
  minor: number;
  fileMode: number;
  uid: number;
  gid: number;
}

export interface DeviceRule {
  allow: boolean;
  type?: string;
  major?: number;
  minor?: number;
  access: string;
}

/** glibc's major()/minor() of a dev_t. */
function majorMinor(rdev: bigint): { major: number; minor: number } {
  const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
  const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
  return { major, minor };
}

/** The device at `path`, or undefined if it is not a block or character device. */
async function deviceAt(path: string): Promise<LinuxDevice | undefined> {
  const st = await lstat(path, { bigint: true });
  const type = st.isCharacterDevice() ? "c" : st.isBlockDevice() ? "b" : undefined;
  if (!type) return undefined;
  return {
    path,
    type,
    ...majorMinor(st.rdev),
    fileMode: Number(st.mode & 0o7777n),
    uid: Number(st.uid),
    gid: Number(st.gid),
  };
}

/** Directories of /dev that hold no device nodes of the container's own. */
const skipDirs = new Set(["pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"]);

async function devicesUnder(dir: string, containerDir: string): Promise<LinuxDevice[]> {
  const out: LinuxDevice[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const host = join(dir, e.name);
    const inside = containerDir ? join(containerDir, e.name) : host;
    if (e.isDirectory()) {
      if (!skipDirs.has(e.name))
        out.push(...(await devicesUnder(host, containerDir ? inside : "")));
      continue;
    }
    if (e.name === "console") continue;
    const dev = await deviceAt(host).catch(() => undefined);
    if (dev) out.push({ ...dev, path: inside });
  }
  return out;
}

/** Every device node of the host's /dev (a privileged container's). */
export function hostDevices(): Promise<LinuxDevice[]> {
  return devicesUnder("/dev", "");
}

/** Checks cgroup device permissions: a non-empty mix of r, w and m. */
function access(permissions: string, hostPath: string): string {
  const p = permissions || "rwm";
  if (!/^[rwm]{1,3}$/.test(p) || new Set(p).size !== p.length)
    throw invalidArgument(
      `device ${JSON.stringify(hostPath)}: permissions ${JSON.stringify(permissions)} must be made of r, w and m`,
    );
  return p;
}

/** The devices and cgroup rules of a container's `devices`. */
export async function containerDevices(
  devices: readonly Device[],
): Promise<{ devices: LinuxDevice[]; rules: DeviceRule[] }> {
  const out: LinuxDevice[] = [];
  const rules: DeviceRule[] = [];
  for (const d of devices) {
    if (!d.hostPath) throw invalidArgument("a device needs host_path");
    const perms = access(d.permissions, d.hostPath);
    const host = await realpath(d.hostPath).catch(() => {
      throw notFound(`device ${JSON.stringify(d.hostPath)} does not exist on the node`);
    });
    const st = await lstat(host);
    let found: LinuxDevice[];
    if (st.isDirectory()) found = await devicesUnder(host, d.containerPath);
    else {
      const dev = await deviceAt(host);
      if (!dev)
        throw invalidArgument(
          `device ${JSON.stringify(d.hostPath)} (container path ${JSON.stringify(d.containerPath)}): not a device node`,
        );
      found = [{ ...dev, path: d.containerPath || host }];
    }
    for (const dev of found) {
      out.push(dev);
      rules.push({
        allow: true,
        type: dev.type,
        major: dev.major,
        minor: dev.minor,
        access: perms,
      });
    }
  }
  return { devices: out, rules };
}
