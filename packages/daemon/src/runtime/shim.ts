/**
 * A task API connection for one container, however it was obtained: a shim
 * binary started for the container (the runtime v2 path), or the task API of
 * the container's sandbox (no `start`, no `delete`). The task manager only
 * sees this interface; `ShimManager` decides which kind a container gets.
 */
import type { Any } from "@bufbuild/protobuf/wkt";
import type { Ctx } from "@sandboxd/core";
import type { Container } from "../metadata/types.js";
import type { Bundle } from "./bundle.js";
import type { TaskConnection } from "./task-client.js";

/** How a process ended, in daemon terms (epoch ms). */
export interface ExitInfo {
  pid: number;
  exitStatus: number;
  exitedAt: number;
}

export interface Shim {
  readonly bundle: Bundle;
  readonly connection: TaskConnection;
  /** "binary" (started for this container) or "sandbox" (its sandbox's task API). */
  readonly kind: "binary" | "sandbox";
  /**
   * Cleanup after the task is gone and the connection closed: a binary shim
   * runs its `delete` (the DeleteResponse's exit comes back); a sandbox task
   * has nothing to clean. Never throws for a shim that is already gone.
   */
  cleanup(ctx: Ctx): Promise<ExitInfo | undefined>;
  /**
   * Settles once what a restarted daemon needs to reconnect (bootstrap.json) is on disk;
   * a task's Create must not return before. Undefined: on disk before the shim was returned.
   */
  readonly recorded?: Promise<void>;
  /** Stops copying the shim's log (after the shim is gone). */
  release(): void;
  /**
   * Sandbox tasks only: `listener` runs each time the task API comes back after
   * a disconnect (the sandboxer restarted), so the task's state can be read again.
   */
  onReconnect?(listener: () => void): void;
}

export interface StartShimRequest {
  readonly bundle: Bundle;
  readonly container: Container;
  /** The runtime name (`io.containerd.runc.v2`) or an absolute binary path (`runtime_path`). */
  readonly runtime: string;
  /** Task options if given, else the container's runtime options (stdin of `start`). */
  readonly options?: Any | undefined;
}

/** What starting a shim binary needs (no container: sandbox shims have none). */
export type BinaryStartRequest = Omit<StartShimRequest, "container">;
