/**
 * The CRI as a daemon component (containerd's CRI is a plugin the same
 * way): built from the daemon's service layer and its `[plugins]` config,
 * it serves runtime.v1.RuntimeService on the daemon's gRPC server, in
 * namespace k8s.io, with a streaming server for exec/attach/port-forward.
 */
import { spawn } from "node:child_process";
import type { Duplex } from "node:stream";
import { ImageService, NamespaceMode, RuntimeService } from "@sandboxd/api/cri/runtime/v1/api_pb";
import { withNamespace, type Ctx } from "@sandboxd/core";
import { failedPrecondition } from "@sandboxd/errdefs";
import type { GrpcServer, ServerCall } from "@sandboxd/grpc";
import { StreamingServer, type Runtime } from "@sandboxd/streaming";
import type { Backend } from "./backend.js";
import { criNamespace, parseCriConfig, type CriConfig } from "./config.js";
import { Containers } from "./runtime/containers.js";
import { Execs } from "./runtime/exec.js";
import { Pods } from "./runtime/pods.js";
import { fromAny } from "./runtime/util.js";
import { TaskOOMSchema } from "@sandboxd/api/events/task_pb";
import { ContainerEvents } from "./runtime/container-events.js";
import { runtimeService } from "./service.js";
import { Images, imageService } from "./images.js";

export interface CriOptions {
  backend: Backend;
  /** The daemon's `[plugins]` table. */
  plugins: Readonly<Record<string, unknown>>;
  /** Where the CRI keeps FIFOs and container state. */
  stateDir: string;
  root: Ctx;
  version: string;
}

type CriParts = Omit<Parameters<typeof runtimeService>[0], "ctxOf"> & {
  stop: AbortController;
};

/** Marks containers whose task had an OOM kill (`/tasks/oom` in k8s.io). */
async function watchOoms(
  backend: Backend,
  root: Ctx,
  containers: Containers,
  signal: AbortSignal,
): Promise<void> {
  const filter = `topic=="/tasks/oom",namespace=="${criNamespace}"`;
  try {
    for await (const env of backend.events.subscribe(signal, [filter])) {
      const oom = fromAny(TaskOOMSchema, env.event);
      if (oom)
        await containers
          .markOom(root, oom.containerId)
          .catch((err: unknown) =>
            root.log.warn({ error: err, id: oom.containerId }, "recording an OOM kill"),
          );
    }
  } catch (err) {
    if (!signal.aborted) root.log.warn({ error: err }, "watching OOM events");
  }
}

export class Cri {
  readonly config: CriConfig;
  readonly streaming: StreamingServer;
  readonly #parts: CriParts;

  private constructor(config: CriConfig, streaming: StreamingServer, parts: CriParts) {
    this.config = config;
    this.streaming = streaming;
    this.#parts = parts;
  }

  static async start(o: CriOptions): Promise<Cri> {
    const config = parseCriConfig(o.plugins, {
      stateDir: o.stateDir,
      defaultSandboxer: o.backend.defaultSandboxer,
      sandboxers: o.backend.sandboxers,
    });
    const root = withNamespace(o.root, criNamespace);
    const pods = new Pods(o.backend, config);
    const containers = new Containers(o.backend, config, root);
    const execs = new Execs(o.backend, containers);
    const images = new Images(o.backend.images);
    const events = new ContainerEvents(root, pods, containers);
    containers.onEvent = (id, kind, sandboxId) => events.send(id, sandboxId, kind);
    const runtime: Runtime = {
      exec: async (id, cmd, io, signal) =>
        execs.stream(root, await containers.records.get(root, id), cmd, io, signal),
      attach: async (id, io, signal) =>
        execs.attach(await containers.records.get(root, id), io, signal),
      portForward: async (podId, port, stream, signal) => {
        const pod = await pods.get(root, podId);
        const hostNetwork =
          pod.config.linux?.securityContext?.namespaceOptions?.network === NamespaceMode.NODE;
        // A host-network pod's ports are the host's: no namespace to enter.
        const netns = hostNetwork ? "" : ((await pods.state(root, pod)).info.netns ?? "");
        await forward(netns, port, stream, signal, hostNetwork);
      },
    };
    const recovered = await containers.recover(root);
    if (recovered > 0) root.log.info({ containers: recovered }, "CRI containers re-attached");
    const stop = new AbortController();
    void watchOoms(o.backend, root, containers, stop.signal);
    const streaming = await StreamingServer.start({
      runtime,
      address: `${config.streamAddress}:${config.streamPort}`,
      logger: o.root.log,
    });
    return new Cri(config, streaming, {
      config,
      backend: o.backend,
      pods,
      containers,
      execs,
      streaming,
      version: o.version,
      events,
      images,
      stop,
    });
  }

  /** Registers runtime.v1.RuntimeService; every call runs in namespace k8s.io. */
  register(grpc: GrpcServer, ctxOf: (call: ServerCall) => Ctx): void {
    const inK8s = (call: ServerCall): Ctx => withNamespace(ctxOf(call), criNamespace);
    grpc.register(RuntimeService, runtimeService({ ...this.#parts, ctxOf: inK8s }));
    grpc.register(ImageService, imageService(this.#parts.images, inK8s));
  }

  async close(): Promise<void> {
    this.#parts.stop.abort();
    await this.streaming.close();
    for (const l of this.#parts.containers.live.values()) l.output.destroy();
  }
}

/** Connects `stream` to 127.0.0.1:`port` inside the network namespace at `netns`. */
function forward(
  netns: string,
  port: number,
  stream: Duplex,
  signal: AbortSignal,
  hostNetwork: boolean,
): Promise<void> {
  if (!netns && !hostNetwork)
    return Promise.reject(failedPrecondition("the pod has no network namespace to forward into"));
  const socat = ["socat", "STDIO", `TCP4:127.0.0.1:${port}`];
  const [cmd = "socat", ...args] = hostNetwork ? socat : ["nsenter", `--net=${netns}`, ...socat];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    stream.pipe(child.stdin);
    child.stdout.pipe(stream, { end: false });
    const stop = (): void => void child.kill("SIGKILL");
    signal.addEventListener("abort", stop, { once: true });
    child.on("error", reject);
    child.on("close", (code) => {
      signal.removeEventListener("abort", stop);
      if (code === 0 || signal.aborted) resolve();
      else
        reject(
          failedPrecondition(`port-forward to ${port}: ${err.trim() || `socat exited ${code}`}`),
        );
    });
  });
}
