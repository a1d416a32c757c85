/**
 * CRI containers over the daemon's Containers and Tasks services: create
 * writes the container (spec, CRI config and state as extensions, sandbox =
 * the pod); start makes the task with FIFO stdio read into the CRI log; the
 * exit is recorded on the container (times, code, reason) and the task is
 * deleted, so an exited container keeps its status.
 */
import { mkdir, rm, stat } from "node:fs/promises";
import type { Socket } from "node:net";
import { isAbsolute, join } from "node:path";
import { create } from "@bufbuild/protobuf";
import {
  type ContainerConfig,
  ContainerState,
  type ContainerStatus,
} from "@sandboxd/api/cri/runtime/v1/api_pb";
import {
  CreateContainerRequestSchema,
  DeleteContainerRequestSchema,
} from "@sandboxd/api/services/containers/v1/containers_pb";
import {
  CreateTaskRequestSchema,
  DeleteTaskRequestSchema,
  KillRequestSchema,
  StartRequestSchema,
  WaitRequestSchema,
  MetricsRequestSchema,
  UpdateTaskRequestSchema,
} from "@sandboxd/api/services/tasks/v1/tasks_pb";
import { ContainerConfigSchema } from "@sandboxd/api/cri/runtime/v1/api_pb";
import type { Ctx } from "@sandboxd/core";
import {
  alreadyExists,
  failedPrecondition,
  invalidArgument,
  isNotFound,
  messageOf,
  notFound,
} from "@sandboxd/errdefs";
import type { Backend } from "../backend.js";
import { handlerOf, type CriConfig } from "../config.js";
import { ContainerOutput } from "../logs/cri-log.js";
import { Images } from "../images.js";
import { makeFifos, openStdin } from "./io.js";
import { usageOf } from "./stats.js";
import type { Any } from "@bufbuild/protobuf/wkt";
import type { Pod } from "./pods.js";
import {
  configExtension,
  Records,
  stateAny,
  stateExtension,
  stateOf,
  type CriContainer,
  type CriState,
} from "./records.js";
import { specIdentity, withGroupsPolicy } from "./identity.js";
import { targetPid } from "./pid-target.js";
import {
  ImageUserFiles,
  containerUser,
  overlayRootfs,
  userFilesOfDir,
  userFilesOfMounts,
} from "./rootfs-user.js";
import { containerSpec } from "./spec.js";
import { containerStatus } from "./status.js";
import { anyOf, ignoreNotFound, jsonAny, newId } from "./util.js";

export const specTypeUrl = "types.containerd.io/opencontainers/runtime-spec/1/Spec";

export interface Live {
  output: ContainerOutput;
  /** The container's stdin (config.stdin): held open here, as containerd's CRI does; attach writes to it. */
  stdin: Socket | undefined;
  exited: Promise<void>;
  oom: boolean;
}

export class Containers {
  readonly #b: Backend;
  readonly #config: CriConfig;
  readonly records: Records;
  readonly live = new Map<string, Live>();
  readonly #reserved = new Set<string>();
  /** Called after each lifecycle change (GetContainerEvents). */
  onEvent: (
    id: string,
    kind: "created" | "started" | "stopped" | "deleted",
    sandboxId: string,
  ) => void = () => undefined;

  readonly #root: Ctx;
  readonly #images: Images;
  readonly #userFiles = new ImageUserFiles();

  /** `root`: the CRI's long-lived context (namespace k8s.io), for background waits. */
  constructor(b: Backend, config: CriConfig, root: Ctx) {
    this.#b = b;
    this.#config = config;
    this.#root = root;
    this.records = new Records(b);
    this.#images = new Images(b.images);
  }

  dir(id: string): string {
    return join(this.#config.stateDir, "containers", id);
  }

  async create(ctx: Ctx, pod: Pod, config: ContainerConfig): Promise<string> {
    const m = config.metadata;
    if (!m?.name) throw invalidArgument("ContainerConfig.metadata.name must be set");
    const image = config.image?.image ?? "";
    if (!image) throw invalidArgument("ContainerConfig.image.image must be set");
    const pm = pod.config.metadata;
    const name = [m.name, pm?.name, pm?.namespace, pm?.uid, m.attempt].join("_");
    const existing = await this.records.list(ctx);
    if (this.#reserved.has(name) || existing.some((c) => nameOf(c) === name))
      throw alreadyExists(
        `failed to reserve container name ${JSON.stringify(name)}: already reserved`,
      );
    // A pulled image (by name or id), or, as a stand-in, a local directory.
    const entry = isAbsolute(image) ? undefined : (await this.#images.find(ctx, image))[0];
    if (!entry && !isAbsolute(image)) throw notFound(`image "${image}" not found`);
    this.#reserved.add(name);
    let prepared = "";
    try {
      const id = newId();
      // containerd's CRI: the rootfs is an active snapshot on the image's top chain ID.
      const mounts = entry ? await this.#b.images.prepare(ctx, id, entry.chainId) : [];
      if (entry) prepared = id;
      const user = await containerUser(config, entry?.config.User, () =>
        entry
          ? this.#userFiles.get(`${this.#b.images.snapshotter}\0${entry.chainId}`, () =>
              userFilesOfMounts(ctx, mounts, join(this.#config.stateDir, "tmpmounts")),
            )
          : userFilesOfDir(image),
      );
      const spec = await containerSpec(ctx, {
        id,
        sandboxId: pod.id,
        config,
        pod: pod.config,
        image,
        imageConfig: entry?.config,
        user: withGroupsPolicy(config, user),
        targetPid: await targetPid(this.records, ctx, pod.id, config),
      });
      const logDir = pod.config.logDirectory;
      const logPath = logDir && config.logPath ? join(logDir, config.logPath) : "";
      if (logPath) await mkdir(join(logPath, ".."), { recursive: true });
      const handler = handlerOf(this.#config, pod.handler);
      const state: CriState = entry
        ? { sandboxId: pod.id, logPath, image: entry.configDigest, snapshot: true }
        : { sandboxId: pod.id, logPath, image };
      state.user = specIdentity(spec);
      await this.#b.containers.create(
        ctx,
        create(CreateContainerRequestSchema, {
          container: {
            id,
            image: entry?.name ?? image,
            ...(entry ? { snapshotter: this.#b.images.snapshotter, snapshotKey: id } : {}),
            runtime: { name: handler.runtimeType },
            spec: jsonAny(specTypeUrl, spec),
            sandbox: pod.id,
            labels: { ...config.labels, "io.sandboxd.cri.container": name },
            extensions: {
              [configExtension]: anyOf(ContainerConfigSchema, config),
              [stateExtension]: stateAny(state),
            },
          },
        }),
      );
      this.onEvent(id, "created", pod.id);
      prepared = "";
      return id;
    } finally {
      if (prepared)
        await this.#b.images
          .removeSnapshot(ctx, prepared)
          .catch((err: unknown) => ctx.log.warn({ error: err, id: prepared }, "removing a rootfs"));
      this.#reserved.delete(name);
    }
  }

  async start(ctx: Ctx, c: CriContainer, podReady: boolean): Promise<void> {
    if (stateOf(c) !== ContainerState.CONTAINER_CREATED)
      throw failedPrecondition(`container ${c.id} is not in CREATED state (state ${stateOf(c)})`);
    if (!podReady) throw failedPrecondition(`sandbox ${c.state.sandboxId} is not ready`);
    const dir = this.dir(c.id);
    const names = c.config.tty ? ["stdout"] : ["stdout", "stderr"];
    const fifos = await makeFifos(join(dir, "io"), c.config.stdin ? [...names, "stdin"] : names);
    const output = new ContainerOutput(c.state.logPath, {
      stdout: fifos.stdout,
      ...(fifos.stderr ? { stderr: fifos.stderr } : {}),
    });
    const rootfs = await this.#rootfs(c);
    // Opened before the task so its stdin never sees EOF while nobody is attached.
    const stdin = fifos.stdin ? openStdin(fifos.stdin) : undefined;
    try {
      await this.#b.tasks.create(
        ctx,
        create(CreateTaskRequestSchema, {
          containerId: c.id,
          rootfs,
          stdout: fifos.stdout,
          stderr: fifos.stderr ?? "",
          stdin: fifos.stdin ?? "",
          terminal: c.config.tty,
        }),
      );
      const started = await this.#b.tasks.start(
        ctx,
        create(StartRequestSchema, { containerId: c.id }),
      );
      c.state.startedAt = Date.now();
      c.state.pid = started.pid ?? 0;
      await this.records.setState(ctx, c.id, c.state);
    } catch (err) {
      output.destroy();
      stdin?.destroy();
      await ignoreNotFound(() =>
        this.#b.tasks.delete(ctx, create(DeleteTaskRequestSchema, { containerId: c.id })),
      );
      throw err;
    }
    this.#watch(c, output, stdin);
    this.onEvent(c.id, "started", c.state.sandboxId);
  }

  /**
   * After a daemon restart: containers that were running get their output
   * readers (the FIFOs outlived the daemon; the container wrote into the pipe
   * meanwhile) and their exit watch back; an exit that happened meanwhile is
   * recorded by that watch at once.
   */
  async recover(ctx: Ctx): Promise<number> {
    let n = 0;
    for (const c of await this.records.list(ctx)) {
      if (!c.state.startedAt || c.state.finishedAt || this.live.has(c.id)) continue;
      const io = join(this.dir(c.id), "io");
      const has = async (name: string): Promise<string | undefined> =>
        (await stat(join(io, name)).catch(() => undefined)) ? join(io, name) : undefined;
      const stdout = await has("stdout");
      const stderr = await has("stderr");
      const stdinPath = await has("stdin");
      const output = new ContainerOutput(c.state.logPath, {
        ...(stdout ? { stdout } : {}),
        ...(stderr ? { stderr } : {}),
      });
      this.#watch(c, output, stdinPath ? openStdin(stdinPath) : undefined);
      n++;
    }
    return n;
  }

  /** The rootfs: an overlay over the image directory (stand-in until the image store serves snapshots). */
  async #rootfs(c: CriContainer) {
    if (c.state.snapshot) return this.#b.images.mounts(this.#root, c.id);
    return overlayRootfs(this.dir(c.id), c.state.image);
  }

  /** Waits for the exit in the background, records it, deletes the task. */
  #watch(c: CriContainer, output: ContainerOutput, stdin: Socket | undefined): void {
    const ctx = this.#root;
    const live: Live = { output, stdin, oom: false, exited: Promise.resolve() };
    live.exited = (async () => {
      let exitCode = 255;
      let finishedAt = Date.now();
      try {
        const w = await this.#b.tasks.wait(ctx, create(WaitRequestSchema, { containerId: c.id }));
        exitCode = w.exitStatus ?? 255;
        if (w.exitedAt)
          finishedAt =
            Number(w.exitedAt.seconds) * 1000 + Math.floor((w.exitedAt.nanos ?? 0) / 1e6);
      } catch (err) {
        ctx.log.warn({ error: err, id: c.id }, "waiting for container exit");
      }
      stdin?.destroy();
      // 137 may be an OOM kill whose event has not arrived: ask the cgroup before the task goes.
      if (exitCode === 137 && !live.oom) live.oom = await this.#oomKilled(ctx, c.id);
      await output.finish();
      const current = await this.records.get(ctx, c.id).catch(() => undefined);
      if (current) {
        current.state.finishedAt = finishedAt || Date.now();
        current.state.exitCode = exitCode;
        current.state.reason = live.oom ? "OOMKilled" : exitCode === 0 ? "Completed" : "Error";
        await this.records.setState(ctx, c.id, current.state).catch(() => undefined);
        // An OOM event that arrived while the exit was being written.
        if (live.oom && current.state.reason !== "OOMKilled") {
          current.state.reason = "OOMKilled";
          await this.records.setState(ctx, c.id, current.state).catch(() => undefined);
        }
      }
      await ignoreNotFound(() =>
        this.#b.tasks.delete(ctx, create(DeleteTaskRequestSchema, { containerId: c.id })),
      ).catch((err: unknown) => ctx.log.warn({ error: err, id: c.id }, "deleting exited task"));
      this.live.delete(c.id);
      this.onEvent(c.id, "stopped", c.state.sandboxId);
    })();
    this.live.set(c.id, live);
  }

  async #oomKilled(ctx: Ctx, id: string): Promise<boolean> {
    try {
      const r = await this.#b.tasks.metrics(
        ctx,
        create(MetricsRequestSchema, { filters: [`id==${id}`] }),
      );
      const data = r.metrics?.[0]?.data as Any | undefined;
      return (usageOf(data)?.oomKills ?? 0n) > 0n;
    } catch {
      return false;
    }
  }

  /** A /tasks/oom event: the reason becomes OOMKilled, also when the exit was recorded first. */
  async markOom(ctx: Ctx, id: string): Promise<void> {
    const l = this.live.get(id);
    if (l) l.oom = true;
    const c = await this.records.get(ctx, id).catch(() => undefined);
    if (c?.state.finishedAt && c.state.reason !== "OOMKilled") {
      c.state.reason = "OOMKilled";
      await this.records.setState(ctx, id, c.state);
    }
  }

  async stop(ctx: Ctx, c: CriContainer, timeoutSec: number): Promise<void> {
    const live = this.live.get(c.id);
    if (!live) return;
    // As containerd: the stop signal only with a grace period, SIGKILL straight away without.
    if (timeoutSec > 0) await this.#kill(ctx, c.id, 15);
    const graceful =
      timeoutSec > 0 &&
      (await Promise.race([
        live.exited.then(() => true),
        new Promise<boolean>((r) =>
          setTimeout(() => r(false), Math.max(0, timeoutSec) * 1000).unref(),
        ),
      ]));
    if (!graceful) {
      await this.#kill(ctx, c.id, 9);
      await live.exited;
    }
  }

  async #kill(ctx: Ctx, id: string, signal: number): Promise<void> {
    try {
      await this.#b.tasks.kill(
        ctx,
        create(KillRequestSchema, { containerId: id, signal, all: true }),
      );
    } catch (err) {
      if (!isNotFound(err) && !messageOf(err).includes("not running")) throw err;
    }
  }

  async remove(ctx: Ctx, c: CriContainer): Promise<void> {
    const live = this.live.get(c.id);
    if (live) {
      await this.#kill(ctx, c.id, 9);
      await live.exited;
    }
    await ignoreNotFound(() =>
      this.#b.tasks.delete(ctx, create(DeleteTaskRequestSchema, { containerId: c.id })),
    );
    await ignoreNotFound(() =>
      this.#b.containers.delete(ctx, create(DeleteContainerRequestSchema, { id: c.id })),
    );
    if (c.state.snapshot) await this.#b.images.removeSnapshot(ctx, c.id);
    await rm(this.dir(c.id), { recursive: true, force: true });
    this.onEvent(c.id, "deleted", c.state.sandboxId);
  }

  async update(ctx: Ctx, c: CriContainer, resources: Record<string, unknown>): Promise<void> {
    if (!this.live.has(c.id)) throw failedPrecondition(`container ${c.id} is not running`);
    await this.#b.tasks.update(
      ctx,
      create(UpdateTaskRequestSchema, {
        containerId: c.id,
        resources: jsonAny(
          "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources",
          resources,
        ),
      }),
    );
  }

  status(c: CriContainer): ContainerStatus {
    return containerStatus(c);
  }
}

function nameOf(c: CriContainer): string {
  return c.record.labels["io.sandboxd.cri.container"] ?? "";
}
