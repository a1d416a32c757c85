import type { Parsed } from "../args.js";
import { keyValues } from "../args.js";
import type { Context } from "../context.js";

export async function run(ctx: Context, { positionals }: Parsed): Promise<number> {
  const [name, ...labels] = positionals;
  const client = await ctx.client();
  await client.namespaces.create(name!, keyValues(labels, "label", "namespace create"));
  ctx.print(name!);
  return 0;
}
