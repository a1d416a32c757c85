/**
 * The CRI stats and metrics calls: ContainerStats, ListContainerStats,
 * PodSandboxStats, ListPodSandboxStats, ListMetricDescriptors and
 * ListPodSandboxMetrics. Containers' figures come from their cgroups through
 * the task service, a pod's cpu/memory from its sandbox cgroup through the
 * sandbox controller, its network from its netns, its process count is the
 * sum of its containers' (as containerd computes them), so a pod's stats and
 * its containers' are read the same way. Writable layers are the containers'
 * snapshots' usage (`writable-layer.ts`).
 */
import { create } from "@bufbuild/protobuf";
import type { Any } from "@bufbuild/protobuf/wkt";
import {
  ContainerAttributesSchema,
  MetricSchema,
  MetricType,
  PodSandboxMetricsSchema,
  PodSandboxStatsSchema,
  type ContainerStats,
  type ContainerStatsFilter,
  type Metric,
  type PodSandboxMetrics,
  type PodSandboxStats,
  type RuntimeService,
} from "@sandboxd/api/cri/runtime/v1/api_pb";
import { ControllerMetricsRequestSchema } from "@sandboxd/api/services/sandbox/v1/sandbox_pb";
import { MetricsRequestSchema } from "@sandboxd/api/services/tasks/v1/tasks_pb";
import type { Ctx } from "@sandboxd/core";
import { isNotFound, isUnavailable, unavailable } from "@sandboxd/errdefs";
import type { ServerCall, ServiceImpl } from "@sandboxd/grpc";
import type { Backend } from "../backend.js";
import type { Containers } from "./containers.js";
import { idMatches, labelsMatch, resolveId } from "./filters.js";
import { metricDescriptors } from "./metric-descriptors.js";
import { netnsCounters, type InterfaceCounters } from "./netdev.js";
import type { Pod, Pods } from "./pods.js";
import type { CriContainer } from "./records.js";
import { containerStats, memoryUsage, usageOf, type Usage } from "./stats.js";
import { nsOf } from "./util.js";
import { writableLayers } from "./writable-layer.js";

export interface StatsParts {
  backend: Backend;
  pods: Pods;
  containers: Containers;
  ctxOf: (call: ServerCall) => Ctx;
}

type StatsCalls =
  | "containerStats"
  | "listContainerStats"
  | "podSandboxStats"
  | "listPodSandboxStats"
  | "listMetricDescriptors"
  | "listPodSandboxMetrics";

export function statsService(p: StatsParts): Pick<ServiceImpl<typeof RuntimeService>, StatsCalls> {
  const s = new Stats(p);
  return {
    containerStats: async (req, call) => {
      const ctx = p.ctxOf(call);
      const c = await p.containers.records.get(ctx, req.containerId);
      return { stats: (await s.containers(ctx, [c]))[0] };
    },
    listContainerStats: async (req, call) => {
      const ctx = p.ctxOf(call);
      return { stats: await s.containers(ctx, await s.filterContainers(ctx, req.filter)) };
    },
    podSandboxStats: async (req, call) => {
      const ctx = p.ctxOf(call);
      const pod = await p.pods.get(ctx, req.podSandboxId);
      return { stats: await s.pod(ctx, pod) };
    },
    listPodSandboxStats: async (req, call) => {
      const ctx = p.ctxOf(call);
      const pods = await p.pods.list(ctx);
      const f = req.filter;
      const id = resolveId(
        f?.id ?? "",
        pods.map((x) => x.id),
      );
      const chosen = pods.filter(
        (x) => idMatches(x.id, id) && labelsMatch(x.config.labels, f?.labelSelector),
      );
      const stats = await Promise.all(chosen.map((pod) => s.pod(ctx, pod).catch(skipGone)));
      return { stats: stats.filter((x): x is PodSandboxStats => x !== undefined) };
    },
    listMetricDescriptors: () => ({ descriptors: metricDescriptors() }),
    listPodSandboxMetrics: async (_req, call) => {
      const ctx = p.ctxOf(call);
      const pods = await p.pods.list(ctx);
      const out = await Promise.all(pods.map((pod) => s.metrics(ctx, pod).catch(skipGone)));
      return { podMetrics: out.filter((x): x is PodSandboxMetrics => x !== undefined) };
    },
  };
}

/** A pod that stopped or went away while being read is left out of a list, as containerd does. */
function skipGone(err: unknown): undefined {
  if (isNotFound(err) || isUnavailable(err)) return undefined;
  throw err;
}

interface PodFigures {
  ready: boolean;
  usage: Usage | undefined;
  network: InterfaceCounters[] | undefined;
  containers: CriContainer[];
  containerUsage: Map<string, Usage | undefined>;
}

class Stats {
  readonly #p: StatsParts;
  constructor(p: StatsParts) {
    this.#p = p;
  }

  async filterContainers(ctx: Ctx, f: ContainerStatsFilter | undefined): Promise<CriContainer[]> {
    const all = await this.#p.containers.records.list(ctx);
    const id = resolveId(
      f?.id ?? "",
      all.map((c) => c.id),
    );
    const podId = resolveId(
      f?.podSandboxId ?? "",
      (await this.#p.pods.list(ctx)).map((x) => x.id),
    );
    return all.filter(
      (c) =>
        idMatches(c.id, id) &&
        idMatches(c.state.sandboxId, podId) &&
        labelsMatch(c.config.labels, f?.labelSelector),
    );
  }

  async containers(ctx: Ctx, list: CriContainer[]): Promise<ContainerStats[]> {
    const [usage, layers] = await Promise.all([
      this.#usage(ctx, list),
      writableLayers(ctx, this.#p.backend.images, list),
    ]);
    const now = nsOf(Date.now());
    return list.map((c) => containerStats(attributesOf(c), now, usage.get(c.id), layers.get(c.id)));
  }

  /** Cgroup usage of each container with a task (created-only containers have none). */
  async #usage(ctx: Ctx, list: CriContainer[]): Promise<Map<string, Usage | undefined>> {
    const out = new Map<string, Usage | undefined>();
    if (list.length === 0) return out;
    const r = await Promise.resolve(
      this.#p.backend.tasks.metrics(
        ctx,
        create(MetricsRequestSchema, { filters: list.map((c) => `id==${c.id}`) }),
      ),
    ).catch((err: unknown) => {
      if (isNotFound(err)) return { metrics: [] };
      throw err;
    });
    for (const m of r.metrics ?? []) {
      const data = m.data && "typeUrl" in m.data ? (m.data as Any) : undefined;
      if (m.id) out.set(m.id, usageOf(data));
    }
    return out;
  }

  async #figures(ctx: Ctx, pod: Pod): Promise<PodFigures> {
    const st = await this.#p.pods.state(ctx, pod);
    if (!st.ready)
      throw unavailable(`pod sandbox ${JSON.stringify(pod.id)} is not ready: no stats`);
    const containers = (await this.#p.containers.records.list(ctx)).filter(
      (c) => c.state.sandboxId === pod.id,
    );
    const [metrics, network, containerUsage] = await Promise.all([
      Promise.resolve(
        this.#p.backend.sandboxController.metrics(
          ctx,
          create(ControllerMetricsRequestSchema, {
            sandboxId: pod.id,
            sandboxer: pod.record.sandboxer,
          }),
        ),
      ),
      // A host-network pod has no netns of its own: no network figures (containerd: none either).
      st.info.netns && st.info.network !== "host"
        ? netnsCounters(
            ctx,
            st.info.netns,
            containers.map((c) => (c.state.finishedAt ? 0 : (c.state.pid ?? 0))),
          )
        : Promise.resolve(undefined),
      this.#usage(ctx, containers),
    ]);
    const data = metrics.metrics?.data;
    const usage = usageOf(data && "typeUrl" in data ? (data as Any) : undefined);
    return { ready: true, usage, network, containers, containerUsage };
  }

  /** The pod's containers' stats, writable layers included (not needed for its metrics). */
  async #podContainers(ctx: Ctx, f: PodFigures, now: bigint): Promise<ContainerStats[]> {
    const layers = await writableLayers(ctx, this.#p.backend.images, f.containers);
    return f.containers.map((c) =>
      containerStats(attributesOf(c), now, f.containerUsage.get(c.id), layers.get(c.id)),
    );
  }

  async pod(ctx: Ctx, pod: Pod): Promise<PodSandboxStats> {
    const f = await this.#figures(ctx, pod);
    const now = nsOf(Date.now());
    let pids = 0n;
    for (const u of f.containerUsage.values()) pids += u?.pids ?? 0n;
    const ifaces = (f.network ?? []).map((i) => ({
      name: i.name,
      rxBytes: { value: i.rxBytes },
      rxErrors: { value: i.rxErrors },
      txBytes: { value: i.txBytes },
      txErrors: { value: i.txErrors },
    }));
    return create(PodSandboxStatsSchema, {
      attributes: {
        id: pod.id,
        metadata: pod.config.metadata,
        labels: pod.config.labels,
        annotations: pod.config.annotations,
      },
      linux: {
        cpu: { timestamp: now, usageCoreNanoSeconds: { value: f.usage?.cpuNs ?? 0n } },
        memory: memoryUsage(now, f.usage),
        ...(f.network
          ? {
              network: {
                timestamp: now,
                defaultInterface: ifaces.find((i) => i.name === "eth0") ?? ifaces[0],
                interfaces: ifaces,
              },
            }
          : {}),
        process: { timestamp: now, processCount: { value: pids } },
        containers: await this.#podContainers(ctx, f, now),
      },
    });
  }

  async metrics(ctx: Ctx, pod: Pod): Promise<PodSandboxMetrics> {
    const f = await this.#figures(ctx, pod);
    const ts = nsOf(Date.now());
    const podName = pod.config.metadata?.name ?? "";
    const podNs = pod.config.metadata?.namespace ?? "";
    const podLabels = [podName, podNs, "", pod.id, ""];
    const metrics: Metric[] = [];
    for (const i of f.network ?? []) metrics.push(...networkMetrics(ts, [...podLabels, i.name], i));
    return create(PodSandboxMetricsSchema, {
      podSandboxId: pod.id,
      metrics,
      containerMetrics: f.containers.map((c) => ({
        containerId: c.id,
        metrics: usageMetrics(
          ts,
          [podName, podNs, c.config.metadata?.name ?? "", c.id, c.config.image?.image ?? ""],
          f.containerUsage.get(c.id),
          c.state.startedAt,
        ),
      })),
    });
  }
}

function attributesOf(c: CriContainer) {
  return create(ContainerAttributesSchema, {
    id: c.id,
    metadata: c.config.metadata,
    labels: c.config.labels,
    annotations: c.config.annotations,
  });
}

function metric(name: string, ts: bigint, labels: string[], value: bigint): Metric {
  return create(MetricSchema, {
    name,
    timestamp: ts,
    // cAdvisor's naming: cumulative series end in _total.
    metricType: name.endsWith("_total") ? MetricType.COUNTER : MetricType.GAUGE,
    labelValues: labels,
    value: { value },
  });
}

function networkMetrics(ts: bigint, labels: string[], i: InterfaceCounters): Metric[] {
  const rows: [string, bigint][] = [
    ["container_network_receive_bytes_total", i.rxBytes],
    ["container_network_receive_packets_total", i.rxPackets],
    ["container_network_receive_packets_dropped_total", i.rxDropped],
    ["container_network_receive_errors_total", i.rxErrors],
    ["container_network_transmit_bytes_total", i.txBytes],
    ["container_network_transmit_packets_total", i.txPackets],
    ["container_network_transmit_packets_dropped_total", i.txDropped],
    ["container_network_transmit_errors_total", i.txErrors],
  ];
  return rows.map(([n, v]) => metric(n, ts, labels, v));
}

const nsPerSecond = 1_000_000_000n;

/** cpu, memory and process series of a container (seconds are whole, as the value is an integer). */
function usageMetrics(
  ts: bigint,
  labels: string[],
  u: Usage | undefined,
  startedAtMs: number | undefined,
): Metric[] {
  if (!u) return [];
  const rows: [string, bigint][] = [
    ["container_last_seen", ts / nsPerSecond],
    ["container_start_time_seconds", BigInt(Math.floor((startedAtMs ?? 0) / 1000))],
    ["container_cpu_usage_seconds_total", u.cpuNs / nsPerSecond],
    ["container_cpu_user_seconds_total", u.cpuUserNs / nsPerSecond],
    ["container_cpu_system_seconds_total", u.cpuSystemNs / nsPerSecond],
    ["container_cpu_cfs_periods_total", u.cfsPeriods],
    ["container_cpu_cfs_throttled_periods_total", u.cfsThrottledPeriods],
    ["container_cpu_cfs_throttled_seconds_total", u.cfsThrottledNs / nsPerSecond],
    ["container_memory_usage_bytes", u.memoryBytes],
    ["container_memory_working_set_bytes", u.workingSetBytes],
    ["container_memory_max_usage_bytes", u.maxUsageBytes],
    ["container_memory_rss", u.rssBytes],
    ["container_memory_cache", u.cacheBytes],
    ["container_memory_mapped_file", u.mappedFileBytes],
    ["container_memory_swap", u.swapBytes],
    ["container_memory_failcnt", u.failcnt],
    ["container_memory_total_active_file_bytes", u.activeFileBytes],
    ["container_memory_total_inactive_file_bytes", u.inactiveFileBytes],
    ["container_oom_events_total", u.oomKills],
    ["container_processes", u.pids],
  ];
  return rows.map(([n, v]) => metric(n, ts, labels, v));
}
