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
import type { Images } from "@sandboxd/api/services/images/v1/images_pb";
import type { Content } from "@sandboxd/api/services/content/v1/content_pb";
import type { Snapshots } from "@sandboxd/api/services/snapshots/v1/snapshots_pb";
import {
  ErrdefsError,
  isErrdefsError,
  isNotFound,
  isNotImplemented,
  messageOf,
} from "@sandboxd/errdefs";
import { sandboxApi } from "@sandboxd/core/messages";
import type { CallOptions } from "./call-options.js";
import { NAMESPACE_HEADER } from "./defaults.js";

/**
 * A typed client whose service code is loaded on its first call: loading the
 * SDK does not load every generated service (start-up time is part of sbx).
 * `streaming` names the server-streaming methods, which return AsyncIterables;
 * `failed` may replace the error of a unary call.
 */
function lazyClient<S extends AnyService>(
  channel: Channel,
  load: () => Promise<S>,
  streaming: readonly string[] = [],
  failed: (err: unknown) => unknown = (err) => err,
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
        return async (...args: unknown[]) => {
          try {
            return await (
              await get()
            )[method]!(...args);
          } catch (err) {
            throw failed(err);
          }
        };
      },
    },
  ) as Client<S>;
}

/**
 * A NotImplemented answer from a service that, where it is served at all,
 * implements every method: the daemon does not serve `api`. Same kind and
 * message; `missingApi` (read with core's `missingApiOf`) says which API.
 */
class MissingApiError extends ErrdefsError {
  readonly missingApi: string;

  constructor(api: string, err: ErrdefsError) {
    super(err.kind, err.message, { cause: err, rawMessage: messageOf(err) });
    this.missingApi = api;
  }
}

function missing(api: string): (err: unknown) => unknown {
  return (err) =>
    isErrdefsError(err) && isNotImplemented(err) ? new MissingApiError(api, err) : err;
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
  readonly images: Client<typeof Images>;
  readonly content: Client<typeof Content>;
  readonly snapshots: Client<typeof Snapshots>;

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
    this.sandboxStore = lazyClient(
      channel,
      async () => (await sandbox()).Store,
      [],
      missing(sandboxApi),
    );
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
    this.images = lazyClient(
      channel,
      async () => (await import("@sandboxd/api/services/images/v1/images_pb")).Images,
    );
    this.content = lazyClient(
      channel,
      async () => (await import("@sandboxd/api/services/content/v1/content_pb")).Content,
      ["read", "list"],
    );
    this.snapshots = lazyClient(
      channel,
      async () => (await import("@sandboxd/api/services/snapshots/v1/snapshots_pb")).Snapshots,
      ["list"],
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
