import assert from "node:assert/strict";
import { test } from "node:test";
import { isInvalidArgument } from "@sandboxd/errdefs";
import type { OciNamespace, PodNamespaceView } from "./pod-namespaces.js";
import { mapPodNamespaces, procNsPid } from "./pod-namespaces.js";

/** What containerd 2.x's CRI writes (WithPodNamespaces) for a sandbox that reported `pid`. */
function criNamespaces(pid: number, pidMode: "pod" | "container" = "pod"): OciNamespace[] {
  return [
    { type: "pid", ...(pidMode === "pod" ? { path: `/proc/${pid}/ns/pid` } : {}) },
    { type: "ipc", path: `/proc/${pid}/ns/ipc` },
    { type: "uts", path: `/proc/${pid}/ns/uts` },
    { type: "mount" },
    { type: "network", path: `/proc/${pid}/ns/net` },
  ];
}

const pod: PodNamespaceView = {
  namespaces: { network: "/var/run/netns/cni-1", ipc: "/s/ns/ipc", uts: "/s/ns/uts" },
  authoritative: true,
};

test("/proc/0/ns/* from containerd's CRI becomes the pod's pinned namespaces and its netns", () => {
  const out = mapPodNamespaces(criNamespaces(0, "container"), pod);
  assert.deepEqual(out.namespaces, [
    { type: "pid" },
    { type: "ipc", path: "/s/ns/ipc" },
    { type: "uts", path: "/s/ns/uts" },
    { type: "mount" },
    { type: "network", path: "/var/run/netns/cni-1" },
  ]);
  assert.equal(out.podUts, true);
  assert.equal(out.podNetwork, true);
});

test("a shared pid namespace: the reported init pid maps to the pod's pid namespace", () => {
  const shared = { ...pod, namespaces: { ...pod.namespaces, pid: "/proc/4242/ns/pid" } };
  const out = mapPodNamespaces(criNamespaces(4242), shared);
  assert.deepEqual(out.namespaces[0], { type: "pid", path: "/proc/4242/ns/pid" });
  assert.deepEqual(out.namespaces[1], { type: "ipc", path: "/s/ns/ipc" });
});

test("pid POD without a shared namespace in the pod: a private pid namespace, not /proc/0", () => {
  const out = mapPodNamespaces(criNamespaces(0), pod);
  assert.deepEqual(out.namespaces[0], { type: "pid" });
});

test("any other path that is not the pod's is replaced by the pod's", () => {
  const out = mapPodNamespaces(
    [
      { type: "network", path: "/proc/777/ns/net" },
      { type: "ipc", path: "/run/elsewhere/ipc" },
    ],
    pod,
  );
  assert.deepEqual(out.namespaces, [
    { type: "network", path: "/var/run/netns/cni-1" },
    { type: "ipc", path: "/s/ns/ipc" },
  ]);
});

test("CRI's TARGET pid mode: a pid path at one of the pod's containers is kept", () => {
  const out = mapPodNamespaces([{ type: "pid", path: "/proc/999/ns/pid" }], {
    ...pod,
    memberPids: [999],
  });
  assert.deepEqual(out.namespaces, [{ type: "pid", path: "/proc/999/ns/pid" }]);
});

test("host network, IPC and PID pods: the entries go, so the container shares the host's", () => {
  const host: PodNamespaceView = {
    namespaces: {},
    host: { network: true, uts: true, ipc: true, pid: true },
    authoritative: true,
  };
  const out = mapPodNamespaces(criNamespaces(0), host);
  assert.deepEqual(out.namespaces, [{ type: "mount" }]);
  assert.equal(out.podUts, true, "the hostname must not be set in the host's UTS namespace");
  assert.equal(out.podNetwork, true);
});

test("an implicit pod (ctr run under 1.6) respects the paths its client chose", () => {
  const given = [{ type: "network", path: "/var/run/netns/mine" }];
  const out = mapPodNamespaces(given, { ...pod, authoritative: false });
  assert.deepEqual(out.namespaces, given);
  assert.equal(out.podNetwork, false);
});

test("no path: joins what the pod pins, keeps the rest private", () => {
  const out = mapPodNamespaces([{ type: "ipc" }, { type: "pid" }, { type: "cgroup" }], pod);
  assert.deepEqual(out.namespaces, [
    { type: "ipc", path: "/s/ns/ipc" },
    { type: "pid" },
    { type: "cgroup" },
  ]);
});

test("a user namespace of the pod is refused by name", () => {
  assert.throws(
    () => mapPodNamespaces([{ type: "user", path: "/proc/0/ns/user" }], pod),
    (err: unknown) => isInvalidArgument(err) && /user namespace/.test(String(err)),
  );
});

test("the input is not modified", () => {
  const input = criNamespaces(0);
  const copy = structuredClone(input);
  mapPodNamespaces(input, pod);
  assert.deepEqual(input, copy);
});

test("procNsPid", () => {
  assert.equal(procNsPid("/proc/0/ns/ipc"), 0);
  assert.equal(procNsPid("/proc/123/ns/net"), 123);
  assert.equal(procNsPid("/var/run/netns/x"), undefined);
});
