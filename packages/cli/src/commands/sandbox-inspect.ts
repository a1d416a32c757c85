import type { Parsed } from "@sandboxd/core/args";
import type { sandboxInspectFlags } from "../specs/sandbox.js";
import type { Context } from "../context.js";
import { iso } from "../output.js";
import { forEach, statusOf } from "./common.js";
import { anyJson } from "./any-json.js";

export async function run(
  ctx: Context,
  { positionals }: Parsed<typeof sandboxInspectFlags>,
): Promise<number> {
  const client = await ctx.client();
  const out: unknown[] = [];
  const status = await forEach(ctx, positionals, async (id) => {
    const sandbox = await client.loadSandbox(id);
    const [s, containers] = await Promise.all([statusOf(sandbox), sandbox.containers()]);
    const info = sandbox.info;
    out.push({
      id: info.id,
      runtime: { name: info.runtime.name, options: anyJson(info.runtime.options) },
      sandboxer: info.sandboxer,
      labels: info.labels,
      spec: anyJson(info.spec),
      extensions: Object.fromEntries(
        Object.entries(info.extensions).map(([k, v]) => [k, anyJson(v)]),
      ),
      createdAt: iso(info.createdAt),
      updatedAt: iso(info.updatedAt),
      status: s
        ? {
            state: s.state,
            pid: s.pid,
            address: s.address,
            version: s.version,
            createdAt: iso(s.createdAt),
            exitedAt: iso(s.exitedAt),
            info: s.info,
          }
        : null,
      containers: containers.map((c) => c.id),
    });
  });
  ctx.printJson(out);
  return status;
}
