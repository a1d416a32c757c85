/**
 * Sandbox Controller policy (containerd plugins/services/sandbox/
 * controller_service.go): requests map onto the SandboxManager, which picks
 * the controller. Unlike containerd's Go service, Start and Status answer
 * with the task `address`, `version` and (Start) `spec` the controller gave.
 */
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { invalidArgument } from "@sandboxd/errdefs";
import type { Ctx } from "@sandboxd/core";
import type {
  ControllerCreateRequest,
  ControllerCreateResponseSchema,
  ControllerMetricsRequest,
  ControllerMetricsResponseSchema,
  ControllerPlatformRequest,
  ControllerPlatformResponseSchema,
  ControllerShutdownRequest,
  ControllerStartRequest,
  ControllerStartResponseSchema,
  ControllerStatusRequest,
  ControllerStatusResponseSchema,
  ControllerStopRequest,
  ControllerUpdateRequest,
  ControllerWaitRequest,
  ControllerWaitResponseSchema,
} from "@sandboxd/api/services/sandbox/v1/sandbox_pb";
import { sandboxFromProto } from "../../sandbox/convert.js";
import type { SandboxManager } from "../../sandbox/manager.js";
import type { Reply } from "../reply.js";

type Empty = Record<string, never>;

export class SandboxControllerLocal {
  readonly #manager: SandboxManager;

  constructor(manager: SandboxManager) {
    this.#manager = manager;
  }

  async create(
    ctx: Ctx,
    req: ControllerCreateRequest,
  ): Promise<Reply<typeof ControllerCreateResponseSchema>> {
    await this.#manager.create(ctx, req.sandboxId, req.sandboxer, {
      rootfs: req.rootfs,
      options: req.options,
      netnsPath: req.netnsPath,
      annotations: { ...req.annotations },
    });
    return { sandboxId: req.sandboxId };
  }

  async start(
    ctx: Ctx,
    req: ControllerStartRequest,
  ): Promise<Reply<typeof ControllerStartResponseSchema>> {
    const r = await this.#manager.start(ctx, req.sandboxId, req.sandboxer);
    return {
      sandboxId: req.sandboxId,
      pid: r.pid,
      createdAt: r.createdAt,
      labels: r.labels,
      address: r.address,
      version: r.version,
      spec: r.spec,
    };
  }

  async platform(
    ctx: Ctx,
    req: ControllerPlatformRequest,
  ): Promise<Reply<typeof ControllerPlatformResponseSchema>> {
    return { platform: await this.#manager.platform(ctx, req.sandboxId, req.sandboxer) };
  }

  async stop(ctx: Ctx, req: ControllerStopRequest): Promise<Empty> {
    await this.#manager.stop(ctx, req.sandboxId, req.sandboxer, req.timeoutSecs);
    return {};
  }

  async wait(
    ctx: Ctx,
    req: ControllerWaitRequest,
  ): Promise<Reply<typeof ControllerWaitResponseSchema>> {
    const r = await this.#manager.wait(ctx, req.sandboxId, req.sandboxer);
    return { exitStatus: r.exitStatus, exitedAt: r.exitedAt ?? timestampFromMs(Date.now()) };
  }

  async status(
    ctx: Ctx,
    req: ControllerStatusRequest,
  ): Promise<Reply<typeof ControllerStatusResponseSchema>> {
    const s = await this.#manager.status(ctx, req.sandboxId, req.sandboxer, req.verbose);
    return { sandboxId: req.sandboxId, ...s };
  }

  async shutdown(ctx: Ctx, req: ControllerShutdownRequest, force: boolean): Promise<Empty> {
    await this.#manager.shutdown(ctx, req.sandboxId, req.sandboxer, force);
    return {};
  }

  async metrics(
    ctx: Ctx,
    req: ControllerMetricsRequest,
  ): Promise<Reply<typeof ControllerMetricsResponseSchema>> {
    return { metrics: await this.#manager.metrics(ctx, req.sandboxId, req.sandboxer) };
  }

  async update(ctx: Ctx, req: ControllerUpdateRequest): Promise<Empty> {
    if (!req.sandbox) throw invalidArgument("sandbox must be set");
    await this.#manager.update(
      ctx,
      req.sandboxId,
      req.sandboxer,
      { ...sandboxFromProto(req.sandbox), createdAt: 0, updatedAt: 0 },
      req.fields,
    );
    return {};
  }
}
