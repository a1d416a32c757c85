/**
 * Puts sandboxd.images.v1.Pull on the daemon's gRPC server over the image stack: content
 * store, image records, the default snapshotter (unpack), registry hosts from a hosts.toml
 * `config_path` (default /etc/sandboxd/certs.d, or $SANDBOXD_REGISTRY_CONFIG_PATH).
 */
import type { GrpcServer } from "@sandboxd/grpc";
import { PullService, storeRecords, unpackImage, type PullServiceOptions } from "@sandboxd/images";
import type { CtxOf } from "../../server/rpc.js";
import type { ImageStack } from "../images/stack.js";
import { Pull, pullService } from "./service.js";

export const defaultRegistryConfigPath = "/etc/sandboxd/certs.d";

const shared = new WeakMap<ImageStack, PullService>();

/** Pulls with no garbage collection overlapping them (their content has no image record yet). */
class HeldPullService extends PullService {
  readonly #gc: ImageStack["gc"];

  constructor(options: PullServiceOptions, gc: ImageStack["gc"]) {
    super(options);
    this.#gc = gc;
  }

  override pull(...args: Parameters<PullService["pull"]>): ReturnType<PullService["pull"]> {
    return this.#gc.hold(() => super.pull(...args));
  }
}

/** The daemon's one PullService over `stack` (the gRPC service and the CRI share its fetcher). */
export function pullServiceOf(
  stack: ImageStack,
  hostsConfigPath = process.env.SANDBOXD_REGISTRY_CONFIG_PATH ?? defaultRegistryConfigPath,
): PullService {
  const known = shared.get(stack);
  if (known) return known;
  const snapshotter = stack.snapshotters.get(stack.defaultSnapshotter);
  const pulls = new HeldPullService(
    {
      content: stack.content,
      images: storeRecords(stack.images),
      hostsConfigPath,
      ...(snapshotter
        ? {
            unpack: async (ctx, image) => {
              await unpackImage(ctx, stack.content, snapshotter, image.manifest.digest);
            },
          }
        : {}),
    },
    stack.gc,
  );
  shared.set(stack, pulls);
  return pulls;
}

export function registerPullService(
  grpc: GrpcServer,
  stack: ImageStack,
  ctxOf: CtxOf,
  hostsConfigPath?: string,
): PullService {
  const pulls = pullServiceOf(stack, hostsConfigPath);
  grpc.register(Pull, pullService(pulls, ctxOf));
  return pulls;
}
