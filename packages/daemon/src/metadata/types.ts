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
