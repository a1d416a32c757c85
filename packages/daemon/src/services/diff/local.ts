/**
 * containerd.services.diff.v1: Apply reads the layer blob from the content
 * store and applies it onto the mounts in a worker thread, answering the
 * uncompressed descriptor (media type ...layer.v1.tar, digest = diffID), as
 * containerd does; the client checks the diffID against the image config.
 * Diff (mounts → new layer) is not implemented yet.
 */
import type { Ctx } from "@sandboxd/core";
import { invalidArgument, notImplemented } from "@sandboxd/errdefs";
import { applyLayer, type LocalContentStore } from "@sandboxd/images";
import type {
  ApplyRequest,
  ApplyResponseSchema,
  DiffRequest,
  DiffResponseSchema,
} from "@sandboxd/api/services/diff/v1/diff_pb";
import type { Reply } from "../reply.js";

export const layerTarMediaType = "application/vnd.oci.image.layer.v1.tar";

export class DiffLocal {
  readonly #content: LocalContentStore;

  constructor(content: LocalContentStore) {
    this.#content = content;
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

  diff(_ctx: Ctx, _req: DiffRequest): Reply<typeof DiffResponseSchema> {
    throw notImplemented("diff: creating layers from mounts is not implemented");
  }
}
