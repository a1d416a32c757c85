import assert from "node:assert/strict";
import { test } from "node:test";
import { isInvalidArgument } from "@sandboxd/errdefs";
import type { OciSpec } from "./spec.js";
import { parseSpec, placeInSandbox, sandboxIdFromAnnotations } from "./spec.js";

const etc = {
  hosts: "/s/etc/hosts",
  hostname: "/s/etc/hostname",
  resolvConf: "/s/etc/resolv.conf",
};

function spec(): OciSpec {
  return {
    ociVersion: "1.0.2",
    process: { args: ["sh"] },
    root: { path: "rootfs" },
    hostname: "c1",
    mounts: [
      { destination: "/proc", type: "proc", source: "proc" },
      { destination: "/etc/resolv.conf", type: "bind", source: "/mine" },
    ],
    linux: {
      namespaces: [
        { type: "pid" },
        { type: "network" },
        { type: "ipc" },
        { type: "uts" },
        { type: "mount" },
      ],
      resources: { memory: { limit: 1 } },
    },
  };
}

test("namespaces the pod pins get its paths; others stay private", () => {
  const input = spec();
  const out = placeInSandbox(input, {
    namespaces: { network: "/p/net", ipc: "/p/ipc", uts: "/p/uts" },
    cgroupsPath: "/sbx/default/pod/c1",
    etc,
  });
  assert.deepEqual(out.linux?.namespaces, [
    { type: "pid" },
    { type: "network", path: "/p/net" },
    { type: "ipc", path: "/p/ipc" },
    { type: "uts", path: "/p/uts" },
    { type: "mount" },
  ]);
  assert.equal(out.linux?.cgroupsPath, "/sbx/default/pod/c1");
  // Joining the pod's UTS namespace must not rename the pod.
  assert.equal(out.hostname, undefined);
  // /etc/hosts and /etc/hostname added; the spec's own resolv.conf kept.
  assert.deepEqual(
    out.mounts?.map((m) => `${m.destination}=${m.source}`),
    [
      "/proc=proc",
      "/etc/resolv.conf=/mine",
      "/etc/hosts=/s/etc/hosts",
      "/etc/hostname=/s/etc/hostname",
    ],
  );
  assert.deepEqual(out.linux?.resources, { memory: { limit: 1 } });
  // The input is untouched.
  assert.equal(input.hostname, "c1");
  assert.equal(input.linux?.namespaces?.[1]?.path, undefined);
});

test("a shared pid namespace is joined; host namespaces and client paths are respected", () => {
  const s = spec();
  s.linux!.namespaces = [
    { type: "pid" },
    { type: "network", path: "/var/run/netns/cri" },
    { type: "mount" },
  ];
  const out = placeInSandbox(s, {
    namespaces: { network: "/p/net", ipc: "/p/ipc", uts: "/p/uts", pid: "/proc/42/ns/pid" },
    cgroupsPath: "/x/c",
    etc,
  });
  assert.deepEqual(out.linux?.namespaces, [
    { type: "pid", path: "/proc/42/ns/pid" },
    { type: "network", path: "/var/run/netns/cri" },
    { type: "mount" },
  ]);
  // Host UTS (not listed): the container keeps its hostname; no pod /etc files without the pod's netns.
  assert.equal(out.hostname, "c1");
  assert.equal(out.mounts?.length, 2);
});

test("config.json errors name the file; the CRI annotation names the sandbox", () => {
  assert.throws(
    () => parseSpec("{", "/b/config.json"),
    (e: Error) => isInvalidArgument(e) && /\/b\/config.json/.test(e.message),
  );
  assert.throws(
    () => parseSpec("[]", "/b/config.json"),
    (e: Error) => isInvalidArgument(e),
  );
  assert.equal(
    sandboxIdFromAnnotations({ annotations: { "io.kubernetes.cri.sandbox-id": "pod1" } }),
    "pod1",
  );
  assert.equal(sandboxIdFromAnnotations({}), undefined);
});

test("a CRI spec with /proc/0 paths: pod namespaces, pod /etc files, pod sysctls under the container's", () => {
  const input: OciSpec = {
    process: { args: ["sh"] },
    linux: {
      namespaces: [
        { type: "network", path: "/proc/0/ns/net" },
        { type: "ipc", path: "/proc/0/ns/ipc" },
        { type: "uts", path: "/proc/0/ns/uts" },
      ],
      sysctl: { "kernel.shm_rmid_forced": "0" },
    },
  };
  const out = placeInSandbox(input, {
    namespaces: { network: "/run/netns/cni-1", ipc: "/p/ipc", uts: "/p/uts" },
    authoritative: true,
    cgroupsPath: "/kubepods/pod1/sb/c1",
    etc,
    sysctls: { "kernel.shm_rmid_forced": "1", "net.ipv4.ip_forward": "1" },
  });
  assert.deepEqual(
    out.linux?.namespaces?.map((n) => n.path),
    ["/run/netns/cni-1", "/p/ipc", "/p/uts"],
  );
  assert.deepEqual(
    out.mounts?.map((m) => m.destination),
    ["/etc/hosts", "/etc/hostname", "/etc/resolv.conf"],
  );
  assert.deepEqual(out.linux?.sysctl, {
    "kernel.shm_rmid_forced": "0",
    "net.ipv4.ip_forward": "1",
  });
});

test("a container in the pod's IPC namespace gets the pod's /dev/shm instead of its own tmpfs", () => {
  const input: OciSpec = {
    process: { args: ["sh"] },
    mounts: [{ destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["size=65536k"] }],
    linux: { namespaces: [{ type: "ipc", path: "/proc/0/ns/ipc" }] },
  };
  const out = placeInSandbox(input, {
    namespaces: { ipc: "/p/ipc" },
    authoritative: true,
    cgroupsPath: "/x",
    shm: "/s/pod/shm",
  });
  assert.deepEqual(out.mounts, [
    {
      destination: "/dev/shm",
      type: "bind",
      source: "/s/pod/shm",
      options: ["rbind", "rprivate", "rw", "nosuid", "nodev", "noexec"],
    },
  ]);
  const hostIpc = placeInSandbox(input, {
    namespaces: {},
    host: { ipc: true },
    authoritative: true,
    cgroupsPath: "/x",
    shm: "/s/pod/shm",
  });
  assert.equal(hostIpc.mounts?.[0]?.type, "tmpfs");
});

test("a read-only root filesystem gets the pod's /etc files read-only", () => {
  const out = placeInSandbox(
    {
      process: { args: ["sh"] },
      root: { path: "rootfs", readonly: true },
      linux: { namespaces: [{ type: "network", path: "/proc/0/ns/net" }] },
    },
    { namespaces: { network: "/run/netns/x" }, authoritative: true, cgroupsPath: "/x", etc },
  );
  assert.deepEqual(
    out.mounts?.map((m) => m.options?.at(-1)),
    ["ro", "ro", "ro"],
  );
});

test("a pod with a user namespace: every container joins it, with the pod's mappings", () => {
  const ids = { containerId: 0, hostId: 1000, length: 65536 };
  const own = spec();
  own.linux!.namespaces!.push({ type: "user", path: "/proc/1/ns/user" });
  for (const input of [spec(), own]) {
    const out = placeInSandbox(input, {
      namespaces: { network: "/pins/net", ipc: "/pins/ipc", uts: "/pins/uts", user: "/pins/user" },
      authoritative: true,
      cgroupsPath: "/sbx/p/c",
      userns: { uid: ids, gid: { ...ids, hostId: 2000 } },
    });
    const user = out.linux!.namespaces!.filter((n) => n.type === "user");
    assert.deepEqual(user, [{ type: "user", path: "/pins/user" }]);
    assert.deepEqual(out.linux!.uidMappings, [{ containerID: 0, hostID: 1000, size: 65536 }]);
    assert.deepEqual(out.linux!.gidMappings, [{ containerID: 0, hostID: 2000, size: 65536 }]);
  }
  // Without one, nothing of it is added.
  const plain = placeInSandbox(spec(), {
    namespaces: { network: "/pins/net" },
    authoritative: true,
    cgroupsPath: "/sbx/p/c",
  });
  assert.equal(
    plain.linux!.namespaces!.some((n) => n.type === "user"),
    false,
  );
  assert.equal(plain.linux!.uidMappings, undefined);
});
