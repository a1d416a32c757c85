// What every SDK object shares: the connection, the namespace and the typed
// service clients. Internal: not exported from the package.
import type { CallOptions as GrpcCallOptions, Channel, Client } from "@sandboxd/grpc";
import { Containers } from "@sandboxd/api/services/containers/v1/containers_pb";
import { Events } from "@sandboxd/api/services/events/v1/events_pb";
import { Introspection } from "@sandboxd/api/services/introspection/v1/introspection_pb";
import { Namespaces } from "@sandboxd/api/services/namespaces/v1/namespace_pb";
import { Controller, Store } from "@sandboxd/api/services/sandbox/v1/sandbox_pb";
import { Tasks } from "@sandboxd/api/services/tasks/v1/tasks_pb";
import { Version } from "@sandboxd/api/services/version/v1/version_pb";
import { isNotFound } from "@sandboxd/errdefs";
import type { CallOptions } from "./call-options.js";
import { NAMESPACE_HEADER } from "./defaults.js";

/** The typed service clients of one connection, made on first use. */
export class Services {
  readonly channel: Channel;
  #containers?: Client<typeof Containers>;
  #tasks?: Client<typeof Tasks>;
  #store?: Client<typeof Store>;
  #controller?: Client<typeof Controller>;
  #namespaces?: Client<typeof Namespaces>;
  #events?: Client<typeof Events>;
  #version?: Client<typeof Version>;
  #introspection?: Client<typeof Introspection>;

  constructor(channel: Channel) {
    this.channel = channel;
  }

  get containers(): Client<typeof Containers> {
    return (this.#containers ??= this.channel.client(Containers));
  }
  get tasks(): Client<typeof Tasks> {
    return (this.#tasks ??= this.channel.client(Tasks));
  }
  get sandboxStore(): Client<typeof Store> {
    return (this.#store ??= this.channel.client(Store));
  }
  get sandboxController(): Client<typeof Controller> {
    return (this.#controller ??= this.channel.client(Controller));
  }
  get namespaces(): Client<typeof Namespaces> {
    return (this.#namespaces ??= this.channel.client(Namespaces));
  }
  get events(): Client<typeof Events> {
    return (this.#events ??= this.channel.client(Events));
  }
  get version(): Client<typeof Version> {
    return (this.#version ??= this.channel.client(Version));
  }
  get introspection(): Client<typeof Introspection> {
    return (this.#introspection ??= this.channel.client(Introspection));
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
