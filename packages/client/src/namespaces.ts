// Namespaces: the top-level grouping of every other object.
import { invalidArgument } from "@sandboxd/errdefs";
import type { CallOptions } from "./call-options.js";
import type { Services, Session } from "./session.js";

/** A namespace and its labels. */
export interface NamespaceInfo {
  name: string;
  labels: Record<string, string>;
}

/** The Namespaces service (`client.namespaces`). Namespaces are not themselves namespaced. */
export class NamespaceService {
  readonly #services: Services;
  readonly #session: Session;

  /** @internal */
  constructor(session: Session) {
    this.#session = session;
    this.#services = session.services;
  }

  #call(call?: CallOptions): ReturnType<Session["call"]> {
    return this.#session.call(call);
  }

  /** Creates a namespace. */
  async create(
    name: string,
    labels: Record<string, string> = {},
    call?: CallOptions,
  ): Promise<NamespaceInfo> {
    const r = await this.#services.namespaces.create(
      { namespace: { name, labels } },
      this.#call(call),
    );
    return { name: r.namespace?.name ?? name, labels: { ...r.namespace?.labels } };
  }

  /** Every namespace. */
  async list(call?: CallOptions): Promise<NamespaceInfo[]> {
    const r = await this.#services.namespaces.list({ filter: "" }, this.#call(call));
    return r.namespaces.map((n) => ({ name: n.name, labels: { ...n.labels } }));
  }

  /** One namespace (containerd answers with empty labels for one that does not exist). */
  async get(name: string, call?: CallOptions): Promise<NamespaceInfo> {
    const r = await this.#services.namespaces.get({ name }, this.#call(call));
    return { name: r.namespace?.name || name, labels: { ...r.namespace?.labels } };
  }

  /**
   * Sets the given labels; a label whose value is "" is removed. Other labels
   * are left alone.
   */
  async setLabels(
    name: string,
    labels: Record<string, string>,
    call?: CallOptions,
  ): Promise<NamespaceInfo> {
    const keys = Object.keys(labels);
    if (keys.length === 0) throw invalidArgument("namespace labels: nothing to update");
    await this.#services.namespaces.update(
      {
        namespace: {
          name,
          labels: Object.fromEntries(Object.entries(labels).filter(([, v]) => v !== "")),
        },
        updateMask: { paths: keys.map((k) => `labels.${k}`) },
      },
      this.#call(call),
    );
    // containerd answers Update with the request, not the result: read it back.
    return this.get(name, call);
  }

  /** Deletes an empty namespace. */
  async delete(name: string, call?: CallOptions): Promise<void> {
    await this.#services.namespaces.delete({ name }, this.#call(call));
  }
}
