/**
 * A connection to a task API (`containerd.task.v2.Task`, or `.v3.Task`: same
 * messages) over ttrpc. This is the edge towards shims: their wire statuses
 * become errdefs errors here, once, so `isNotFound(err)` works above it, and
 * every call carries the namespace in `containerd-namespace-ttrpc` as
 * containerd's client does.
 */
import type { DescService } from "@bufbuild/protobuf";
import { fromStatus, notImplemented, unavailable, withMessage } from "@sandboxd/errdefs";
import {
  connect,
  createClient,
  isTtrpcError,
  type CallOptions,
  type Client,
  type TypedClient,
} from "@sandboxd/ttrpc";
import { Task } from "@sandboxd/api/runtime/task/v2/shim_pb";
import { ServiceName } from "@sandboxd/api";
import { sleep, ttrpcNamespaceHeader } from "@sandboxd/core";
import { parseAddress } from "@sandboxd/shim";

/** The typed task API; methods reject with errdefs errors. */
export type TaskApi = TypedClient<typeof Task>;

export interface TaskConnection {
  readonly api: TaskApi;
  readonly address: string;
  readonly version: number;
  /** Whether the connection has closed (the shim exited or was closed). */
  readonly closed: boolean;
  /** Registers a callback for when the connection closes; runs once. */
  onClose(listener: () => void): void;
  close(): Promise<void>;
  /** Another ttrpc service on the same connection (e.g. the shim's Sandbox service), errors mapped. */
  service<S extends DescService>(service: S, serviceName?: string): TypedClient<S>;
  /**
   * For connections that come back after a disconnect (a sandbox's task API):
   * resolves once connected again, rejects when `signal` aborts or the
   * connection is closed for good. Absent on plain connections.
   */
  ready?(signal: AbortSignal): Promise<void>;
}

export interface ConnectTaskOptions {
  namespace: string;
  signal?: AbortSignal | undefined;
  timeoutMs?: number | undefined;
}

/** Connects to the task API at `address` (`unix:///...` or `ttrpc+unix:///...`). */
export async function connectTask(
  address: string,
  version: number,
  options: ConnectTaskOptions,
): Promise<TaskConnection> {
  const endpoint = parseAddress(address);
  if (endpoint.protocol !== "ttrpc") {
    throw notImplemented(`task API over ${endpoint.protocol} at ${address}`);
  }
  let client: Client;
  try {
    client = await connect(endpoint.socketPath, {
      signal: options.signal,
      timeoutMs: options.timeoutMs ?? 5000,
    });
  } catch (err) {
    throw toErrdefs(err);
  }
  const serviceName = version >= 3 ? ServiceName.TaskV3 : ServiceName.TaskV2;
  const metadata = { [ttrpcNamespaceHeader]: options.namespace };
  const api = mapErrors(Task, createClient(client, Task, { serviceName }), metadata);
  return {
    api,
    address,
    version,
    get closed() {
      return client.closed;
    },
    onClose(listener) {
      client.onClose(() => listener());
    },
    close: async () => {
      // A call still in flight when its task is deleted (a Kill or State racing the
      // delete that follows an exit) gets its answer rather than "ttrpc: closed".
      const until = Date.now() + closeDrainMs;
      while (client.pendingCalls > 0 && !client.closed && Date.now() < until) await sleep(5);
      await client.close();
    },
    service: (service, name) =>
      mapErrors(service, createClient(client, service, { serviceName: name }), metadata),
  };
}

/** How long closing a connection lets its calls in flight finish. */
const closeDrainMs = 1000;

/** A wire error from a shim as an errdefs error; the original stays as `cause`. */
function toErrdefs(err: unknown): Error {
  if (!isTtrpcError(err)) return err instanceof Error ? err : new Error(String(err));
  if (err.message === "ttrpc: closed") return unavailable("ttrpc: closed", { cause: err });
  return withMessage(fromStatus({ code: err.code, message: err.message }).kind, err.message, {
    cause: err,
  });
}

function mapErrors<S extends DescService>(
  service: S,
  raw: TypedClient<S>,
  metadata: Record<string, string>,
): TypedClient<S> {
  const out: Record<string, unknown> = {};
  const methods = raw as unknown as Record<
    string,
    (request: unknown, options?: CallOptions) => Promise<unknown>
  >;
  for (const method of service.methods) {
    const call = methods[method.localName];
    if (!call) continue;
    out[method.localName] = async (request: unknown, options: CallOptions = {}) => {
      try {
        return await call(request, { ...options, metadata });
      } catch (err) {
        throw toErrdefs(err);
      }
    };
  }
  return out as TypedClient<S>;
}
