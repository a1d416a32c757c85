// CRI stats and metrics against a real sandboxd + sbx-sandboxer + runc + CNI:
// PodSandboxStats / ListPodSandboxStats (cpu, memory from the pod cgroup,
// network from its netns, process count), ListContainerStats consistent with
// them, ListMetricDescriptors with containerd's (cAdvisor's) names and
// ListPodSandboxMetrics carrying those series.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { isUnavailable } from "@sandboxd/errdefs";
import { containerConfig, openCri, podConfig, runContainer, type CriWorld } from "./harness.js";

let w: CriWorld;
let podId = "";
let id = "";
let podName = "";
before(async () => {
  w = await openCri();
  const pod = podConfig(w, "stats");
  podName = pod.metadata?.name ?? "";
  ({ podId, id } = await runContainer(
    w,
    pod,
    containerConfig(w, "worker", ["sh", "-c", "sleep 3600"], { labels: { role: "worker" } }),
  ));
  // Traffic on eth0: a connection attempt off the pod's subnet goes to the gateway (ARP, SYN).
  await w.rt.execSync({
    containerId: id,
    cmd: ["sh", "-c", "wget -q -T 2 -O /dev/null http://192.0.2.123/ 2>/dev/null; true"],
    timeout: 20n,
  });
});
after(async () => {
  await w?.close();
});

test("PodSandboxStats: cpu, memory, eth0 counters, process count and the pod's containers", async () => {
  const before = await w.rt.listContainerStats({ filter: { podSandboxId: podId } });
  assert.deepEqual(
    before.stats.map((s) => s.attributes?.id),
    [id],
  );
  const containerCpu = before.stats[0]?.cpu?.usageCoreNanoSeconds?.value ?? 0n;
  assert.ok(containerCpu > 0n, "the container used cpu");

  const { stats } = await w.rt.podSandboxStats({ podSandboxId: podId });
  assert.equal(stats?.attributes?.id, podId);
  assert.equal(stats?.attributes?.metadata?.name, podName);
  assert.deepEqual(stats?.attributes?.labels, { "cri.test": "yes" });
  const l = stats?.linux;
  // The pod cgroup holds the container's: read later, its cpu time is at least the container's.
  assert.ok(
    (l?.cpu?.usageCoreNanoSeconds?.value ?? 0n) >= containerCpu,
    "pod cpu >= container cpu",
  );
  assert.ok((l?.memory?.workingSetBytes?.value ?? 0n) > 0n, "pod working set");
  assert.ok((l?.memory?.usageBytes?.value ?? 0n) > 0n, "pod memory usage");
  assert.equal(l?.network?.defaultInterface?.name, "eth0");
  assert.ok((l?.network?.defaultInterface?.txBytes?.value ?? 0n) > 0n, "eth0 transmitted");
  assert.ok(!l?.network?.interfaces.some((i) => i.name === "lo"), "loopback left out");
  // sh + sleep, or sleep alone once sh exec'd it: at least one.
  assert.ok((l?.process?.processCount?.value ?? 0n) >= 1n, "process count");
  assert.deepEqual(
    l?.containers.map((c) => c.attributes?.id),
    [id],
  );
  assert.ok((l?.containers[0]?.memory?.workingSetBytes?.value ?? 0n) > 0n);

  const listed = await w.rt.listPodSandboxStats({ filter: { id: podId.slice(0, 12) } });
  assert.deepEqual(
    listed.stats.map((s) => s.attributes?.id),
    [podId],
  );
  const byLabel = await w.rt.listPodSandboxStats({
    filter: { labelSelector: { "cri.test": "no" } },
  });
  assert.deepEqual(byLabel.stats, []);
});

test("ListMetricDescriptors: containerd's cAdvisor names and label keys", async () => {
  const { descriptors } = await w.rt.listMetricDescriptors({});
  const byName = new Map(descriptors.map((d) => [d.name, d]));
  for (const name of [
    "container_cpu_usage_seconds_total",
    "container_memory_working_set_bytes",
    "container_memory_usage_bytes",
    "container_network_receive_bytes_total",
    "container_network_transmit_bytes_total",
    "container_processes",
    "container_oom_events_total",
  ])
    assert.ok(byName.has(name), name);
  assert.deepEqual(byName.get("container_cpu_usage_seconds_total")?.labelKeys, [
    "pod",
    "namespace",
    "container",
    "id",
    "image",
  ]);
  assert.deepEqual(byName.get("container_network_receive_bytes_total")?.labelKeys, [
    "pod",
    "namespace",
    "container",
    "id",
    "image",
    "interface",
  ]);
});

test("ListPodSandboxMetrics: the pod's network series and its containers' cpu, memory, processes", async () => {
  const { podMetrics } = await w.rt.listPodSandboxMetrics({});
  const pm = podMetrics.find((m) => m.podSandboxId === podId);
  assert.ok(pm, "the pod is listed");
  const tx = pm.metrics.find((m) => m.name === "container_network_transmit_bytes_total");
  assert.deepEqual(tx?.labelValues, [podName, "cri-test", "", podId, "", "eth0"]);
  assert.ok((tx?.value?.value ?? 0n) > 0n);
  const cm = pm.containerMetrics.find((c) => c.containerId === id);
  assert.ok(cm, "the container's metrics");
  const ws = cm.metrics.find((m) => m.name === "container_memory_working_set_bytes");
  assert.deepEqual(ws?.labelValues, [podName, "cri-test", "worker", id, w.image]);
  assert.ok((ws?.value?.value ?? 0n) > 0n);
  const started = cm.metrics.find((m) => m.name === "container_start_time_seconds");
  const now = BigInt(Math.floor(Date.now() / 1000));
  assert.ok((started?.value?.value ?? 0n) > now - 3600n && (started?.value?.value ?? 0n) <= now);
  const procs = cm.metrics.find((m) => m.name === "container_processes");
  assert.ok((procs?.value?.value ?? 0n) >= 1n);
  const names = new Set((await w.rt.listMetricDescriptors({})).descriptors.map((d) => d.name));
  for (const m of [...pm.metrics, ...cm.metrics])
    assert.ok(names.has(m.name), `${m.name} described`);
});

test("a pod without containers: eth0 counters read in its netns, no processes", async () => {
  const { podSandboxId } = await w.rt.runPodSandbox({ config: podConfig(w, "empty") });
  const { stats } = await w.rt.podSandboxStats({ podSandboxId });
  assert.equal(stats?.linux?.network?.defaultInterface?.name, "eth0");
  // IPv6 link-local set-up (router solicitation, DAD) or nothing yet: the counter is there.
  assert.ok(stats?.linux?.network?.defaultInterface?.txBytes !== undefined);
  assert.equal(stats?.linux?.process?.processCount?.value, 0n);
  assert.deepEqual(stats?.linux?.containers, []);
  await w.rt.removePodSandbox({ podSandboxId });
});

test("a stopped pod has no stats: PodSandboxStats is Unavailable, the lists leave it out", async () => {
  const pod = podConfig(w, "stopped");
  const { podSandboxId } = await w.rt.runPodSandbox({ config: pod });
  await w.rt.stopPodSandbox({ podSandboxId });
  await assert.rejects(w.rt.podSandboxStats({ podSandboxId }), (err) => isUnavailable(err));
  const listed = await w.rt.listPodSandboxStats({});
  assert.ok(!listed.stats.some((s) => s.attributes?.id === podSandboxId));
  const metrics = await w.rt.listPodSandboxMetrics({});
  assert.ok(!metrics.podMetrics.some((m) => m.podSandboxId === podSandboxId));
  await w.rt.removePodSandbox({ podSandboxId });
});
