import type { Parsed } from "@sandboxd/core/args";
import type { namespaceCreateFlags } from "../specs/namespace.js";
import { keyValues } from "@sandboxd/core/args";
import type { Context } from "../context.js";

export async function run(
  ctx: Context,
  { positionals }: Parsed<typeof namespaceCreateFlags>,
): Promise<number> {
  const [name, ...labels] = positionals;
  const client = await ctx.client();
  await client.namespaces.create(name!, keyValues(labels, "label", "namespace create"));
  ctx.print(name!);
  return 0;
}
