/**
 * The sandboxer's domain: every pod and container of the node, by containerd
 * namespace. Sandbox operations (the Sandbox API, served over gRPC and ttrpc)
 * live here; task operations are in tasks.ts. Operations on one sandbox are
 * serialised; different sandboxes proceed in parallel.
 */
import { arch } from "node:os";
import { create } from "@bufbuild/protobuf";
import { ts } from "./util/time.js";
import { Topic } from "@sandboxd/api/names";
import {
  SandboxCreateSchema,
  SandboxExitSchema,
  SandboxStartSchema,
} from "@sandboxd/api/events/sandbox_pb";
import { TaskPausedSchema, TaskResumedSchema } from "@sandboxd/api/events/task_pb";
import type { Metric } from "@sandboxd/api/types/metrics_pb";
import { MetricSchema } from "@sandboxd/api/types/metrics_pb";
import type { Ctx } from "@sandboxd/core";
import { notFoundText, validateIdentifier } from "@sandboxd/core";
import { alreadyExists, failedPrecondition, notFound } from "@sandboxd/errdefs";
import type { Container } from "./container/container.js";
import type { OciSpec } from "./container/spec.js";
import type { Env } from "./env.js";
import { readMetrics } from "./pod/cgroup-stats.js";
import { Pod } from "./pod/pod.js";
import type { LinuxResources } from "./pod/resources.js";
import type { PodConfig } from "./pod/pod-config.js";
import { criSettings } from "./pod/pod-cri.js";
import type { SandboxRecord } from "./state/records.js";
import { recordVersion } from "./state/records.js";
import { KeyedMutex, NamespacedMap, abortable, namespacedKey, sleep } from "@sandboxd/core";

const sharePidAnnotation = "io.sandboxd.pod.share-pid";
const hostnameAnnotation = "io.kubernetes.cri.sandbox-hostname";

export interface SandboxCreate {
  id: string;
  netnsPath?: string | undefined;
  labels?: Record<string, string> | undefined;
  annotations?: Record<string, string> | undefined;
  spec?: OciSpec | undefined;
  implicit?: boolean | undefined;
  hostname?: string | undefined;
  /** Network mode when no netns path is given: a pod network (default) or the host's. */
  hostNetwork?: boolean | undefined;
  /** CRI's PodSandboxConfig (containerd 2.x passes it as Create's options). */
  podConfig?: PodConfig | undefined;
}

export interface SandboxStatus {
  id: string;
  pid: number;
  state: "SANDBOX_READY" | "SANDBOX_NOTREADY";
  info: Record<string, string>;
  createdAt: number;
  exitedAt?: number | undefined;
}

export class Sandboxer {
  readonly env: Env;
  readonly pods = new NamespacedMap<Pod>();
  readonly containers = new NamespacedMap<Container>();
  readonly lock = new KeyedMutex();
  /** Set by recovery: how long loading the state took. */
  recoveryMs = 0;

  constructor(env: Env) {
    this.env = env;
  }

  pod(namespace: string, id: string): Pod {
    const pod = this.pods.get(namespace, id);
    if (!pod) throw notFound(notFoundText("sandbox", id));
    return pod;
  }

  containersOf(pod: Pod): Container[] {
    return this.containers.list(pod.rec.namespace).filter((c) => c.rec.sandboxId === pod.rec.id);
  }

  /** Runs `fn` holding the sandbox's lock. */
  withSandbox<T>(namespace: string, id: string, fn: () => Promise<T>): Promise<T> {
    return this.lock.run(`sandbox:${namespacedKey(namespace, id)}`, fn);
  }

  async createSandbox(ctx: Ctx, namespace: string, p: SandboxCreate): Promise<Pod> {
    validateIdentifier(p.id);
    return this.withSandbox(namespace, p.id, async () => {
      if (this.pods.has(namespace, p.id)) throw alreadyExists(`sandbox ${JSON.stringify(p.id)}`);
      const annotations = { ...(p.spec?.annotations ?? {}), ...(p.annotations ?? {}) };
      const specNet = p.spec?.linux?.namespaces?.find((n) => n.type === "network");
      const cri = p.podConfig ? criSettings(p.podConfig, p.netnsPath) : undefined;
      const hostNetwork =
        cri?.hostNetwork ??
        p.hostNetwork ??
        (p.spec?.linux?.namespaces !== undefined && specNet === undefined);
      const rec: SandboxRecord = {
        version: recordVersion,
        id: p.id,
        namespace,
        implicit: p.implicit ?? false,
        state: "created",
        createdAt: Date.now(),
        hostname: hostnameOf(
          p.id,
          p.podConfig?.hostname ||
            p.hostname ||
            p.spec?.hostname ||
            annotations[hostnameAnnotation],
        ),
        labels: p.labels ?? {},
        annotations,
        netnsPath: hostNetwork ? undefined : p.netnsPath || specNet?.path || undefined,
        hostNetwork,
        sharePid: cri?.sharePid ?? annotations[sharePidAnnotation] === "true",
        ...(cri ? { ...cri.rec } : {}),
        spec: p.spec,
      };
      const pod = new Pod(this.env, rec);
      await pod.save();
      this.pods.set(namespace, p.id, pod);
      if (this.env.config.sandboxEvents) {
        this.env.events.publish(namespace, Topic.SandboxCreate, SandboxCreateSchema, {
          sandboxId: p.id,
        });
      }
      ctx.log.debug("sandbox created");
      return pod;
    });
  }

  async startSandbox(ctx: Ctx, namespace: string, id: string): Promise<Pod> {
    return this.withSandbox(namespace, id, async () => {
      const pod = this.pod(namespace, id);
      await pod.start(ctx);
      if (this.env.config.sandboxEvents) {
        this.env.events.publish(namespace, Topic.SandboxStart, SandboxStartSchema, {
          sandboxId: id,
        });
      }
      return pod;
    });
  }

  /** Stops every container (TERM, then KILL after the timeout) and the pod. Unknown = done. */
  async stopSandbox(ctx: Ctx, namespace: string, id: string, timeoutMs: number): Promise<void> {
    await this.withSandbox(namespace, id, async () => {
      const pod = this.pods.get(namespace, id);
      if (!pod || pod.rec.state === "stopped") return;
      await this.#stopContainers(ctx, pod, timeoutMs);
      await pod.stop(ctx);
      if (this.env.config.sandboxEvents) {
        this.env.events.publish(namespace, Topic.SandboxExit, SandboxExitSchema, {
          sandboxId: id,
          exitStatus: pod.rec.exitStatus ?? 0,
          exitedAt: ts(pod.rec.exitedAt ?? Date.now()),
        });
      }
    });
  }

  async #stopContainers(ctx: Ctx, pod: Pod, timeoutMs: number): Promise<void> {
    if (pod.frozen && pod.rec.cgroup) {
      await this.env.cgroups.thaw(pod.rec.cgroup, ctx.signal);
      pod.frozen = false;
      await pod.save();
    }
    const running = this.containersOf(pod).filter((c) => c.rec.status !== "stopped");
    await Promise.all(
      running.map(async (c) => {
        if (c.rec.status === "created") {
          await c.runc.delete(ctx, c.id, true).catch(() => undefined);
          await Promise.race([c.init.exited, sleep(2000)]);
          await c.init.checkMonitor();
          return;
        }
        if (timeoutMs > 0) {
          await c.kill(ctx, 15, true).catch(() => undefined);
          if (
            await Promise.race([c.init.exited.then(() => true), sleep(timeoutMs).then(() => false)])
          )
            return;
        }
        await c.kill(ctx, 9, true).catch(() => undefined);
        await Promise.race([c.init.exited, sleep(10_000)]);
        await c.init.checkMonitor();
      }),
    );
  }

  async waitSandbox(
    ctx: Ctx,
    namespace: string,
    id: string,
  ): Promise<{ exitStatus: number; exitedAt: number }> {
    const pod = this.pod(namespace, id);
    await abortable(pod.exited, ctx.signal);
    return { exitStatus: pod.rec.exitStatus ?? 0, exitedAt: pod.rec.exitedAt ?? Date.now() };
  }

  status(namespace: string, id: string): SandboxStatus {
    const pod = this.pod(namespace, id);
    const r = pod.rec;
    const info: Record<string, string> = { hostname: r.hostname };
    const net = r.netnsPath ?? r.pins?.net;
    if (net) info.netns = net;
    if (r.hostNetwork) info.network = "host";
    if (r.network?.ip) info.ip = r.network.ip;
    if (r.network?.gateway) info.gateway = r.network.gateway;
    if (r.cgroup) info.cgroup = r.cgroup;
    info.containers = String(this.containersOf(pod).length);
    if (r.hostIpc) info.ipc = "host";
    if (r.hostPid) info.pid = "host";
    else if (r.sharePid) info.pid = "pod";
    if (r.cri) info.pod = `${r.cri.namespace}/${r.cri.name}`;
    if (pod.frozen) info.paused = "true";
    return {
      id,
      pid: pod.reportedPid,
      state: r.state === "ready" ? "SANDBOX_READY" : "SANDBOX_NOTREADY",
      info,
      createdAt: r.createdAt,
      exitedAt: r.exitedAt,
    };
  }

  /** Stops (if needed) and removes the sandbox and everything in it. Unknown = done. */
  async shutdownSandbox(ctx: Ctx, namespace: string, id: string): Promise<void> {
    await this.withSandbox(namespace, id, async () => {
      const pod = this.pods.get(namespace, id);
      if (!pod) return;
      await this.#stopContainers(ctx, pod, 0);
      for (const c of this.containersOf(pod)) {
        await c.delete(ctx);
        this.containers.delete(namespace, c.id);
      }
      await pod.release(ctx);
      this.pods.delete(namespace, id);
    });
  }

  async metrics(namespace: string, id: string): Promise<Metric> {
    const pod = this.pod(namespace, id);
    if (!pod.rec.cgroup) throw failedPrecondition(`sandbox ${JSON.stringify(id)} is not started`);
    return create(MetricSchema, {
      timestamp: ts(Date.now()),
      id,
      data: await readMetrics(this.env.cgroups, pod.rec.cgroup),
    });
  }

  platform(): { os: string; architecture: string; variant: string } {
    const a = arch();
    return {
      os: "linux",
      architecture: a === "x64" ? "amd64" : a === "ia32" ? "386" : a,
      variant: "",
    };
  }

  /** Sandbox.Update: labels and annotations; other fields have nothing to change here. */
  async updateSandbox(
    namespace: string,
    id: string,
    update: { labels?: Record<string, string>; annotations?: Record<string, string> },
  ): Promise<void> {
    await this.withSandbox(namespace, id, async () => {
      const pod = this.pod(namespace, id);
      if (update.labels) pod.rec.labels = update.labels;
      if (update.annotations) pod.rec.annotations = update.annotations;
      await pod.save();
    });
  }

  /** Freezes (or thaws) the whole sandbox cgroup. */
  async setPaused(ctx: Ctx, namespace: string, id: string, paused: boolean): Promise<void> {
    await this.withSandbox(namespace, id, async () => {
      const pod = this.pod(namespace, id);
      if (pod.rec.state !== "ready" || !pod.rec.cgroup) {
        throw failedPrecondition(`sandbox ${JSON.stringify(id)} is not ready`);
      }
      if (paused) await this.env.cgroups.freeze(pod.rec.cgroup, ctx.signal);
      else await this.env.cgroups.thaw(pod.rec.cgroup, ctx.signal);
      pod.frozen = paused;
      await pod.save();
      for (const c of this.containersOf(pod)) {
        if (c.rec.status !== "running") continue;
        this.env.events.publish(
          namespace,
          paused ? Topic.TaskPaused : Topic.TaskResumed,
          paused ? TaskPausedSchema : TaskResumedSchema,
          {
            containerId: c.id,
          },
        );
      }
    });
  }

  /** Resizes a pod's cgroup to its containers' resources (+ one being added). */
  async resizePod(pod: Pod, extra?: LinuxResources): Promise<void> {
    const all = this.containersOf(pod).map((c) => c.resources);
    if (extra !== undefined) all.push(extra);
    await pod.resize(all).catch((err: unknown) => {
      this.env.root.log.warn({ sandbox_id: pod.rec.id, error: err }, "resize sandbox cgroup");
    });
  }
}

/** A valid hostname for the pod: the given one, else the sandbox id (max 63 characters). */
export function hostnameOf(id: string, given: string | undefined): string {
  const name = (given || id)
    .toLowerCase()
    .replace(/[^a-z0-9.-]/g, "-")
    .replace(/^[-.]+/, "");
  return (name || "sandbox").slice(0, 63).replace(/[-.]+$/, "") || "sandbox";
}
