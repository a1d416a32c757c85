import { cliVersion } from "../package-version.js";
import type { Context } from "../context.js";

export async function run(ctx: Context): Promise<number> {
  const pkg = { version: await cliVersion() };
  const client = await ctx.client();
  const server = await client.version();
  if (ctx.globals.output === "json") {
    ctx.printJson({
      client: { version: pkg.version, node: process.version },
      server: { version: server.version, revision: server.revision, address: ctx.globals.address },
    });
    return 0;
  }
  ctx.print(
    [
      "Client:",
      `  Version:  ${pkg.version}`,
      `  Node:     ${process.version}`,
      "",
      "Server:",
      `  Version:  ${server.version}`,
      `  Revision: ${server.revision}`,
      `  Address:  ${ctx.globals.address}`,
    ].join("\n"),
  );
  return 0;
}
