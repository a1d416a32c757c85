import type { Parsed } from "@sandboxd/core/args";
import type { containerInfoFlags } from "../specs/container.js";
import type { Context } from "../context.js";
import { iso } from "../output.js";
import { anyJson } from "./any-json.js";
import { forEach } from "./common.js";

export async function run(
  ctx: Context,
  { positionals }: Parsed<typeof containerInfoFlags>,
): Promise<number> {
  const client = await ctx.client();
  const out: unknown[] = [];
  const status = await forEach(ctx, positionals, async (id) => {
    const c = (await client.loadContainer(id)).info;
    out.push({
      id: c.id,
      sandbox: c.sandbox,
      runtime: { name: c.runtime.name, options: anyJson(c.runtime.options) },
      image: c.image,
      labels: c.labels,
      snapshotter: c.snapshotter,
      snapshotKey: c.snapshotKey,
      spec: anyJson(c.spec),
      extensions: Object.fromEntries(Object.entries(c.extensions).map(([k, v]) => [k, anyJson(v)])),
      createdAt: iso(c.createdAt),
      updatedAt: iso(c.updatedAt),
    });
  });
  ctx.printJson(out);
  return status;
}
