import type { Parsed } from "@sandboxd/core/args";
import type { containerLsFlags } from "../specs/container.js";
import type { Context } from "../context.js";
import { normalizeFilter } from "../filters.js";
import { ago, iso, labelsCell, table } from "../output.js";

export async function run(
  ctx: Context,
  { flags, positionals }: Parsed<typeof containerLsFlags>,
): Promise<number> {
  const client = await ctx.client();
  const containers = await client.containerInfos(positionals.map(normalizeFilter));
  if (flags.quiet) {
    for (const c of containers) ctx.print(c.id);
    return 0;
  }
  if (ctx.globals.output === "json") {
    ctx.printJson(
      containers.map((c) => ({
        id: c.id,
        sandbox: c.sandbox,
        runtime: c.runtime.name,
        image: c.image,
        labels: c.labels,
        createdAt: iso(c.createdAt),
        updatedAt: iso(c.updatedAt),
      })),
    );
    return 0;
  }
  ctx.stdout.write(
    table(
      ["CONTAINER", "SANDBOX", "RUNTIME", "IMAGE", "CREATED", "LABELS"],
      containers.map((c) => [
        c.id,
        c.sandbox || "-",
        c.runtime.name,
        c.image || "-",
        ago(c.createdAt),
        labelsCell(c.labels),
      ]),
    ),
  );
  return 0;
}
