/**
 * Sandbox Store policy (containerd services/sandbox/store_service.go over
 * core/metadata/sandbox.go): one store call per request, as containerd, which
 * publishes no events for the Store (`/sandboxes/*` come from the
 * controllers). Deleting a record is refused while a controller holds its
 * instance or containers name it, unless forced (`sandboxd-force: true`):
 * then the sandbox is shut down with everything in it first.
 */
import { failedPrecondition, invalidArgument } from "@sandboxd/errdefs";
import { stillHasContainersText, type Ctx } from "@sandboxd/core";
import type {
  StoreCreateRequest,
  StoreCreateResponseSchema,
  StoreDeleteRequest,
  StoreDeleteResponseSchema,
  StoreGetRequest,
  StoreGetResponseSchema,
  StoreListRequest,
  StoreListResponseSchema,
  StoreUpdateRequest,
  StoreUpdateResponseSchema,
} from "@sandboxd/api/services/sandbox/v1/sandbox_pb";
import type { ContainerStore } from "../../metadata/containers.js";
import type { SandboxStore } from "../../metadata/sandboxes.js";
import { sandboxFromProto, sandboxToProto } from "../../sandbox/convert.js";
import type { SandboxManager } from "../../sandbox/manager.js";
import type { Reply } from "../reply.js";

export class SandboxStoreLocal {
  readonly #store: SandboxStore;
  readonly #containers: ContainerStore;
  readonly #manager: SandboxManager;

  constructor(store: SandboxStore, containers: ContainerStore, manager: SandboxManager) {
    this.#store = store;
    this.#containers = containers;
    this.#manager = manager;
  }

  create(ctx: Ctx, req: StoreCreateRequest): Reply<typeof StoreCreateResponseSchema> {
    if (!req.sandbox) throw invalidArgument("sandbox must be set");
    return { sandbox: sandboxToProto(this.#store.create(ctx, sandboxFromProto(req.sandbox))) };
  }

  update(ctx: Ctx, req: StoreUpdateRequest): Reply<typeof StoreUpdateResponseSchema> {
    if (!req.sandbox) throw invalidArgument("sandbox must be set");
    return {
      sandbox: sandboxToProto(this.#store.update(ctx, sandboxFromProto(req.sandbox), req.fields)),
    };
  }

  get(ctx: Ctx, req: StoreGetRequest): Reply<typeof StoreGetResponseSchema> {
    return { sandbox: sandboxToProto(this.#store.get(ctx, req.sandboxId)) };
  }

  list(ctx: Ctx, req: StoreListRequest): Reply<typeof StoreListResponseSchema> {
    return { list: this.#store.list(ctx, req.filters).map(sandboxToProto) };
  }

  async delete(
    ctx: Ctx,
    req: StoreDeleteRequest,
    force: boolean,
  ): Promise<Reply<typeof StoreDeleteResponseSchema>> {
    const id = req.sandboxId;
    this.#store.get(ctx, id);
    if (force) {
      await this.#manager.shutdown(ctx, id, "", true);
    } else {
      const containers = this.#containers.inSandbox(ctx, id);
      if (containers.length > 0) {
        throw failedPrecondition(
          `sandbox ${JSON.stringify(id)} ${stillHasContainersText} ${containers.map((c) => JSON.stringify(c)).join(", ")}: delete them first, or delete with the "sandboxd-force: true" header`,
        );
      }
    }
    this.#store.delete(ctx, id);
    return {};
  }
}
