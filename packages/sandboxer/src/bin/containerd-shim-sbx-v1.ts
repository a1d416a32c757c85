import module from "node:module";
import { fileURLToPath } from "node:url";

// Cache compiled code between runs: start-up latency is part of the product.
// In the install, not os.tmpdir(), where any user could plant code for root
// (NODE_COMPILE_CACHE still wins; unwritable only means no cache).
module.enableCompileCache?.(fileURLToPath(new URL("../.compile-cache", import.meta.url)));

// On the hot path of every container under stock containerd: only what the
// action needs is imported, and nothing stays running after it.

const runtimeName = "io.containerd.sbx.v1";
const version = "0.1.0";

async function readStdin(): Promise<Uint8Array> {
  if (process.stdin.isTTY) return new Uint8Array();
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function writeOut(bytes: Uint8Array | string): Promise<void> {
  await new Promise<void>((resolve, reject) =>
    process.stdout.write(bytes, (err) => (err ? reject(err) : resolve())),
  );
}

async function main(): Promise<number> {
  const { parseShimFlags } = await import("@sandboxd/shim");
  const flags = parseShimFlags(process.argv.slice(2));
  if (flags.version) {
    await writeOut(
      `containerd-shim-sbx-v1:\n  Runtime: ${runtimeName}\n  Version: ${version}\n  Node: ${process.version}\n`,
    );
    return 0;
  }
  if (flags.info) {
    const { runcFeatures, runtimeInfo } = await import("../shim/runtime-info.js");
    await readStdin();
    await writeOut(runtimeInfo(runtimeName, version, await runcFeatures("/usr/sbin/runc")));
    return 0;
  }
  switch (flags.action) {
    case "start": {
      const { shimStart } = await import("../shim/start.js");
      await writeOut(await shimStart(flags, await readStdin()));
      return 0;
    }
    case "delete": {
      const { shimDelete } = await import("../shim/delete.js");
      const { output, warning } = await shimDelete(flags);
      if (warning) process.stderr.write(`${warning}\n`);
      await writeOut(output);
      return 0;
    }
    default:
      process.stderr.write(
        `containerd-shim-sbx-v1: unknown action ${JSON.stringify(flags.action)}: the shim only knows start and delete (tasks are served by sbx-sandboxer)\n`,
      );
      return 2;
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(
      `containerd-shim-sbx-v1: ${err instanceof Error ? err.message : String(err)}\n`,
    );
    process.exit(1);
  },
);
