// What every SDK object shares: the connection, the namespace and the typed
// service clients. Internal: not exported from the package.
import type { AnyService, CallOptions as GrpcCallOptions, Channel, Client } from "@sandboxd/grpc";
import type { Containers } from "@sandboxd/api/services/containers/v1/containers_pb";
import type { Events } from "@sandboxd/api/services/events/v1/events_pb";
import type { Introspection } from "@sandboxd/api/services/introspection/v1/introspection_pb";
import type { Namespaces } from "@sandboxd/api/services/namespaces/v1/namespace_pb";
import type { Controller, Store } from "@sandboxd/api/services/sandbox/v1/sandbox_pb";
import type { Tasks } from "@sandboxd/api/services/tasks/v1/tasks_pb";
import type { Version } from "@sandboxd/api/services/version/v1/version_pb";
import type { Pull } from "@sandboxd/api/sandboxd/images/v1/pull_pb";
import { isNotFound } from "@sandboxd/errdefs";
import type { CallOptions } from "./call-options.js";
import { NAMESPACE_HEADER } from "./defaults.js";

/**
 * A typed client whose service code is loaded on its first call: loading the
 * SDK does not load every generated service (start-up time is part of sbx).
 * `streaming` names the server-streaming methods, which return AsyncIterables.
 */
function lazyClient<S extends AnyService>(
  channel: Channel,
  load: () => Promise<S>,
  streaming: readonly string[] = [],
): Client<S> {
  let client: Promise<Record<string, (...args: unknown[]) => unknown>> | undefined;
  const get = (): Promise<Record<string, (...args: unknown[]) => unknown>> =>
    (client ??= load().then(
      (service) =>
        channel.client(service) as unknown as Record<string, (...args: unknown[]) => unknown>,
    ));
  return new Proxy(
    {},
    {
      get(_target, method) {
        // Not a thenable: `await services.tasks` must not call anything.
        if (typeof method !== "string" || method === "then") return undefined;
        if (streaming.includes(method)) {
          return (...args: unknown[]) =>
            (async function* () {
              yield* (await get())[method]!(...args) as AsyncIterable<unknown>;
            })();
        }
        return async (...args: unknown[]) => (await get())[method]!(...args);
      },
    },
  ) as Client<S>;
}

/** The typed service clients of one connection. */
export class Services {
  readonly channel: Channel;
  readonly containers: Client<typeof Containers>;
  readonly tasks: Client<typeof Tasks>;
  readonly sandboxStore: Client<typeof Store>;
  readonly sandboxController: Client<typeof Controller>;
  readonly namespaces: Client<typeof Namespaces>;
  readonly events: Client<typeof Events>;
  readonly version: Client<typeof Version>;
  readonly introspection: Client<typeof Introspection>;
  readonly pull: Client<typeof Pull>;

  constructor(channel: Channel) {
    this.channel = channel;
    const sandbox = () => import("@sandboxd/api/services/sandbox/v1/sandbox_pb");
    this.containers = lazyClient(
      channel,
      async () => (await import("@sandboxd/api/services/containers/v1/containers_pb")).Containers,
      ["listStream"],
    );
    this.tasks = lazyClient(
      channel,
      async () => (await import("@sandboxd/api/services/tasks/v1/tasks_pb")).Tasks,
    );
    this.sandboxStore = lazyClient(channel, async () => (await sandbox()).Store);
    this.sandboxController = lazyClient(channel, async () => (await sandbox()).Controller);
    this.namespaces = lazyClient(
      channel,
      async () => (await import("@sandboxd/api/services/namespaces/v1/namespace_pb")).Namespaces,
    );
    this.events = lazyClient(
      channel,
      async () => (await import("@sandboxd/api/services/events/v1/events_pb")).Events,
      ["subscribe"],
    );
    this.version = lazyClient(
      channel,
      async () => (await import("@sandboxd/api/services/version/v1/version_pb")).Version,
    );
    this.introspection = lazyClient(
      channel,
      async () =>
        (await import("@sandboxd/api/services/introspection/v1/introspection_pb")).Introspection,
    );
    this.pull = lazyClient(
      channel,
      async () => (await import("@sandboxd/api/sandboxd/images/v1/pull_pb")).Pull,
      ["pull"],
    );
  }
}

/** A connection seen through one namespace. */
export class Session {
  readonly services: Services;
  readonly namespace: string;
  #defaults: Promise<Record<string, string>> | undefined;

  constructor(services: Services, namespace: string) {
    this.services = services;
    this.namespace = namespace;
  }

  /**
   * The namespace's labels (where `containerd.io/defaults/*` live), read once.
   * A namespace that does not exist yet has none.
   */
  defaultLabels(options?: CallOptions): Promise<Record<string, string>> {
    return (this.#defaults ??= this.services.namespaces
      .get({ name: this.namespace }, this.call(options))
      .then(
        (response) => ({ ...response.namespace?.labels }),
        (err: unknown) => {
          this.#defaults = undefined;
          if (isNotFound(err)) return {};
          throw err;
        },
      ));
  }

  /** gRPC call options for `options`, carrying this session's namespace. */
  call(options: CallOptions = {}): GrpcCallOptions {
    return {
      signal: options.signal,
      timeoutMs: options.timeoutMs,
      metadata: { [NAMESPACE_HEADER]: this.namespace },
    };
  }
}
