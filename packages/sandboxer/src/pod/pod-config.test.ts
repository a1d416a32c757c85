import assert from "node:assert/strict";
import { test } from "node:test";
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { isInvalidArgument } from "@sandboxd/errdefs";
import { NamespaceMode, decodePodSandboxConfig, isPodSandboxConfig } from "./pod-config.js";
import { criSettings } from "./pod-cri.js";
import { cgroupParentPath, checkPodSysctls, dnsResolvConf } from "./pod-settings.js";

/** A PodSandboxConfig as kubelet/critest send it (field numbers of cri-api v0.32). */
function config(
  o: {
    network?: number;
    pid?: number;
    ipc?: number;
    /** userns_options: a mode and [container, host, length] mappings (for uids and gids). */
    userns?: { mode: number; maps?: [number, number, number][] };
    noSysctls?: boolean;
  } = {},
) {
  const w = new BinaryWriter();
  w.tag(1, 2).fork().tag(1, 2).string("web").tag(2, 2).string("uid-1").tag(3, 2).string("team");
  w.tag(4, 0).uint32(2).join();
  w.tag(2, 2).string("web-0");
  w.tag(3, 2).string("/var/log/pods/x");
  w.tag(4, 2).fork().tag(1, 2).string("10.0.0.10").tag(2, 2).string("svc.local");
  w.tag(2, 2).string("local").tag(3, 2).string("ndots:5").join();
  w.tag(5, 2).fork().tag(1, 0).uint32(1).tag(2, 0).int32(53).tag(3, 0).int32(5353);
  w.tag(4, 2).string("127.0.0.1").join();
  w.tag(5, 2).fork().tag(2, 0).int32(8080).join(); // no host port: documentation only
  w.tag(6, 2).fork().tag(1, 2).string("app").tag(2, 2).string("web").join();
  w.tag(8, 2).fork().tag(1, 2).string("/kubepods/pod-uid-1");
  w.tag(2, 2).fork().tag(1, 2).fork();
  if (o.network) w.tag(1, 0).uint32(o.network);
  if (o.pid) w.tag(2, 0).uint32(o.pid);
  if (o.ipc) w.tag(3, 0).uint32(o.ipc);
  if (o.userns) {
    w.tag(5, 2).fork().tag(1, 0).uint32(o.userns.mode);
    for (const field of [2, 3])
      for (const [c, h, l] of o.userns.maps ?? [])
        w.tag(field, 2).fork().tag(1, 0).uint32(h).tag(2, 0).uint32(c).tag(3, 0).uint32(l).join();
    w.join();
  }
  w.join().tag(6, 0).bool(true).join();
  if (!o.noSysctls)
    w.tag(3, 2).fork().tag(1, 2).string("kernel.shm_rmid_forced").tag(2, 2).string("1").join();
  w.join();
  return w.finish();
}

test("decodes what containerd's CRI passes as Create options", () => {
  assert.ok(isPodSandboxConfig("runtime.v1.PodSandboxConfig"));
  assert.ok(isPodSandboxConfig("type.googleapis.com/runtime.v1.PodSandboxConfig"));
  const c = decodePodSandboxConfig(config({ pid: NamespaceMode.CONTAINER }));
  assert.equal(c.name, "web");
  assert.equal(c.uid, "uid-1");
  assert.equal(c.namespace, "team");
  assert.equal(c.attempt, 2);
  assert.equal(c.hostname, "web-0");
  assert.deepEqual(c.dns, {
    servers: ["10.0.0.10"],
    searches: ["svc.local", "local"],
    options: ["ndots:5"],
  });
  assert.deepEqual(c.labels, { app: "web" });
  assert.equal(c.cgroupParent, "/kubepods/pod-uid-1");
  assert.equal(c.network, NamespaceMode.POD);
  assert.equal(c.pid, NamespaceMode.CONTAINER);
  assert.equal(c.privileged, true);
  assert.deepEqual(c.sysctls, { "kernel.shm_rmid_forced": "1" });
  assert.deepEqual(c.portMappings, [
    { protocol: "udp", containerPort: 53, hostPort: 5353, hostIp: "127.0.0.1" },
    { protocol: "tcp", containerPort: 8080, hostPort: 0, hostIp: "" },
  ]);
  assert.deepEqual(criSettings(c, undefined).rec.portMappings, [
    { protocol: "udp", containerPort: 53, hostPort: 5353, hostIP: "127.0.0.1" },
  ]);
});

test("namespace modes: host network/IPC/PID, shared pid by default", () => {
  const host = criSettings(
    decodePodSandboxConfig(
      config({
        network: NamespaceMode.NODE,
        pid: NamespaceMode.NODE,
        ipc: NamespaceMode.NODE,
        noSysctls: true,
      }),
    ),
    undefined,
  );
  assert.equal(host.hostNetwork, true);
  assert.equal(host.sharePid, false);
  assert.equal(host.rec.hostIpc, true);
  assert.equal(host.rec.hostPid, true);
  const pod = criSettings(decodePodSandboxConfig(config()), "/var/run/netns/cni-1");
  assert.equal(pod.hostNetwork, false);
  assert.equal(pod.sharePid, true);
  assert.equal(pod.rec.cgroupParent, "kubepods/pod-uid-1");
  assert.equal(
    pod.rec.resolvConf,
    "search svc.local local\nnameserver 10.0.0.10\noptions ndots:5\n",
  );
});

test("a pod user namespace: one mapping each, container id 0 mapped, its own network", () => {
  const settings = (userns: { mode: number; maps?: [number, number, number][] }, netns?: string) =>
    criSettings(decodePodSandboxConfig(config({ userns })), netns);
  const one = { containerId: 0, hostId: 1000, length: 65536 };
  assert.deepEqual(settings({ mode: NamespaceMode.POD, maps: [[0, 1000, 65536]] }).rec.userns, {
    uid: one,
    gid: one,
  });
  assert.equal(settings({ mode: NamespaceMode.NODE }).rec.userns, undefined);
  const refused: [{ mode: number; maps?: [number, number, number][] }, RegExp, string?][] = [
    [{ mode: NamespaceMode.POD }, /uids: exactly one mapping is supported, got 0/],
    [
      {
        mode: NamespaceMode.POD,
        maps: [
          [0, 1000, 1],
          [1, 2000, 1],
        ],
      },
      /got 2/,
    ],
    [{ mode: NamespaceMode.POD, maps: [[1, 1000, 65536]] }, /container id 0 must be mapped/],
    [{ mode: NamespaceMode.POD, maps: [[0, 1000, 0]] }, /length 0/],
    [{ mode: NamespaceMode.NODE, maps: [[0, 1000, 1]] }, /NODE takes no mappings/],
    [{ mode: NamespaceMode.CONTAINER }, /mode CONTAINER is not supported/],
    [{ mode: NamespaceMode.TARGET }, /mode TARGET is not supported/],
    [{ mode: NamespaceMode.POD, maps: [[0, 1000, 1]] }, /network namespace inside it/, "/x"],
  ];
  for (const [userns, message, netns] of refused)
    assert.throws(
      () => settings(userns, netns),
      (e: unknown) => isInvalidArgument(e) && message.test(String(e)),
      message.source,
    );
});

test("refused clearly: a netns for a host-network pod, garbage", () => {
  assert.throws(
    () => criSettings(decodePodSandboxConfig(config({ network: NamespaceMode.NODE })), "/x"),
    (e: unknown) => isInvalidArgument(e) && /host network/.test(String(e)),
  );
  assert.throws(() => decodePodSandboxConfig(Uint8Array.of(0x0a, 0x05, 0x01)), isInvalidArgument);
});

test("sysctls: namespaced ones pass, node-wide and host-namespace ones are refused by name", () => {
  assert.deepEqual(
    checkPodSysctls(
      { "kernel.shm_rmid_forced": "1", "fs/mqueue/msg_max": "100", "net.ipv4.ip_forward": "1" },
      { network: false, ipc: false },
    ),
    { "kernel.shm_rmid_forced": "1", "fs.mqueue.msg_max": "100", "net.ipv4.ip_forward": "1" },
  );
  assert.throws(
    () => checkPodSysctls({ "kernel.panic": "1" }, { network: false, ipc: false }),
    (e: unknown) => isInvalidArgument(e) && /"kernel.panic": not namespaced/.test(String(e)),
  );
  assert.throws(
    () => checkPodSysctls({ "net.core.somaxconn": "1" }, { network: true, ipc: false }),
    (e: unknown) => isInvalidArgument(e) && /host network/.test(String(e)),
  );
  assert.throws(
    () => checkPodSysctls({ "kernel.sem": "1 2 3 4" }, { network: false, ipc: true }),
    (e: unknown) => isInvalidArgument(e) && /host IPC/.test(String(e)),
  );
});

test("cgroup parents: cgroupfs paths and systemd slices", () => {
  assert.equal(cgroupParentPath(""), "");
  assert.equal(cgroupParentPath("/kubepods/burstable/pod1"), "kubepods/burstable/pod1");
  assert.equal(cgroupParentPath("/test.slice"), "test.slice");
  assert.equal(
    cgroupParentPath("kubepods-burstable-pod1.slice"),
    "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice",
  );
  assert.throws(() => cgroupParentPath("/a/../b"), isInvalidArgument);
});

test("resolv.conf from DNS config", () => {
  assert.equal(dnsResolvConf({ servers: [], searches: [], options: [] }), "");
  assert.equal(
    dnsResolvConf({ servers: ["1.1.1.1", "8.8.8.8"], searches: [], options: [] }),
    "nameserver 1.1.1.1\nnameserver 8.8.8.8\n",
  );
});

test("a port mapping of an unknown protocol is refused, naming it", () => {
  const w = new BinaryWriter();
  w.tag(5, 2).fork().tag(1, 0).uint32(7).tag(2, 0).int32(80).tag(3, 0).int32(8080).join();
  assert.throws(
    () => decodePodSandboxConfig(w.finish()),
    (err: unknown) =>
      isInvalidArgument(err) && /port_mappings\[0\]: protocol 7 is not TCP/.test(String(err)),
  );
});
