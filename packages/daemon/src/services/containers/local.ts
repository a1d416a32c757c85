/**
 * Containers policy (containerd services/containers/local.go): store calls
 * in one transaction each, events after the commit. Deleting a container
 * whose task still exists is refused (FailedPrecondition), as containerd's
 * client does, so no shim is left without its container.
 */
import { failedPrecondition, invalidArgument } from "@sandboxd/errdefs";
import type { Ctx } from "@sandboxd/core";
import { Topic } from "@sandboxd/api";
import {
  ContainerCreateSchema,
  ContainerDeleteSchema,
  ContainerUpdateSchema,
} from "@sandboxd/api/events/container_pb";
import type {
  CreateContainerRequest,
  CreateContainerResponseSchema,
  DeleteContainerRequest,
  GetContainerRequest,
  GetContainerResponseSchema,
  ListContainerMessageSchema,
  ListContainersRequest,
  ListContainersResponseSchema,
  UpdateContainerRequest,
  UpdateContainerResponseSchema,
} from "@sandboxd/api/services/containers/v1/containers_pb";
import { publishEvent, type Publisher } from "../../events/exchange.js";
import type { ContainerStore } from "../../metadata/containers.js";
import { empty, streamOf, type Empty, type Reply } from "../reply.js";
import { containerFromProto, containerToProto } from "./convert.js";

export interface ContainersDeps {
  store: ContainerStore;
  publisher: Publisher;
  /** Whether the container has a task (Delete refuses then). */
  hasTask: (ctx: Ctx, id: string) => boolean;
}

export class ContainersLocal {
  readonly #d: ContainersDeps;

  constructor(deps: ContainersDeps) {
    this.#d = deps;
  }

  get(ctx: Ctx, req: GetContainerRequest): Reply<typeof GetContainerResponseSchema> {
    return { container: containerToProto(this.#d.store.get(ctx, req.id)) };
  }

  list(ctx: Ctx, req: ListContainersRequest): Reply<typeof ListContainersResponseSchema> {
    return { containers: this.#d.store.list(ctx, req.filters).map(containerToProto) };
  }

  listStream(
    ctx: Ctx,
    req: ListContainersRequest,
  ): AsyncIterable<Reply<typeof ListContainerMessageSchema>> {
    return streamOf(
      this.#d.store.list(ctx, req.filters).map((c) => ({ container: containerToProto(c) })),
    );
  }

  create(ctx: Ctx, req: CreateContainerRequest): Reply<typeof CreateContainerResponseSchema> {
    const created = this.#d.store.create(ctx, containerFromProto(req.container));
    publishEvent(this.#d.publisher, ctx, Topic.ContainerCreate, ContainerCreateSchema, {
      id: created.id,
      image: created.image,
      runtime: { name: created.runtime.name, options: created.runtime.options },
    });
    return { container: containerToProto(created) };
  }

  update(ctx: Ctx, req: UpdateContainerRequest): Reply<typeof UpdateContainerResponseSchema> {
    if (!req.container || req.container.id === "") throw invalidArgument("Container.ID required");
    const updated = this.#d.store.update(
      ctx,
      containerFromProto(req.container),
      req.updateMask?.paths ?? [],
    );
    publishEvent(this.#d.publisher, ctx, Topic.ContainerUpdate, ContainerUpdateSchema, {
      id: updated.id,
      image: updated.image,
      labels: updated.labels,
      snapshotKey: updated.snapshotKey,
    });
    return { container: containerToProto(updated) };
  }

  delete(ctx: Ctx, req: DeleteContainerRequest): Empty {
    if (this.#d.hasTask(ctx, req.id)) {
      throw failedPrecondition(`cannot delete running task ${req.id}`);
    }
    this.#d.store.delete(ctx, req.id);
    publishEvent(this.#d.publisher, ctx, Topic.ContainerDelete, ContainerDeleteSchema, {
      id: req.id,
    });
    return empty;
  }
}
