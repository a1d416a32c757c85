/** containerd's snapshots.Snapshotter contract (core/snapshots/snapshotter.go). */
import type { Ctx } from "@sandboxd/core";

/** snapshots.Kind, with the protobuf enum values of snapshots.v1. */
export const Kind = { Unknown: 0, View: 1, Active: 2, Committed: 3 } as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

export interface SnapshotInfo {
  /** The key (active/view) or name (committed). */
  name: string;
  parent: string;
  kind: Kind;
  createdAt: Date;
  updatedAt: Date;
  labels: Record<string, string>;
}

export interface Usage {
  size: number;
  inodes: number;
}

/** containerd.types.Mount. */
export interface Mount {
  type: string;
  source: string;
  target?: string;
  options: string[];
}

export interface Snapshotter {
  readonly name: string;
  stat(ctx: Ctx, key: string): SnapshotInfo;
  update(
    ctx: Ctx,
    info: Pick<SnapshotInfo, "name" | "labels">,
    fieldpaths?: string[],
  ): SnapshotInfo;
  usage(ctx: Ctx, key: string): Promise<Usage>;
  mounts(ctx: Ctx, key: string): Mount[];
  prepare(
    ctx: Ctx,
    key: string,
    parent?: string,
    labels?: Record<string, string>,
  ): Promise<Mount[]>;
  view(ctx: Ctx, key: string, parent?: string, labels?: Record<string, string>): Promise<Mount[]>;
  commit(ctx: Ctx, name: string, key: string, labels?: Record<string, string>): Promise<void>;
  remove(ctx: Ctx, key: string): Promise<void>;
  walk(ctx: Ctx, filters?: string[]): SnapshotInfo[];
  /** Removes directories no snapshot refers to (left by a crash or an async remove). */
  cleanup(ctx: Ctx): Promise<void>;
}

/** The label a Go unpacker sets on Prepare/Commit: the chainID the snapshot will become. */
export const snapshotRefLabel = "containerd.io/snapshot.ref";
