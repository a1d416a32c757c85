import { cliVersion } from "../package-version.js";
import type { Context } from "../context.js";

export async function run(ctx: Context): Promise<number> {
  const pkg = { version: await cliVersion() };
  const server = await serverVersion(ctx.globals.address);
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

/**
 * One Version call on a channel of its own, not through the SDK: `sbx version`
 * is the call people time sbx by, and loading the SDK (its image, rootfs and
 * task code) cost it about 75 M of 290 M instructions (docs/benchmarks-startup.md).
 */
async function serverVersion(address: string): Promise<{ version: string; revision: string }> {
  const [{ Channel }, { Version }] = await Promise.all([
    import("@sandboxd/grpc/client"),
    import("@sandboxd/api/services/version/v1/version_pb"),
  ]);
  const channel = new Channel(address);
  try {
    return await channel.client(Version).version({});
  } finally {
    channel.close();
  }
}
