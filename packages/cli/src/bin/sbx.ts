import module from "node:module";
import { fileURLToPath } from "node:url";

// Cache compiled code between runs: start-up latency is part of the product.
// In the install, not os.tmpdir(), where any user could plant code for root
// (NODE_COMPILE_CACHE still wins; unwritable only means no cache).
// Everything else is imported after this line, dynamically, so it is cached too.
module.enableCompileCache?.(fileURLToPath(new URL("../.compile-cache", import.meta.url)));

const { main } = await import("../main.js");
// Exit at once: sbx is done, whatever handles (stdin, signals) remain.
process.exit(await main(process.argv.slice(2)));
