/**
 * Puts streaming.v1 and transfer.v1 on the daemon's gRPC server: one stream
 * table shared by both, and one ArchiveService (import/export) over the image
 * stack, with GC held off while an import's content has no record yet.
 */
import type { GrpcServer } from "@sandboxd/grpc";
import { ArchiveService } from "@sandboxd/images";
import type { CtxOf } from "../../server/rpc.js";
import type { ImageStack } from "../images/stack.js";
import { StreamManager } from "../streaming/manager.js";
import { Streaming, streamingService } from "../streaming/service.js";
import { TransferLocal } from "./local.js";
import { Transfer, transferService } from "./service.js";

const managers = new WeakMap<ImageStack, StreamManager>();

/** The daemon's one stream table over `stack`. */
export function streamManagerOf(stack: ImageStack): StreamManager {
  let m = managers.get(stack);
  if (!m) {
    m = new StreamManager();
    managers.set(stack, m);
  }
  return m;
}

export function archiveServiceOf(stack: ImageStack): ArchiveService {
  return new ArchiveService({
    content: stack.content,
    images: stack.images,
    snapshotter: stack.snapshotters.get(stack.defaultSnapshotter),
    hold: (fn) => stack.gc.hold(fn),
  });
}

export function registerStreaming(grpc: GrpcServer, stack: ImageStack, ctxOf: CtxOf): void {
  grpc.register(Streaming, streamingService(streamManagerOf(stack), ctxOf));
}

export function registerTransfer(
  grpc: GrpcServer,
  stack: ImageStack,
  ctxOf: CtxOf,
  hostsConfigPath: string,
): void {
  const local = new TransferLocal({
    stack,
    streams: streamManagerOf(stack),
    archives: archiveServiceOf(stack),
    hostsConfigPath,
  });
  grpc.register(Transfer, transferService(local, ctxOf));
}
