import module from "node:module";

// Cache compiled code between runs: start-up latency is part of the product.
// Everything else is imported after this line, dynamically, so it is cached too.
module.enableCompileCache?.();

const { main } = await import("../main.js");
// Exit at once: sbx is done, whatever handles (stdin, signals) remain.
process.exit(await main(process.argv.slice(2)));
