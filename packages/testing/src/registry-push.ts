/**
 * Pushes test images through the registry's own HTTP API (distribution v2): blob uploads
 * (POST then PUT ?digest=) and manifests (PUT with their media type), as `docker push` does.
 */
import { harnessCall, type HarnessResponse } from "./registry-http.js";
import type { Blob, BuiltImage, BuiltIndex } from "./registry-images.js";
import type { Registry } from "./registry.js";

async function call(
  registry: Registry,
  repo: string,
  method: string,
  pathOrUrl: string,
  body?: Buffer,
  headers: Record<string, string> = {},
): Promise<HarnessResponse> {
  const authz = registry.authorization(repo);
  const url = pathOrUrl.startsWith("http") ? pathOrUrl : `${registry.url}${pathOrUrl}`;
  return harnessCall(url, {
    method,
    headers: { ...headers, ...(authz ? { authorization: authz } : {}) },
    ...(body ? { body } : {}),
    ...(registry.ca ? { ca: registry.ca } : {}),
  });
}

function expectStatus(res: HarnessResponse, what: string, ...ok: number[]): void {
  if (!ok.includes(res.status)) {
    throw new Error(`${what}: HTTP ${res.status} ${res.body.toString()}`);
  }
}

export async function pushBlob(registry: Registry, repo: string, b: Blob): Promise<void> {
  const head = await call(registry, repo, "HEAD", `/v2/${repo}/blobs/${b.digest}`);
  if (head.status === 200) return;
  const start = await call(registry, repo, "POST", `/v2/${repo}/blobs/uploads/`);
  expectStatus(start, `start upload of ${b.digest} to ${repo}`, 202);
  const location = start.headers.location;
  if (typeof location !== "string") throw new Error("upload without a Location header");
  const url = new URL(location, registry.url);
  url.searchParams.set("digest", b.digest);
  const put = await call(registry, repo, "PUT", url.toString(), b.data, {
    "content-type": "application/octet-stream",
  });
  expectStatus(put, `upload of ${b.digest} to ${repo}`, 201);
}

/** PUTs a manifest or index under `reference` (a tag or its digest). */
export async function pushManifest(
  registry: Registry,
  repo: string,
  reference: string,
  m: Blob,
): Promise<void> {
  const res = await call(registry, repo, "PUT", `/v2/${repo}/manifests/${reference}`, m.data, {
    "content-type": m.mediaType,
  });
  expectStatus(res, `push of manifest ${repo}:${reference}`, 201);
}

/** Pushes layers, config and manifest; tags it `tag` (and always by digest). */
export async function pushImage(
  registry: Registry,
  repo: string,
  tag: string | undefined,
  image: BuiltImage,
): Promise<string> {
  for (const layer of image.layers) await pushBlob(registry, repo, layer);
  await pushBlob(registry, repo, image.config);
  await pushManifest(registry, repo, image.manifest.digest, image.manifest);
  if (tag) await pushManifest(registry, repo, tag, image.manifest);
  return `${registry.host}/${repo}${tag ? `:${tag}` : `@${image.manifest.digest}`}`;
}

/** Pushes every image of an index, then the index under `tag`. */
export async function pushIndex(
  registry: Registry,
  repo: string,
  tag: string,
  built: BuiltIndex,
): Promise<string> {
  for (const image of built.images) await pushImage(registry, repo, undefined, image);
  await pushManifest(registry, repo, tag, built.index);
  return `${registry.host}/${repo}:${tag}`;
}
