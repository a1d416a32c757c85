/**
 * containerd.services.diff.v1: Apply reads the layer blob from the content
 * store and applies it onto the mounts in a worker thread, answering the
 * uncompressed descriptor (media type ...layer.v1.tar, digest = diffID), as
 * containerd does; the client checks the diffID against the image config.
 * Diff makes a layer from an overlay snapshot's upperdir (the right mount)
 * over its lower layers (the left mounts), gzip by default, and commits it to
 * the content store labelled with its diffID.
 */
import type { Ctx } from "@sandboxd/core";
import { invalidArgument } from "@sandboxd/errdefs";
import { applyLayer, commitTreeLayer, diffSource, type LocalContentStore } from "@sandboxd/images";
import type { LeaseAdder } from "../content/local.js";
import type {
  ApplyRequest,
  ApplyResponseSchema,
  DiffRequest,
  DiffResponseSchema,
} from "@sandboxd/api/services/diff/v1/diff_pb";
import type { Reply } from "../reply.js";

const layerTarMediaType = "application/vnd.oci.image.layer.v1.tar";

export class DiffLocal {
  readonly #content: LocalContentStore;
  readonly #addToLease: LeaseAdder;

  constructor(content: LocalContentStore, addToLease: LeaseAdder) {
    this.#content = content;
    this.#addToLease = addToLease;
  }

  async apply(ctx: Ctx, req: ApplyRequest): Promise<Reply<typeof ApplyResponseSchema>> {
    if (!req.diff) throw invalidArgument("diff descriptor must be set");
    await this.#content.info(ctx, req.diff.digest);
    const started = performance.now();
    const result = await applyLayer(ctx, this.#content.blobPath(req.diff.digest), req.mounts);
    ctx.log.debug(
      {
        digest: req.diff.digest,
        diff_id: result.diffId,
        ms: Math.round(performance.now() - started),
      },
      "diff applied",
    );
    return {
      applied: { mediaType: layerTarMediaType, digest: result.diffId, size: BigInt(result.size) },
    };
  }

  async diff(
    ctx: Ctx,
    lease: string | undefined,
    req: DiffRequest,
  ): Promise<Reply<typeof DiffResponseSchema>> {
    const root = diffSource(req.left, req.right);
    const layer = await commitTreeLayer(ctx, this.#content, root, {
      mediaType: req.mediaType,
      ref: req.ref,
      labels: req.labels,
    });
    this.#addToLease(ctx, lease, "content", layer.digest);
    return {
      diff: { mediaType: layer.mediaType, digest: layer.digest, size: BigInt(layer.size) },
    };
  }
}
