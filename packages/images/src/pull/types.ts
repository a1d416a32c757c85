/** What a pull produces and reports. */
import type { Ctx } from "@sandboxd/core";
import type { BlobProgress } from "../distribution/fetcher.js";
import type { Descriptor } from "../distribution/media-types.js";
import type { Platform } from "../distribution/platforms.js";

/** What a pull records: containerd's images.Image without timestamps. */
export interface PullRecord {
  readonly name: string;
  readonly target: Descriptor;
  readonly labels: Readonly<Record<string, string>>;
  readonly createdAt?: Date;
  readonly updatedAt?: Date;
}

/** Where image records live (the daemon's images store, or images.v1 from a client). */
export interface ImageRecords {
  create(ctx: Ctx, image: PullRecord): Promise<unknown>;
  /** Replaces target and labels of an existing record. */
  update(ctx: Ctx, image: PullRecord): Promise<unknown>;
}

/** The image config fields a runtime uses (OCI image-spec config.config). */
export interface ImageConfig {
  readonly architecture?: string;
  readonly os?: string;
  readonly variant?: string;
  readonly config?: {
    readonly User?: string;
    readonly Env?: readonly string[];
    readonly Entrypoint?: readonly string[] | null;
    readonly Cmd?: readonly string[] | null;
    readonly WorkingDir?: string;
    readonly Labels?: Readonly<Record<string, string>>;
    readonly StopSignal?: string;
    readonly ExposedPorts?: Readonly<Record<string, unknown>>;
    readonly Volumes?: Readonly<Record<string, unknown>>;
  };
  readonly rootfs: { readonly type: string; readonly diff_ids: readonly string[] };
}

/** A pulled image: the record's target (index or manifest) and the chosen platform's parts. */
export interface PulledImage {
  readonly name: string;
  readonly target: Descriptor;
  readonly manifest: Descriptor;
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
  readonly platform: Platform;
  readonly imageConfig: ImageConfig;
}

export type PullEvent =
  | { readonly kind: "resolving"; readonly name: string }
  | {
      readonly kind: "resolved";
      readonly name: string;
      readonly digest: string;
      readonly mediaType: string;
    }
  | {
      readonly kind: "manifest";
      readonly digest: string;
      readonly layers: readonly Descriptor[];
      readonly config: Descriptor;
    }
  | ({ readonly kind: "blob" } & BlobProgress)
  | { readonly kind: "unpacking"; readonly name: string }
  | {
      readonly kind: "done";
      readonly name: string;
      readonly digest: string;
      readonly elapsedMs: number;
    };

export interface PullOptions {
  /** Default: the host's. */
  readonly platform?: Platform;
  readonly onProgress?: (event: PullEvent) => void;
  /** Labels for the image record. */
  readonly labels?: Readonly<Record<string, string>>;
  /** Unpacks the image into snapshots once its content is present. */
  readonly unpack?: (ctx: Ctx, image: PulledImage) => Promise<void>;
}
