/**
 * `containerd-shim-sbx-v1 start`: make sure the sandboxer runs, register the
 * caller's namespace and events address with it, write `address` in the bundle
 * (the cwd) as containerd 1.6's runc shim does, and print the sandboxer's task
 * address in the form the caller understands. No process stays behind.
 */
import { join } from "node:path";
import { Sandboxer } from "@sandboxd/api/sandboxd/sandboxer/v1/sandboxer_pb";
import type { ShimFlags } from "@sandboxd/shim";
import { createClient } from "@sandboxd/ttrpc";
import { loadConfig } from "../config/config.js";
import { writeFileAtomic } from "../state/atomic.js";
import { chooseForm, formatStartOutput } from "./bootstrap-output.js";
import { connectSandboxer } from "./connect.js";
import { publishBinaryVersion } from "./containerd-version.js";

export async function shimStart(
  flags: ShimFlags,
  stdin: Uint8Array,
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): Promise<Uint8Array> {
  const config = loadConfig({}, env);
  const conn = await connectSandboxer(config, { env });
  try {
    const { form, version } = await chooseForm({
      stdin,
      env,
      publishBinaryVersion: () => publishBinaryVersion(config.stateDir, flags.publishBinary),
    });
    const admin = createClient(conn, Sandboxer);
    const res = await admin.register(
      {
        namespace: flags.namespace,
        ttrpcAddress: env.TTRPC_ADDRESS ?? "",
        grpcAddress: flags.address,
        containerdVersion: version ?? "",
      },
      { timeoutMs: 5000 },
    );
    await writeFileAtomic(join(cwd, "address"), res.taskAddress, 0o644);
    return formatStartOutput(form, res.taskAddress);
  } finally {
    await conn.close();
  }
}
