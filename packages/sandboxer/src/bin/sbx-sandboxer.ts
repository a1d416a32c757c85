import module from "node:module";

// Cache compiled code between runs: start-up latency is part of the product.
module.enableCompileCache?.();

process.stdout.write(
  `usage: sbx-sandboxer [options]\n\nsbx-sandboxer: a domain sandboxer for Linux pods (not yet implemented).\n`,
);
