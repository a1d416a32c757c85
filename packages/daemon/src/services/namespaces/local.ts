/**
 * Namespaces policy (containerd services/namespaces/local.go). Get of a
 * namespace that does not exist answers OK with no labels, as containerd's
 * does (ctr reads default labels that way). Events are published after the
 * commit, in the request's namespace, else the namespace itself.
 */
import { invalidArgument } from "@sandboxd/errdefs";
import { withNamespace, type Ctx } from "@sandboxd/core";
import { Topic } from "@sandboxd/api";
import {
  NamespaceCreateSchema,
  NamespaceDeleteSchema,
  NamespaceUpdateSchema,
} from "@sandboxd/api/events/namespace_pb";
import type {
  CreateNamespaceRequest,
  CreateNamespaceResponseSchema,
  DeleteNamespaceRequest,
  GetNamespaceRequest,
  GetNamespaceResponseSchema,
  ListNamespacesRequest,
  ListNamespacesResponseSchema,
  UpdateNamespaceRequest,
  UpdateNamespaceResponseSchema,
} from "@sandboxd/api/services/namespaces/v1/namespace_pb";
import { publishEvent, type Publisher } from "../../events/exchange.js";
import type { NamespaceStore } from "../../metadata/namespaces.js";
import { empty, type Empty, type Reply } from "../reply.js";

export class NamespacesLocal {
  readonly #store: NamespaceStore;
  readonly #publisher: Publisher;

  constructor(store: NamespaceStore, publisher: Publisher) {
    this.#store = store;
    this.#publisher = publisher;
  }

  get(_ctx: Ctx, req: GetNamespaceRequest): Reply<typeof GetNamespaceResponseSchema> {
    return { namespace: { name: req.name, labels: this.#store.labels(req.name) } };
  }

  list(_ctx: Ctx, _req: ListNamespacesRequest): Reply<typeof ListNamespacesResponseSchema> {
    return { namespaces: this.#store.list() };
  }

  create(ctx: Ctx, req: CreateNamespaceRequest): Reply<typeof CreateNamespaceResponseSchema> {
    const name = req.namespace?.name ?? "";
    const labels = req.namespace?.labels ?? {};
    this.#store.create(name, labels);
    publishEvent(
      this.#publisher,
      eventCtx(ctx, name),
      Topic.NamespaceCreate,
      NamespaceCreateSchema,
      {
        name,
        labels,
      },
    );
    return { namespace: { name, labels } };
  }

  update(ctx: Ctx, req: UpdateNamespaceRequest): Reply<typeof UpdateNamespaceResponseSchema> {
    const name = req.namespace?.name ?? "";
    const labels = req.namespace?.labels ?? {};
    const paths = req.updateMask?.paths ?? [];
    let keys: string[] | undefined;
    if (paths.length > 0) {
      keys = paths.map((path) => {
        if (!path.startsWith("labels."))
          throw invalidArgument(`cannot update ${JSON.stringify(path)} field`);
        return path.slice("labels.".length);
      });
    }
    const updated = this.#store.updateLabels(name, labels, keys);
    publishEvent(
      this.#publisher,
      eventCtx(ctx, name),
      Topic.NamespaceUpdate,
      NamespaceUpdateSchema,
      {
        name,
        labels,
      },
    );
    return { namespace: { name, labels: updated } };
  }

  delete(_ctx: Ctx, req: DeleteNamespaceRequest): Empty {
    this.#store.delete(req.name);
    // containerd publishes the delete in the deleted namespace.
    publishEvent(
      this.#publisher,
      withNamespace(_ctx, req.name),
      Topic.NamespaceDelete,
      NamespaceDeleteSchema,
      {
        name: req.name,
      },
    );
    return empty;
  }
}

function eventCtx(ctx: Ctx, name: string): Ctx {
  return ctx.namespace ? ctx : withNamespace(ctx, name);
}
