/**
 * GetContainerEvents: every lifecycle change of a container or a pod (a pod's
 * events carry the pod id as container id, as containerd's do) becomes a
 * ContainerEventResponse with the pod's PodSandboxStatus and the statuses of
 * all its containers, read when the event happens (containerd's
 * generateAndSendContainerEvent). Events are delivered one after the other, so
 * subscribers see them in the order they happened.
 */
import { create } from "@bufbuild/protobuf";
import {
  ContainerEventResponseSchema,
  ContainerEventType,
  type ContainerEventResponse,
  type PodSandboxStatus,
} from "@sandboxd/api/cri/runtime/v1/api_pb";
import type { Ctx } from "@sandboxd/core";
import type { Containers } from "./containers.js";
import type { Pods } from "./pods.js";
import { nsOf } from "./util.js";

export type EventKind = "created" | "started" | "stopped" | "deleted";

const types: Record<EventKind, ContainerEventType> = {
  created: ContainerEventType.CONTAINER_CREATED_EVENT,
  started: ContainerEventType.CONTAINER_STARTED_EVENT,
  stopped: ContainerEventType.CONTAINER_STOPPED_EVENT,
  deleted: ContainerEventType.CONTAINER_DELETED_EVENT,
};

export class ContainerEvents {
  readonly #subs = new Set<(e: ContainerEventResponse) => void>();
  readonly #root: Ctx;
  readonly #pods: Pods;
  readonly #containers: Containers;
  #chain: Promise<void> = Promise.resolve();

  constructor(root: Ctx, pods: Pods, containers: Containers) {
    this.#root = root;
    this.#pods = pods;
    this.#containers = containers;
  }

  /**
   * Queues an event. `podStatus` is given when the pod is about to go away
   * (RemovePodSandbox): its last status, since it cannot be read afterwards.
   */
  send(
    containerId: string,
    sandboxId: string,
    kind: EventKind,
    podStatus?: PodSandboxStatus,
  ): void {
    const createdAt = nsOf(Date.now());
    // Read now, delivered in order: a container removed right after it stopped must
    // still be in its stopped event's statuses.
    const built = this.#build(containerId, sandboxId, kind, createdAt, podStatus);
    built.catch(() => undefined);
    this.#chain = this.#chain.then(async () => {
      try {
        const e = await built;
        for (const s of this.#subs) s(e);
      } catch (err) {
        this.#root.log.warn({ error: err, id: containerId }, "container event");
      }
    });
  }

  /** Resolves when every event queued so far was delivered. */
  flushed(): Promise<void> {
    return this.#chain;
  }

  async #build(
    containerId: string,
    sandboxId: string,
    kind: EventKind,
    createdAt: bigint,
    given: PodSandboxStatus | undefined,
  ): Promise<ContainerEventResponse> {
    const ctx = this.#root;
    // Both read at once: the containers before anything else can change them.
    const containers = sandboxId
      ? this.#containers.records
          .list(ctx)
          .then((all) =>
            all
              .filter((c) => c.state.sandboxId === sandboxId)
              .map((c) => this.#containers.status(c)),
          )
      : Promise.resolve([]);
    // A pod that is gone is sent without a status (containerd logs and does the same).
    const pod =
      given ??
      (sandboxId
        ? this.#pods
            .get(ctx, sandboxId)
            .then(async (p) => (await this.#pods.status(ctx, p)).status)
            .catch(() => undefined)
        : undefined);
    const [containersStatuses, podSandboxStatus] = await Promise.all([containers, pod]);
    return create(ContainerEventResponseSchema, {
      containerId,
      containerEventType: types[kind],
      createdAt,
      ...(podSandboxStatus ? { podSandboxStatus } : {}),
      containersStatuses,
    });
  }

  async *subscribe(signal: AbortSignal): AsyncIterable<ContainerEventResponse> {
    const queue: ContainerEventResponse[] = [];
    let wake: (() => void) | undefined;
    const sub = (e: ContainerEventResponse): void => {
      queue.push(e);
      wake?.();
    };
    this.#subs.add(sub);
    const onAbort = (): void => wake?.();
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      while (!signal.aborted) {
        const e = queue.shift();
        if (e) yield e;
        else await new Promise<void>((r) => (wake = r));
      }
    } finally {
      this.#subs.delete(sub);
      signal.removeEventListener("abort", onAbort);
    }
  }
}
