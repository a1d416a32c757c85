import module from "node:module";

// Cache compiled code between runs: start-up latency is part of the product.
// Enabled before anything else is loaded, so the whole daemon benefits.
module.enableCompileCache?.();

const { main } = await import("../main.js");
process.exitCode = await main(process.argv.slice(2));
