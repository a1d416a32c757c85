/**
 * registry → image store over transfer.v1, as containerd 2.x's local
 * transferrer: hosts from the request's host_dir (else the daemon's
 * config_path), `default_scheme = "http"` (ctr --plain-http) for hosts without
 * configuration, credentials asked on the auth stream (AuthRequest{host,
 * reference} → AuthResponse, one question at a time), and containerd's
 * progress events ("Resolving from …", per blob "waiting"/"downloading"/
 * "complete"/"already exists" named by its ingest key, "saved", "Completed
 * pull from …").
 */
import { pack, unpackAs } from "@sandboxd/api/names";
import {
  AuthRequestSchema,
  AuthResponseSchema,
  AuthType,
  type OCIRegistry,
} from "@sandboxd/api/types/transfer/registry_pb";
import { namespaceRequired, type Ctx } from "@sandboxd/core";
import { invalidArgument, isAlreadyExists, unauthenticated } from "@sandboxd/errdefs";
import {
  configureHosts,
  PullService,
  storeRecords,
  unpackImage,
  type Credentials,
  type CredentialsProvider,
  type HostsResolver,
  type Platform,
  type PullEvent,
} from "@sandboxd/images";
import type { ImageStack } from "../images/stack.js";
import type { StreamManager } from "../streaming/manager.js";

export interface TransferProgress {
  readonly event: string;
  readonly name?: string;
  readonly parents?: readonly string[];
  readonly progress?: number;
  readonly total?: number;
  readonly desc?: { readonly mediaType: string; readonly digest: string; readonly size: number };
}

export type ProgressFn = (p: TransferProgress) => void;

export interface PullOverTransfer {
  readonly stack: ImageStack;
  readonly streams: StreamManager;
  readonly hostsConfigPath: string;
  readonly registry: OCIRegistry;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly platform?: Platform;
  readonly unpack: boolean;
  readonly snapshotter: string;
  readonly progress: ProgressFn;
}

/** containerd's remotes.MakeRefKey prefixes, by media type. */
function refKey(mediaType: string, digest: string): string {
  if (/manifest\.list|image\.index/.test(mediaType)) return `index-${digest}`;
  if (/manifest/.test(mediaType)) return `manifest-${digest}`;
  if (/config|container\.image/.test(mediaType)) return `config-${digest}`;
  if (/layer|rootfs/.test(mediaType)) return `layer-${digest}`;
  return `unknown-${digest}`;
}

const blobEvents: Record<string, string> = {
  waiting: "waiting",
  downloading: "downloading",
  retrying: "downloading",
  verifying: "downloading",
  done: "complete",
  exists: "already exists",
};

/** Hosts with http for the registries nothing configures, when the client asks for it. */
function withDefaultScheme(hosts: HostsResolver, scheme: string): HostsResolver {
  if (scheme !== "http") return hosts;
  return async (domain) =>
    (await hosts(domain)).map((h) =>
      h.host === domain || h.host === "registry-1.docker.io" ? { ...h, scheme: "http" } : h,
    );
}

/**
 * Credentials from the client over its auth stream, one question in flight.
 * containerd's authorizer asks once per host and keeps the answer for the
 * pull, so each host is asked once here too (the client may be a person).
 */
function streamCredentials(
  ctx: Ctx,
  streams: StreamManager,
  id: string,
  reference: string,
): CredentialsProvider {
  const stream = streams.get(namespaceRequired(ctx), id);
  let chain: Promise<unknown> = Promise.resolve();
  const answers = new Map<string, Promise<Credentials | undefined>>();
  const ask = async (host: string): Promise<Credentials | undefined> => {
    stream.send(pack(AuthRequestSchema, { host, reference }));
    const reply = await stream.recv(ctx.signal);
    const resp = reply ? unpackAs(reply, AuthResponseSchema) : undefined;
    if (!resp) {
      throw unauthenticated(
        `${host} asks for credentials and the client's auth stream ${JSON.stringify(id)} ended without an AuthResponse`,
      );
    }
    switch (resp.authType) {
      case AuthType.CREDENTIALS:
        return { username: resp.username, password: resp.secret };
      case AuthType.REFRESH:
        return resp.secret ? { identityToken: resp.secret } : undefined;
      case AuthType.HEADER:
        // containerd drops HEADER answers (a TODO there); a bearer token is usable as is.
        return { registryToken: resp.secret.replace(/^Bearer\s+/i, "") };
      case AuthType.NONE:
      default:
        return undefined;
    }
  };
  return (host) => {
    let answer = answers.get(host);
    if (!answer) {
      answer = chain.then(() => ask(host));
      chain = answer.catch(() => undefined);
      answers.set(host, answer);
    }
    return answer;
  };
}

export async function pullOverTransfer(ctx: Ctx, o: PullOverTransfer): Promise<void> {
  const { registry, progress, stack } = o;
  const reference = registry.reference;
  const source = `OCI Registry (${reference})`;
  const snapshotter = stack.snapshotters.get(o.snapshotter || stack.defaultSnapshotter);
  if (o.unpack && o.snapshotter && !snapshotter) {
    throw invalidArgument(
      `UnpackConfiguration.snapshotter ${JSON.stringify(o.snapshotter)} is not one this daemon has (${[...stack.snapshotters.keys()].join(", ")})`,
    );
  }
  const authStream = registry.resolver?.authStream;
  const pulls = new PullService({
    content: stack.content,
    images: storeRecords(stack.images),
    hosts: withDefaultScheme(
      configureHosts(o.hostsConfigPath),
      registry.resolver?.defaultScheme ?? "",
    ),
    ...(authStream
      ? { credentials: streamCredentials(ctx, o.streams, authStream, reference) }
      : {}),
    ...(snapshotter
      ? {
          unpack: async (c, image) => {
            await unpackImage(c, stack.content, snapshotter, image.manifest.digest);
          },
        }
      : {}),
  });
  const onProgress = (e: PullEvent): void => {
    switch (e.kind) {
      case "resolving":
        progress({ event: `Resolving from ${source}` });
        break;
      case "resolved":
        progress({ event: `Pulling from ${source}` });
        progress({ event: "fetching image content", name: e.name });
        break;
      case "blob":
        progress({
          event: blobEvents[e.state] ?? e.state,
          name: refKey(e.mediaType, e.digest),
          progress: e.offset,
          total: e.total,
          desc: { mediaType: e.mediaType, digest: e.digest, size: e.total },
        });
        break;
      case "unpacking":
        progress({ event: "extracting", name: e.name });
        break;
      case "manifest":
      case "done":
        break;
    }
  };
  const pulled = await stack.gc.hold(() =>
    pulls.pull(ctx, reference, {
      ...(o.platform ? { platform: o.platform } : {}),
      labels: o.labels,
      unpack: o.unpack && snapshotter !== undefined,
      onProgress,
    }),
  );
  if (o.name !== pulled.name) {
    const t = pulled.target;
    const record = {
      name: o.name,
      labels: { ...o.labels },
      target: {
        mediaType: t.mediaType,
        digest: t.digest,
        size: t.size,
        annotations: { ...t.annotations },
      },
    };
    try {
      stack.images.create(ctx, record);
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      stack.images.update(ctx, record, ["target"]);
    }
  }
  progress({ event: "saved", name: o.name });
  progress({ event: `Completed pull from ${source}` });
}
