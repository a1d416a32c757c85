// The conformance world with a real image path: a local docker-registry on
// loopback plus openCri's sandboxd, and an ImageService client. Stand-in
// images are built here from Debian's busybox with the users, groups and
// binaries critest's images carry (pkg/validate's consts.go names them).
import { ImageService } from "@sandboxd/api/cri/runtime/v1/api_pb";
import { Channel, type Client } from "@sandboxd/grpc";
import {
  buildImage,
  busyboxEntries,
  pushImage,
  requireRoot,
  startRegistry,
  type ImageConfigSpec,
  type Registry,
  type TarEntry,
} from "@sandboxd/testing";
import { openCri, type CriWorld } from "./harness.js";

export interface RegistryWorld {
  w: CriWorld;
  reg: Registry;
  im: Client<typeof ImageService>;
  /** Pushes a busybox image with `extra` entries (replacing same-named ones) and `config`; its name. */
  push(
    repo: string,
    tag: string,
    extra?: TarEntry[],
    config?: ImageConfigSpec,
  ): Promise<{ name: string; id: string; digest: string }>;
  close(): Promise<void>;
}

export async function openRegistryWorld(): Promise<RegistryWorld> {
  requireRoot("sandboxd runs as root");
  const afters: (() => unknown)[] = [];
  const reg = await startRegistry({ after: (fn) => afters.push(fn) });
  const closeReg = async () => {
    for (const fn of afters.reverse()) await fn();
  };
  let w: CriWorld;
  try {
    w = await openCri();
  } catch (err) {
    await closeReg();
    throw err;
  }
  const channel = new Channel(w.daemon.address);
  return {
    w,
    reg,
    im: channel.client(ImageService),
    async push(repo, tag, extra = [], config = {}) {
      const names = new Set(extra.map((e) => e.name));
      const entries = [...busyboxEntries().filter((e) => !names.has(e.name)), ...extra];
      const image = buildImage({ layers: [{ entries }], config: { Cmd: ["sh"], ...config } });
      const name = await pushImage(reg, repo, tag, image);
      return { name, id: image.config.digest, digest: image.manifest.digest };
    },
    async close() {
      channel.close();
      await w.close();
      await closeReg();
    },
  };
}
