import type { Parsed } from "@sandboxd/core/args";
import type { namespaceLsFlags } from "../specs/namespace.js";
import type { Context } from "../context.js";
import { labelsCell, table } from "../output.js";

export async function run(
  ctx: Context,
  { flags }: Parsed<typeof namespaceLsFlags>,
): Promise<number> {
  const client = await ctx.client();
  const namespaces = await client.namespaces.list();
  if (flags.quiet) {
    for (const n of namespaces) ctx.print(n.name);
  } else if (ctx.globals.output === "json") {
    ctx.printJson(namespaces);
  } else {
    ctx.stdout.write(
      table(
        ["NAME", "LABELS"],
        namespaces.map((n) => [n.name, labelsCell(n.labels)]),
      ),
    );
  }
  return 0;
}
