// Images through the daemon: client.pull asks sandboxd to pull (resolve, fetch, record,
// unpack; registry hosts from the daemon's hosts.toml) and reports its progress events.
import { invalidArgument } from "@sandboxd/errdefs";
import type { Session } from "./session.js";

/** Registry credentials for one pull (the image's registry and its mirrors). */
export interface RegistryCredentials {
  username?: string;
  password?: string;
  /** An OAuth2 refresh token (docker's identitytoken). */
  identityToken?: string;
  /** A bearer token used as is. */
  registryToken?: string;
}

/** One progress event of a pull. */
export interface PullProgress {
  /** resolving, resolved, manifest, blob, unpacking, done. */
  kind: string;
  name: string;
  digest: string;
  mediaType: string;
  /** For blobs: waiting, downloading, retrying, verifying, done, exists. */
  state: string;
  offset: number;
  total: number;
  attempt: number;
  error: string;
  elapsedMs: number;
}

export interface PullOptions {
  /** `os/arch[/variant]`; default the daemon's platform. */
  platform?: string | undefined;
  onProgress?: ((event: PullProgress) => void) | undefined;
  /** Cancels the pull. */
  signal?: AbortSignal | undefined;
  credentials?: RegistryCredentials | undefined;
  /** Default true: unpack into the default snapshotter. */
  unpack?: boolean | undefined;
  labels?: Record<string, string> | undefined;
}

export interface PulledImage {
  /** The normalised name (`docker.io/library/busybox:latest`). */
  name: string;
  /** The digest the name resolved to (an index or a manifest). */
  digest: string;
}

export async function pullImage(
  session: Session,
  reference: string,
  options: PullOptions = {},
): Promise<PulledImage> {
  if (reference === "") throw invalidArgument("pull: an image reference is required");
  const c = options.credentials ?? {};
  const stream = session.services.pull.pull(
    {
      reference,
      platform: options.platform ?? "",
      username: c.username ?? "",
      password: c.password ?? "",
      identityToken: c.identityToken ?? "",
      registryToken: c.registryToken ?? "",
      noUnpack: options.unpack === false,
      labels: options.labels ?? {},
    },
    session.call({ signal: options.signal }),
  );
  let done: PulledImage | undefined;
  for await (const e of stream) {
    const event: PullProgress = {
      kind: e.kind,
      name: e.name,
      digest: e.digest,
      mediaType: e.mediaType,
      state: e.state,
      offset: Number(e.offset),
      total: Number(e.total),
      attempt: e.attempt,
      error: e.error,
      elapsedMs: Number(e.elapsedMs),
    };
    options.onProgress?.(event);
    if (e.kind === "done") done = { name: e.name, digest: e.digest };
  }
  options.signal?.throwIfAborted();
  if (!done) throw invalidArgument(`pull of ${reference}: the daemon ended without completing`);
  return done;
}
