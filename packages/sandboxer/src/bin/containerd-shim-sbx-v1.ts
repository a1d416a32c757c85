import module from "node:module";

// Cache compiled code between runs: start-up latency is part of the product.
module.enableCompileCache?.();

process.stdout.write(
  `usage: containerd-shim-sbx-v1 [options]\n\ncontainerd-shim-sbx-v1: the short-lived shim in front of sbx-sandboxer (not yet implemented).\n`,
);
