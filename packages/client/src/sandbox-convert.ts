// Conversions between the Sandbox API's messages and the SDK's plain values
// (dates, copied maps, packed specs), and the value types they produce.
import type { Any } from "@bufbuild/protobuf/wkt";
import type { Sandbox as SandboxMessage } from "@sandboxd/api/types/sandbox_pb";
import type { Platform as PlatformMessage } from "@sandboxd/api/types/platform_pb";
import type {
  ControllerStartResponse,
  ControllerStatusResponse,
} from "@sandboxd/api/services/sandbox/v1/sandbox_pb";
import { isAnyMessage } from "./any.js";
import { toDate } from "./convert.js";
import type { RuntimeInfo } from "./container.js";
import type { Spec } from "./oci/types.js";
import { packSpec } from "./oci/spec.js";

/** A sandbox's record in the Store. */
export interface SandboxInfo {
  id: string;
  runtime: RuntimeInfo;
  /** The sandbox spec as sent (OCI spec JSON for sandboxd's runtimes). */
  spec: Any | undefined;
  labels: Record<string, string>;
  extensions: Record<string, Any>;
  /** The controller that owns it (`shim`, or a proxy sandboxer's name). */
  sandboxer: string;
  createdAt: Date | undefined;
  updatedAt: Date | undefined;
}

/** What `sandbox.start()` returns: the running instance. */
export interface SandboxInstance {
  sandboxId: string;
  pid: number;
  createdAt: Date | undefined;
  /** Where its tasks are served, e.g. `ttrpc+unix:///run/sandboxd/s/...` ("" if not told). */
  address: string;
  /** The task API version served at `address` (2 or 3; 0 if not told). */
  version: number;
  labels: Record<string, string>;
}

/** Sandbox states as controllers report them. */
export const SandboxState = {
  Ready: "SANDBOX_READY",
  NotReady: "SANDBOX_NOTREADY",
} as const;
export type SandboxState = (typeof SandboxState)[keyof typeof SandboxState];

/** What `sandbox.status()` returns. */
export interface SandboxStatus {
  sandboxId: string;
  pid: number;
  /** `SANDBOX_READY`, `SANDBOX_NOTREADY`, or a controller's own word. */
  state: string;
  /** Extra details (with `verbose`). */
  info: Record<string, string>;
  createdAt: Date | undefined;
  exitedAt: Date | undefined;
  extra: Any | undefined;
  address: string;
  version: number;
}

/** The platform a sandbox runs containers for. */
export interface Platform {
  os: string;
  architecture: string;
  variant: string;
  osVersion: string;
}

export function sandboxInfoOf(s: SandboxMessage): SandboxInfo {
  return {
    id: s.sandboxId,
    runtime: { name: s.runtime?.name ?? "", options: s.runtime?.options },
    spec: s.spec,
    labels: { ...s.labels },
    extensions: { ...s.extensions },
    sandboxer: s.sandboxer,
    createdAt: toDate(s.createdAt),
    updatedAt: toDate(s.updatedAt),
  };
}

export function specAny(spec: Spec | Any): Any {
  return isAnyMessage(spec) ? spec : packSpec(spec);
}

/** Controller.Start's answer as the running instance. */
export function sandboxInstanceOf(r: ControllerStartResponse, id: string): SandboxInstance {
  return {
    sandboxId: r.sandboxId || id,
    pid: r.pid,
    createdAt: toDate(r.createdAt),
    address: r.address,
    version: r.version,
    labels: { ...r.labels },
  };
}

/** Controller.Status's answer. */
export function sandboxStatusOf(r: ControllerStatusResponse, id: string): SandboxStatus {
  return {
    sandboxId: r.sandboxId || id,
    pid: r.pid,
    state: r.state,
    info: { ...r.info },
    createdAt: toDate(r.createdAt),
    exitedAt: toDate(r.exitedAt),
    extra: r.extra,
    address: r.address,
    version: r.version,
  };
}

/** A platform message as plain strings ("" for an absent one). */
export function platformOf(p: PlatformMessage | undefined): Platform {
  return {
    os: p?.os ?? "",
    architecture: p?.architecture ?? "",
    variant: p?.variant ?? "",
    osVersion: p?.osVersion ?? "",
  };
}
