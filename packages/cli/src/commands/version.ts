import { readFile } from "node:fs/promises";
import type { Context } from "../context.js";

export async function run(ctx: Context): Promise<number> {
  const pkg = JSON.parse(
    await readFile(new URL("../../package.json", import.meta.url), "utf8"),
  ) as {
    version: string;
  };
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
