import type { Parsed } from "@sandboxd/core/args";
import type { namespaceLabelFlags } from "../specs/namespace.js";
import { keyValues } from "@sandboxd/core/args";
import type { Context } from "../context.js";
import { labelsCell, table } from "../output.js";

export async function run(
  ctx: Context,
  { positionals }: Parsed<typeof namespaceLabelFlags>,
): Promise<number> {
  const [name, ...words] = positionals;
  const client = await ctx.client();
  const ns =
    words.length === 0
      ? await client.namespaces.get(name!)
      : await client.namespaces.setLabels(name!, keyValues(words, "label", "namespace label"));
  if (ctx.globals.output === "json") ctx.printJson(ns);
  else ctx.stdout.write(table(["NAME", "LABELS"], [[ns.name, labelsCell(ns.labels)]]));
  return 0;
}
