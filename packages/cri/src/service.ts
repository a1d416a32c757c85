/**
 * runtime.v1.RuntimeService handlers: thin, each maps a request onto the
 * pods/containers/execs layer in namespace k8s.io and shapes the answer.
 */
import { create } from "@bufbuild/protobuf";
import type { RuntimeService } from "@sandboxd/api/cri/runtime/v1/api_pb";
import {
  ContainerSchema,
  CgroupDriver,
  type ContainerFilter,
} from "@sandboxd/api/cri/runtime/v1/api_pb";
import type { Ctx } from "@sandboxd/core";
import { failedPrecondition, invalidArgument } from "@sandboxd/errdefs";
import type { ServerCall, ServiceImpl } from "@sandboxd/grpc";
import type { StreamingServer } from "@sandboxd/streaming";
import type { Backend } from "./backend.js";
import type { CriConfig } from "./config.js";
import type { ContainerEvents } from "./runtime/container-events.js";
import type { Containers } from "./runtime/containers.js";
import type { Execs } from "./runtime/exec.js";
import type { Images } from "./images.js";
import type { Pods } from "./runtime/pods.js";
import { stateOf } from "./runtime/records.js";
import { statsService } from "./runtime/service-stats.js";
import { idMatches, labelsMatch, resolveId } from "./runtime/filters.js";
import { ignoreNotFound, nsOf } from "./runtime/util.js";
import { supportsUserns } from "./runtime/userns.js";

export const runtimeName = "sandboxd";
export const runtimeApiVersion = "v1";

export interface RuntimeParts {
  config: CriConfig;
  backend: Backend;
  pods: Pods;
  containers: Containers;
  execs: Execs;
  images: Images;
  streaming: StreamingServer;
  version: string;
  ctxOf: (call: ServerCall) => Ctx;
  events: ContainerEvents;
}

export function runtimeService(p: RuntimeParts): ServiceImpl<typeof RuntimeService> {
  const { pods, containers, execs, ctxOf } = p;
  const listContainers = async (ctx: Ctx, f: ContainerFilter | undefined) => {
    const all = await containers.records.list(ctx);
    if (!f) return all;
    const id = resolveId(
      f.id,
      all.map((c) => c.id),
    );
    const podIds = f.podSandboxId ? (await pods.list(ctx)).map((x) => x.id) : [];
    const podId = resolveId(f.podSandboxId, podIds);
    return all.filter(
      (c) =>
        idMatches(c.id, id) &&
        idMatches(c.state.sandboxId, podId) &&
        (!f.state || f.state.state === stateOf(c)) &&
        labelsMatch(c.config.labels, f.labelSelector),
    );
  };
  return {
    version: () => ({
      version: "0.1.0",
      runtimeName,
      runtimeVersion: p.version,
      runtimeApiVersion,
    }),
    status: (req) => ({
      status: {
        conditions: [
          { type: "RuntimeReady", status: true },
          { type: "NetworkReady", status: true },
        ],
      },
      runtimeHandlers: Object.values(p.config.runtimes)
        .map((h) => ({
          name: h.name,
          features: {
            recursiveReadOnlyMounts: true,
            userNamespaces: supportsUserns(h.runtimeType),
          },
        }))
        .concat([
          {
            // The default handler, under the empty name, as containerd lists it.
            name: "",
            features: {
              recursiveReadOnlyMounts: true,
              userNamespaces: supportsUserns(
                p.config.runtimes[p.config.defaultRuntimeName]?.runtimeType ?? "",
              ),
            },
          },
        ]),
      // Strict and Merge are both honoured (runtime/identity.ts).
      features: { supplementalGroupsPolicy: true },
      // crictl info prints these; containerd's "config" is its CRI configuration as JSON.
      info: verboseInfoOf(req.verbose, { config: JSON.stringify(p.config) }),
    }),
    runtimeConfig: () => ({
      linux: {
        cgroupDriver: p.config.runtimes[p.config.defaultRuntimeName]?.systemdCgroup
          ? CgroupDriver.SYSTEMD
          : CgroupDriver.CGROUPFS,
      },
    }),
    updateRuntimeConfig: () => ({}),
    runPodSandbox: async (req, call) => {
      if (!req.config) throw invalidArgument("config must be set");
      const id = await pods.run(ctxOf(call), req.config, req.runtimeHandler);
      p.events.send(id, id, "created");
      p.events.send(id, id, "started");
      return { podSandboxId: id };
    },
    stopPodSandbox: async (req, call) => {
      const ctx = ctxOf(call);
      const pod = await ignoreNotFound(() => pods.get(ctx, req.podSandboxId));
      if (!pod) return {};
      for (const c of await listContainers(ctx, undefined))
        if (c.state.sandboxId === pod.id) await containers.stop(ctx, c, 0);
      const wasReady = (await pods.state(ctx, pod)).ready;
      await pods.stop(ctx, pod);
      // StopPodSandbox is repeated by kubelet: one event for the change only.
      if (wasReady) p.events.send(pod.id, pod.id, "stopped");
      return {};
    },
    removePodSandbox: async (req, call) => {
      const ctx = ctxOf(call);
      const pod = await ignoreNotFound(() => pods.get(ctx, req.podSandboxId));
      if (!pod) return {};
      for (const c of await listContainers(ctx, undefined))
        if (c.state.sandboxId === pod.id) await containers.remove(ctx, c);
      const last = await pods.status(ctx, pod).then((s) => s.status);
      await pods.remove(ctx, pod);
      p.events.send(pod.id, pod.id, "deleted", last);
      return {};
    },
    podSandboxStatus: async (req, call) => {
      const ctx = ctxOf(call);
      const pod = await pods.get(ctx, req.podSandboxId);
      const { status, info } = await pods.status(ctx, pod);
      const ctrs = (await listContainers(ctx, undefined)).filter(
        (c) => c.state.sandboxId === pod.id,
      );
      return {
        status,
        info: verboseInfo(req.verbose, { sandboxer: pod.record.sandboxer, ...info }),
        containersStatuses: req.verbose ? ctrs.map((c) => containers.status(c)) : [],
        timestamp: nsOf(Date.now()),
      };
    },
    listPodSandbox: async (req, call) => ({ items: await pods.summaries(ctxOf(call), req.filter) }),
    createContainer: async (req, call) => {
      const ctx = ctxOf(call);
      if (!req.config) throw invalidArgument("config must be set");
      const pod = await pods.get(ctx, req.podSandboxId);
      return { containerId: await containers.create(ctx, pod, req.config) };
    },
    startContainer: async (req, call) => {
      const ctx = ctxOf(call);
      const c = await containers.records.get(ctx, req.containerId);
      const pod = await pods.get(ctx, c.state.sandboxId);
      const st = await pods.state(ctx, pod);
      await containers.start(ctx, c, st.ready);
      return {};
    },
    stopContainer: async (req, call) => {
      const ctx = ctxOf(call);
      const c = await ignoreNotFound(() => containers.records.get(ctx, req.containerId));
      if (c) await containers.stop(ctx, c, Number(req.timeout));
      return {};
    },
    removeContainer: async (req, call) => {
      const ctx = ctxOf(call);
      const c = await ignoreNotFound(() => containers.records.get(ctx, req.containerId));
      if (c) await containers.remove(ctx, c);
      return {};
    },
    listContainers: async (req, call) => ({
      containers: (await listContainers(ctxOf(call), req.filter)).map((c) =>
        create(ContainerSchema, {
          id: c.id,
          podSandboxId: c.state.sandboxId,
          metadata: c.config.metadata,
          image: c.config.image,
          imageRef: c.state.image,
          imageId: c.state.image,
          state: stateOf(c),
          createdAt: nsOf(c.createdAtMs),
          labels: c.config.labels,
          annotations: c.config.annotations,
        }),
      ),
    }),
    containerStatus: async (req, call) => {
      const c = await containers.records.get(ctxOf(call), req.containerId);
      return {
        status: containers.status(c),
        info: verboseInfo(req.verbose, { pid: c.state.pid ?? 0, sandboxID: c.state.sandboxId }),
      };
    },
    updateContainerResources: async (req, call) => {
      const ctx = ctxOf(call);
      const c = await containers.records.get(ctx, req.containerId);
      const r = req.linux;
      const resources: Record<string, unknown> = {};
      if (r) {
        resources.cpu = {
          ...(r.cpuShares ? { shares: Number(r.cpuShares) } : {}),
          ...(r.cpuQuota ? { quota: Number(r.cpuQuota) } : {}),
          ...(r.cpuPeriod ? { period: Number(r.cpuPeriod) } : {}),
          ...(r.cpusetCpus ? { cpus: r.cpusetCpus } : {}),
        };
        if (r.memoryLimitInBytes) resources.memory = { limit: Number(r.memoryLimitInBytes) };
      }
      await containers.update(ctx, c, resources);
      return {};
    },
    reopenContainerLog: async (req, call) => {
      const c = await containers.records.get(ctxOf(call), req.containerId);
      const live = containers.live.get(c.id);
      if (!live) throw failedPrecondition(`container ${c.id} is not running`);
      live.output.file.reopen();
      return {};
    },
    execSync: async (req, call) => {
      const ctx = ctxOf(call);
      const c = await containers.records.get(ctx, req.containerId);
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      const code = await execs.run(
        ctx,
        c,
        req.cmd,
        { stdout: (d) => out.push(d), stderr: (d) => err.push(d), tty: false },
        Number(req.timeout) * 1000,
      );
      return { stdout: Buffer.concat(out), stderr: Buffer.concat(err), exitCode: code };
    },
    exec: async (req, call) => {
      const c = await containers.records.get(ctxOf(call), req.containerId);
      if (!containers.live.has(c.id)) throw failedPrecondition(`container ${c.id} is not running`);
      return p.streaming.getExec({
        containerId: c.id,
        cmd: req.cmd,
        tty: req.tty,
        stdin: req.stdin,
        stdout: req.stdout,
        stderr: req.stderr,
      });
    },
    attach: async (req, call) => {
      const c = await containers.records.get(ctxOf(call), req.containerId);
      if (!containers.live.has(c.id)) throw failedPrecondition(`container ${c.id} is not running`);
      return p.streaming.getAttach({
        containerId: c.id,
        tty: req.tty,
        stdin: req.stdin,
        stdout: req.stdout,
        stderr: req.stderr,
      });
    },
    portForward: async (req, call) => {
      const pod = await pods.get(ctxOf(call), req.podSandboxId);
      return p.streaming.getPortForward({ podSandboxId: pod.id, ports: req.port });
    },
    ...statsService(p),
    getContainerEvents: (_req, call) => p.events.subscribe(call.signal),
  };
}

function verboseInfo(verbose: boolean, info: Record<string, unknown>): Record<string, string> {
  return verbose ? { info: JSON.stringify(info) } : {};
}

function verboseInfoOf(verbose: boolean, info: Record<string, string>): Record<string, string> {
  return verbose ? info : {};
}
