/**
 * The daemon's gRPC services in one table: start-up registers each row,
 * Introspection's plugin list names each row (its grpc plugin and the
 * service plugin behind it), and a new service is one row here. Rows are in
 * containerd's plugin id order.
 */
import type { GrpcServer } from "@sandboxd/grpc";
import type { Config } from "../config/config.js";
import type { Exchange } from "../events/exchange.js";
import type { Metadata } from "../metadata/metadata.js";
import type { TaskManager } from "../runtime/task-manager.js";
import type { SandboxManager } from "../sandbox/manager.js";
import { ContainersLocal } from "../services/containers/local.js";
import { Containers, containersService } from "../services/containers/service.js";
import { ContentLocal } from "../services/content/local.js";
import { Content, contentService } from "../services/content/service.js";
import { DiffLocal } from "../services/diff/local.js";
import { Diff, diffService } from "../services/diff/service.js";
import { ImagesLocal } from "../services/images/local.js";
import { Images, imagesService } from "../services/images/service.js";
import { collectLater, type ImageStack } from "../services/images/stack.js";
import type { EventsLocal } from "../services/events/local.js";
import { Events, eventsService } from "../services/events/service.js";
import type { IntrospectionLocal } from "../services/introspection/local.js";
import { Introspection, introspectionService } from "../services/introspection/service.js";
import { LeasesLocal } from "../services/leases/local.js";
import { Leases, leasesService } from "../services/leases/service.js";
import { NamespacesLocal } from "../services/namespaces/local.js";
import { Namespaces, namespacesService } from "../services/namespaces/service.js";
import { SandboxControllerLocal } from "../services/sandbox/controller-local.js";
import {
  Controller as SandboxControllerService,
  Store as SandboxStoreService,
  sandboxControllerService,
  sandboxStoreService,
} from "../services/sandbox/service.js";
import { SandboxStoreLocal } from "../services/sandbox/store-local.js";
import { registryConfigPath } from "../services/pull/config-path.js";
import { registerPullService } from "../services/pull/register.js";
import { SnapshotsLocal } from "../services/snapshots/local.js";
import { Snapshots, snapshotsService } from "../services/snapshots/service.js";
import { TasksLocal } from "../services/tasks/local.js";
import { Tasks, tasksService } from "../services/tasks/service.js";
import { registerStreaming, registerTransfer } from "../services/transfer/register.js";
import { Version, versionService, type VersionInfo } from "../services/version/service.js";
import type { requestContexts } from "./rpc.js";

/** What the services are made of (the daemon's parts, built before them). */
export interface ServiceDeps {
  metadata: Metadata;
  exchange: Exchange;
  tasks: TaskManager;
  sandboxes: SandboxManager;
  events: EventsLocal;
  introspection: IntrospectionLocal;
  /** Content, images, snapshotters and their garbage collector. */
  images: ImageStack;
  version: VersionInfo;
  /** The plugins tables (the registry hosts' config_path). */
  config: Pick<Config, "plugins">;
  ctxOf: ReturnType<typeof requestContexts>;
}

export interface ServiceRow {
  /** containerd's plugin id of type `io.containerd.grpc.v1`. */
  id: string;
  /** The `io.containerd.service.v1` plugin containerd has behind it (listed too). */
  service?: string;
  register(grpc: GrpcServer, d: ServiceDeps): void;
}

export const services: readonly ServiceRow[] = [
  {
    id: "containers",
    service: "containers-service",
    register: (grpc, d) =>
      grpc.register(
        Containers,
        containersService(
          new ContainersLocal({
            store: d.metadata.containers,
            publisher: d.exchange,
            hasTask: (ctx, id) => d.tasks.has(ctx, id),
          }),
          d.ctxOf,
        ),
      ),
  },
  {
    id: "content",
    service: "content-service",
    register: (grpc, d) =>
      grpc.register(
        Content,
        contentService(
          new ContentLocal(d.images.content, d.images.addToLease, collectLater(d.images)),
          d.ctxOf,
        ),
      ),
  },
  {
    id: "diff",
    service: "diff-service",
    register: (grpc, d) =>
      grpc.register(
        Diff,
        diffService(new DiffLocal(d.images.content, d.images.addToLease), d.ctxOf),
      ),
  },
  { id: "events", register: (grpc, d) => grpc.register(Events, eventsService(d.events, d.ctxOf)) },
  {
    id: "images",
    service: "images-service",
    register: (grpc, d) =>
      grpc.register(
        Images,
        imagesService(
          new ImagesLocal(d.images.images, (ctx) => d.images.gc.collect(ctx), d.exchange),
          d.ctxOf,
        ),
      ),
  },
  {
    id: "introspection",
    register: (grpc, d) =>
      grpc.register(Introspection, introspectionService(d.introspection, d.ctxOf)),
  },
  {
    id: "leases",
    service: "leases-service",
    register: (grpc, d) =>
      grpc.register(
        Leases,
        leasesService(
          new LeasesLocal(d.metadata.leases, (ctx) => d.images.gc.collect(ctx)),
          d.ctxOf,
        ),
      ),
  },
  {
    id: "namespaces",
    service: "namespaces-service",
    register: (grpc, d) =>
      grpc.register(
        Namespaces,
        namespacesService(new NamespacesLocal(d.metadata.namespaces, d.exchange), d.ctxOf),
      ),
  },
  {
    // sandboxd's own (sandboxd.images.v1.Pull): the daemon resolves, fetches and unpacks.
    id: "pull",
    register: (grpc, d) =>
      void registerPullService(grpc, d.images, d.ctxOf, registryConfigPath(d.config)),
  },
  {
    id: "sandbox-controllers",
    register: (grpc, d) =>
      grpc.register(
        SandboxControllerService,
        sandboxControllerService(new SandboxControllerLocal(d.sandboxes), d.ctxOf),
      ),
  },
  {
    id: "sandboxes",
    register: (grpc, d) =>
      grpc.register(
        SandboxStoreService,
        sandboxStoreService(
          new SandboxStoreLocal(d.metadata.sandboxes, d.metadata.containers, d.sandboxes),
          d.ctxOf,
        ),
      ),
  },
  {
    id: "snapshots",
    service: "snapshots-service",
    register: (grpc, d) =>
      grpc.register(
        Snapshots,
        snapshotsService(
          new SnapshotsLocal(d.images.snapshotters, d.images.addToLease, collectLater(d.images)),
          d.ctxOf,
        ),
      ),
  },
  {
    // containerd 1.7+: byte and progress streams for transfer.v1.
    id: "streaming",
    register: (grpc, d) => registerStreaming(grpc, d.images, d.ctxOf),
  },
  {
    id: "tasks",
    service: "tasks-service",
    register: (grpc, d) =>
      grpc.register(Tasks, tasksService(new TasksLocal(d.metadata.containers, d.tasks), d.ctxOf)),
  },
  {
    id: "transfer",
    register: (grpc, d) => registerTransfer(grpc, d.images, d.ctxOf, registryConfigPath(d.config)),
  },
  { id: "version", register: (grpc, d) => grpc.register(Version, versionService(d.version)) },
];
