/** Domain records the stores hold (wire conversion lives in the services). */
import type { Any } from "@bufbuild/protobuf/wkt";

export interface Namespace {
  name: string;
  labels: Record<string, string>;
}

export interface ContainerRuntime {
  name: string;
  options?: Any | undefined;
}

export interface Container {
  id: string;
  labels: Record<string, string>;
  image: string;
  runtime: ContainerRuntime;
  spec?: Any | undefined;
  snapshotter: string;
  snapshotKey: string;
  /** Epoch ms, set by the store. */
  createdAt: number;
  updatedAt: number;
  extensions: Record<string, Any>;
  /** The sandbox this container belongs to ("" for none). */
  sandbox: string;
}

export interface Lease {
  id: string;
  labels: Record<string, string>;
  createdAt: number;
}

export interface LeaseResource {
  id: string;
  type: string;
}

/** A sandbox's record in the Store (containerd.types.Sandbox). */
export interface Sandbox {
  id: string;
  runtime: ContainerRuntime;
  /** The sandbox spec (an OCI spec for sandboxd's runtimes); written as the bundle's config.json. */
  spec?: Any | undefined;
  labels: Record<string, string>;
  extensions: Record<string, Any>;
  /** The controller that serves it: `shim` or a proxy plugin's name ("" when not chosen yet). */
  sandboxer: string;
  /** Epoch ms, set by the store. */
  createdAt: number;
  updatedAt: number;
}

/** Instance states sandboxd records for a sandbox a controller has made. */
export const InstanceState = {
  /** Controller.Create was called and has not returned (undone after a crash). */
  Creating: "creating",
  /** Controller.Create succeeded. */
  Created: "created",
  /** Controller.Start succeeded (it may have exited since: Status says). */
  Started: "started",
} as const;
export type InstanceState = (typeof InstanceState)[keyof typeof InstanceState];

/**
 * What sandboxd remembers about a sandbox's instance (its row disappears at
 * Shutdown): which controller made it, and the last task endpoint it
 * reported, so tasks and restarts find it again.
 */
export interface SandboxInstance {
  id: string;
  sandboxer: string;
  state: InstanceState;
  /** `ttrpc+unix:///...` from the last Start or Status ("" if none). */
  address: string;
  version: number;
  updatedAt: number;
}
