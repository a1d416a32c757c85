/**
 * Introspection (containerd services/introspection/local.go): the plugins
 * this daemon has, described the way containerd lists its own so tools that
 * look for a plugin (`ctr plugins ls`) find it, and the server's identity: a
 * uuid made once and kept under root, and the pid.
 */
import { randomUUID } from "node:crypto";
import { mkdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { parseFilters, writeFileAtomic, type Ctx } from "@sandboxd/core";
import type {
  PluginsRequest,
  PluginsResponseSchema,
  ServerResponseSchema,
} from "@sandboxd/api/services/introspection/v1/introspection_pb";
import type { Reply } from "../reply.js";

export interface PluginInfo {
  type: string;
  id: string;
  requires?: string[];
  exports?: Record<string, string>;
  capabilities?: string[];
  platforms?: boolean;
}

const introspectionDir = "io.containerd.grpc.v1.introspection";

export class IntrospectionLocal {
  readonly #plugins: readonly PluginInfo[];
  readonly #uuid: string;
  readonly #pidns: bigint;

  private constructor(plugins: readonly PluginInfo[], uuid: string, pidns: bigint) {
    this.#plugins = plugins;
    this.#uuid = uuid;
    this.#pidns = pidns;
  }

  /** Loads (or makes) the server uuid under `root`. */
  static async open(root: string, plugins: readonly PluginInfo[]): Promise<IntrospectionLocal> {
    const dir = join(root, introspectionDir);
    const file = join(dir, "uuid");
    let uuid = (await readFile(file, "utf8").catch(() => "")).trim();
    if (uuid === "") {
      uuid = randomUUID();
      await mkdir(dir, { recursive: true, mode: 0o711 });
      await writeFileAtomic(file, uuid, { mode: 0o644 });
    }
    const pidns = await stat("/proc/self/ns/pid", { bigint: true })
      .then((s) => s.ino)
      .catch(() => 0n);
    return new IntrospectionLocal(plugins, uuid, pidns);
  }

  plugins(_ctx: Ctx, req: PluginsRequest): Reply<typeof PluginsResponseSchema> {
    const filter = parseFilters(req.filters);
    const platform = { os: "linux", architecture: goArch(process.arch) };
    return {
      plugins: this.#plugins
        .filter((p) =>
          filter((path) => {
            if (path.length !== 1) return undefined;
            if (path[0] === "type") return p.type;
            if (path[0] === "id") return p.id;
            return undefined;
          }),
        )
        .map((p) => ({
          type: p.type,
          id: p.id,
          requires: p.requires ?? [],
          exports: p.exports ?? {},
          capabilities: p.capabilities ?? [],
          platforms: p.platforms ? [platform] : [],
        })),
    };
  }

  server(_ctx: Ctx): Reply<typeof ServerResponseSchema> {
    return { uuid: this.#uuid, pid: BigInt(process.pid), pidns: this.#pidns, deprecations: [] };
  }
}

function goArch(arch: string): string {
  switch (arch) {
    case "x64":
      return "amd64";
    case "ia32":
      return "386";
    default:
      return arch;
  }
}
