/**
 * `containerd-shim-sbx-v1 start`: make sure the sandboxer runs, register the
 * caller's namespace and events address with it, write `address` in the bundle
 * (the cwd) as containerd 1.6's runc shim does, and print the sandboxer's task
 * address in the form the caller understands. No process stays behind.
 */
import { join } from "node:path";
import type { ShimFlags } from "@sandboxd/shim";
import { loadConfig } from "../config/config.js";
import { writeFileAtomic } from "../state/atomic.js";
import { chooseForm, formatStartOutput } from "./bootstrap-output.js";
import { connectSandboxer } from "./connect.js";
import { publishBinaryVersion } from "./containerd-version.js";
import { call, decode, encode, str } from "./wire.js";

/** sbx-sandboxer's private service (proto sandboxd/sandboxer/v1/sandboxer.proto). */
export const adminService = "sandboxd.sandboxer.v1.Sandboxer";

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
    // RegisterRequest{namespace=1, ttrpc_address=2, grpc_address=3, containerd_version=4}
    const reply = await call(
      conn,
      adminService,
      "Register",
      encode([
        [1, "string", flags.namespace],
        [2, "string", env.TTRPC_ADDRESS ?? ""],
        [3, "string", flags.address],
        [4, "string", version ?? ""],
      ]),
      5000,
    );
    // RegisterResponse{task_address=1, version=2, pid=3}
    const taskAddress = str(decode(reply).get(1));
    await writeFileAtomic(join(cwd, "address"), taskAddress, 0o644);
    return formatStartOutput(form, taskAddress);
  } finally {
    conn.destroy();
  }
}
