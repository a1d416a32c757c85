/**
 * A sandbox controller (containerd core/sandbox/controller.go), as the
 * daemon's Sandbox API uses it: the built-in `shim` controller (a shim binary
 * per sandbox, its ttrpc Sandbox service) and proxy controllers (a sandboxer
 * over gRPC). The namespace comes from the context. Errors are errdefs
 * kinds; Unavailable means "cannot reach the controller's peer right now".
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Any, Timestamp } from "@bufbuild/protobuf/wkt";
import type { Ctx } from "@sandboxd/core";
import type { Metric } from "@sandboxd/api/types/metrics_pb";
import type { Mount } from "@sandboxd/api/types/mount_pb";
import type { PlatformSchema } from "@sandboxd/api/types/platform_pb";
import type { Sandbox } from "../metadata/types.js";

/** Controller.Create's extras (containerd's CreateOptions). */
export interface CreateOptions {
  rootfs: Mount[];
  options?: Any | undefined;
  netnsPath: string;
  annotations: Record<string, string>;
}

/** What Start returns (containerd's ControllerInstance). */
export interface StartResult {
  pid: number;
  createdAt?: Timestamp | undefined;
  labels: Record<string, string>;
  /** The task API endpoint, `ttrpc+unix:///...` ("" if the controller gave none). */
  address: string;
  version: number;
  spec?: Any | undefined;
}

/** What Status returns (containerd's ControllerStatus). */
export interface StatusResult {
  pid: number;
  /** `SANDBOX_READY` / `SANDBOX_NOTREADY` (or a controller's own word). */
  state: string;
  info: Record<string, string>;
  createdAt?: Timestamp | undefined;
  exitedAt?: Timestamp | undefined;
  extra?: Any | undefined;
  address: string;
  version: number;
}

export interface ExitStatus {
  exitStatus: number;
  exitedAt?: Timestamp | undefined;
}

export type Platform = MessageInitShape<typeof PlatformSchema>;

export const SandboxState = {
  Ready: "SANDBOX_READY",
  NotReady: "SANDBOX_NOTREADY",
} as const;

export interface SandboxController {
  /** The sandboxer name requests use (`shim`, or the proxy plugin's name). */
  readonly name: string;
  /** Makes the sandbox's instance; undoes everything it made when it fails. */
  create(ctx: Ctx, sandbox: Sandbox, options: CreateOptions): Promise<void>;
  start(ctx: Ctx, id: string): Promise<StartResult>;
  platform(ctx: Ctx, id: string): Promise<Platform>;
  /** Succeeds when the sandbox is already stopped or gone. */
  stop(ctx: Ctx, id: string, timeoutSecs: number): Promise<void>;
  wait(ctx: Ctx, id: string): Promise<ExitStatus>;
  status(ctx: Ctx, id: string, verbose: boolean): Promise<StatusResult>;
  /**
   * Removes the instance and everything of it; succeeds when it is already
   * gone. With `force`, a peer that cannot be reached does not stop the
   * daemon's own clean-up (bundles, shim processes).
   */
  shutdown(ctx: Ctx, id: string, force: boolean): Promise<void>;
  metrics(ctx: Ctx, id: string): Promise<Metric | undefined>;
  update(ctx: Ctx, id: string, sandbox: Sandbox, fields: readonly string[]): Promise<void>;
  /** Reconnects to what survived a daemon restart; returns the instances it found. */
  load(ctx: Ctx): Promise<{ namespace: string; id: string }[]>;
  /** Closes connections; sandboxes keep running. */
  close(): Promise<void>;
}
