/**
 * runtime.v1.ImageService over the daemon's image services (ImagesPort):
 * records are grouped by config digest (the CRI image id), as containerd's
 * CRI does; a reference resolves by name, repo digest or (a prefix of) id.
 */
import { create } from "@bufbuild/protobuf";
import { ImageSchema, type Image, type ImageService } from "@sandboxd/api/cri/runtime/v1/api_pb";
import type { AuthConfig } from "@sandboxd/api/cri/runtime/v1/api_pb";
import type { Ctx } from "@sandboxd/core";
import { invalidArgument, notFound } from "@sandboxd/errdefs";
import type { ServerCall, ServiceImpl } from "@sandboxd/grpc";
import type { ImageEntry, ImagesPort, PullAuth } from "./backend.js";
import { layerOf } from "./runtime/writable-layer.js";

const idPattern = /^(sha256:)?[0-9a-f]{1,64}$/;

/** `docker.io/library/busybox:1@sha256:…` → `docker.io/library/busybox`. */
export function repoOf(name: string): string {
  const at = name.indexOf("@");
  const base = at >= 0 ? name.slice(0, at) : name;
  const slash = base.lastIndexOf("/");
  const colon = base.lastIndexOf(":");
  return colon > slash ? base.slice(0, colon) : base;
}

export class Images {
  readonly port: ImagesPort;

  constructor(port: ImagesPort) {
    this.port = port;
  }

  /** Every record of the image `ref` names (same config digest); [] if none. */
  async find(ctx: Ctx, ref: string): Promise<ImageEntry[]> {
    if (!ref) throw invalidArgument("image must be set");
    const all = await this.port.list(ctx);
    let id: string | undefined;
    if (idPattern.test(ref) && (ref.startsWith("sha256:") || ref.length >= 12)) {
      const want = ref.startsWith("sha256:") ? ref : `sha256:${ref}`;
      const hits = new Set(
        all.filter((e) => e.configDigest.startsWith(want)).map((e) => e.configDigest),
      );
      if (hits.size === 1) id = [...hits][0];
    }
    if (!id) {
      const name = this.port.normalize(ref);
      const hit = all.find((e) => e.name === name || `${repoOf(e.name)}@${e.digest}` === name);
      id = hit?.configDigest;
    }
    return id ? all.filter((e) => e.configDigest === id) : [];
  }

  /** The image as the CRI shows it; NotFound if `ref` names none. */
  async get(ctx: Ctx, ref: string): Promise<{ image: Image; entries: ImageEntry[] }> {
    const entries = await this.find(ctx, ref);
    if (entries.length === 0) throw notFound(`image "${ref}" not found`);
    return { image: imageOf(entries), entries };
  }

  async list(ctx: Ctx, filter: string | undefined): Promise<Image[]> {
    const all = filter ? await this.find(ctx, filter) : await this.port.list(ctx);
    const byId = new Map<string, ImageEntry[]>();
    for (const e of all) byId.set(e.configDigest, [...(byId.get(e.configDigest) ?? []), e]);
    return [...byId.values()].map(imageOf);
  }
}

export function imageOf(entries: ImageEntry[]): Image {
  const first = entries[0];
  if (!first) throw notFound("image not found");
  const tags = entries.map((e) => e.name).filter((n) => !n.includes("@") && !idPattern.test(n));
  const digests = [...new Set(entries.map((e) => `${repoOf(e.name)}@${e.digest}`))];
  const user = (first.config.User ?? "").split(":")[0] ?? "";
  const numeric = /^\d+$/.test(user);
  return create(ImageSchema, {
    id: first.configDigest,
    repoTags: [...new Set(tags)].sort(),
    repoDigests: digests.sort(),
    size: BigInt(first.size),
    ...(numeric ? { uid: { value: BigInt(user) } } : {}),
    username: numeric ? "" : user,
    spec: { image: first.configDigest },
    pinned: first.labels["io.cri-containerd.pinned"] === "pinned",
  });
}

/** CRI's AuthConfig as pull credentials (`auth` is base64 `user:password`). */
export function authOf(a: AuthConfig | undefined): PullAuth | undefined {
  if (!a) return undefined;
  let { username, password } = a;
  if (a.auth) {
    const text = Buffer.from(a.auth, "base64").toString("utf8");
    const colon = text.indexOf(":");
    if (colon < 0) throw invalidArgument("auth config's auth is not base64 user:password");
    username = text.slice(0, colon);
    password = text.slice(colon + 1);
  }
  const out: PullAuth = {
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
    ...(a.identityToken ? { identityToken: a.identityToken } : {}),
    ...(a.registryToken ? { registryToken: a.registryToken } : {}),
  };
  return Object.keys(out).length > 0 ? out : undefined;
}

export function imageService(
  images: Images,
  ctxOf: (call: ServerCall) => Ctx,
): ServiceImpl<typeof ImageService> {
  return {
    listImages: async (req, call) => ({
      images: await images.list(ctxOf(call), req.filter?.image?.image || undefined),
    }),
    imageStatus: async (req, call) => {
      const entries = await images.find(ctxOf(call), req.image?.image ?? "");
      if (entries.length === 0) return {};
      const image = imageOf(entries);
      const info: Record<string, string> = req.verbose
        ? { info: JSON.stringify({ chainID: entries[0]?.chainId, imageSpec: entries[0]?.config }) }
        : {};
      return { image, info };
    },
    pullImage: async (req, call) => {
      const ctx = ctxOf(call);
      const ref = req.image?.image ?? "";
      if (!ref) throw invalidArgument("image must be set");
      const name = await images.port.pull(ctx, ref, authOf(req.auth));
      const { image } = await images.get(ctx, name);
      return { imageRef: image.id };
    },
    removeImage: async (req, call) => {
      const ctx = ctxOf(call);
      const entries = await images.find(ctx, req.image?.image ?? "");
      if (entries.length > 0)
        await images.port.remove(
          ctx,
          entries.map((e) => e.name),
        );
      return {};
    },
    imageFsInfo: async (_req, call) => {
      const fs = await images.port.fsInfo(ctxOf(call));
      // container_filesystems stays empty, as containerd 2.1 leaves it: containers' writable
      // layers are snapshots on the same filesystem, counted here and in their own stats.
      return { imageFilesystems: [layerOf(fs.mountpoint, fs)] };
    },
  };
}
