import module from "node:module";

// Cache compiled code between runs: start-up latency is part of the product.
module.enableCompileCache?.();

process.stdout.write(
  `usage: sandboxd [options]\n\nsandboxd: a containerd-compatible daemon (not yet implemented).\n`,
);
