import type { Parsed } from "../args.js";
import { bool } from "../args.js";
import type { Context } from "../context.js";
import { labelsCell, table } from "../output.js";

export async function run(ctx: Context, { flags }: Parsed): Promise<number> {
  const client = await ctx.client();
  const namespaces = await client.namespaces.list();
  if (bool(flags, "quiet")) {
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
