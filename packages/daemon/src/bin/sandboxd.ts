import module from "node:module";
import { fileURLToPath } from "node:url";

// Cache compiled code between runs: start-up latency is part of the product.
// In the install, not os.tmpdir(), where any user could plant code for root
// (NODE_COMPILE_CACHE still wins; unwritable only means no cache).
// Enabled before anything else is loaded, so the whole daemon benefits.
module.enableCompileCache?.(fileURLToPath(new URL("../.compile-cache", import.meta.url)));

const { main } = await import("../main.js");
process.exitCode = await main(process.argv.slice(2));
