/**
 * gRPC adapter for sandboxd.images.v1.Pull: runs a pull through the images package's
 * PullService (hosts.toml, credentials, shared downloads, unpack) and streams its events.
 * Cancelling the call cancels the pull; errors end the stream with their errdefs code.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@sandboxd/grpc";
import {
  Pull,
  type PullEventSchema,
  type PullRequest,
} from "@sandboxd/api/sandboxd/images/v1/pull_pb";
import { namespaceRequired, type Ctx } from "@sandboxd/core";
import {
  parsePlatform,
  type Credentials,
  type PullEvent,
  type PullService,
} from "@sandboxd/images";
import type { CtxOf } from "../../server/rpc.js";

type EventShape = MessageInitShape<typeof PullEventSchema>;

function toEventMessage(e: PullEvent): EventShape {
  switch (e.kind) {
    case "resolving":
    case "unpacking":
      return { kind: e.kind, name: e.name };
    case "resolved":
      return { kind: e.kind, name: e.name, digest: e.digest, mediaType: e.mediaType };
    case "manifest":
      return { kind: e.kind, digest: e.digest, total: BigInt(e.layers.length) };
    case "blob":
      return {
        kind: e.kind,
        digest: e.digest,
        mediaType: e.mediaType,
        state: e.state,
        offset: BigInt(e.offset),
        total: BigInt(e.total),
        attempt: e.attempt ?? 0,
        error: e.error ?? "",
      };
    case "done":
      return { kind: e.kind, name: e.name, digest: e.digest, elapsedMs: BigInt(e.elapsedMs) };
  }
}

function credentialsOf(req: PullRequest): Credentials | undefined {
  if (!req.username && !req.password && !req.identityToken && !req.registryToken) return undefined;
  return {
    ...(req.username ? { username: req.username } : {}),
    ...(req.password ? { password: req.password } : {}),
    ...(req.identityToken ? { identityToken: req.identityToken } : {}),
    ...(req.registryToken ? { registryToken: req.registryToken } : {}),
  };
}

/** Runs the pull and yields its events as they happen. */
export async function* pullEvents(
  pulls: PullService,
  ctx: Ctx,
  req: PullRequest,
): AsyncIterable<EventShape> {
  namespaceRequired(ctx);
  const queue: EventShape[] = [];
  let wake: (() => void) | undefined;
  let finished = false;
  let failure: Error | undefined;
  const auth = credentialsOf(req);
  const running = pulls
    .pull(ctx, req.reference, {
      ...(req.platform ? { platform: parsePlatform(req.platform) } : {}),
      ...(auth ? { auth } : {}),
      ...(Object.keys(req.labels).length > 0 ? { labels: req.labels } : {}),
      unpack: !req.noUnpack,
      onProgress: (e) => {
        queue.push(toEventMessage(e));
        wake?.();
      },
    })
    .catch((err: unknown) => {
      failure = err instanceof Error ? err : new Error(String(err));
    })
    .finally(() => {
      finished = true;
      wake?.();
    });
  for (;;) {
    const next = queue.shift();
    if (next) {
      yield next;
      continue;
    }
    if (finished) break;
    await new Promise<void>((resolve) => (wake = resolve));
    wake = undefined;
  }
  await running;
  if (failure !== undefined) throw failure;
}

export function pullService(pulls: PullService, ctxOf: CtxOf): ServiceImpl<typeof Pull> {
  return { pull: (req, call) => pullEvents(pulls, ctxOf(call), req) };
}

export { Pull };
