import module from "node:module";

// Cache compiled code between runs: start-up latency is part of the product.
module.enableCompileCache?.();

process.stdout.write(
  `usage: sbx [options]\n\nsbx: the sandboxd command line (not yet implemented).\n`,
);
