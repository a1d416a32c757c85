/** Where sandboxd listens unless told otherwise (containerd: /run/containerd/containerd.sock). */
export const DEFAULT_ADDRESS = "/run/sandboxd/sandboxd.sock";

/** The namespace used when none is given (containerd's `default`). */
export const DEFAULT_NAMESPACE = "default";

/**
 * The runtime of a sandbox when none is given: sandboxd's own, served by the
 * sbx-sandboxer through `containerd-shim-sbx-v1`.
 */
export const DEFAULT_SANDBOX_RUNTIME = "io.containerd.sbx.v1";

/**
 * The runtime of a container that is in no sandbox and names none (containerd's
 * default, served by the stock `containerd-shim-runc-v2`).
 */
export const DEFAULT_RUNTIME = "io.containerd.runc.v2";

/**
 * sandboxd's own default sandbox controller (containerd's `DefaultSandboxer`),
 * used when neither the caller, the namespace label nor sandboxd's
 * `[sandbox] default_sandboxer` names one. The SDK never sends it by itself:
 * a sandbox naming no controller goes to the daemon's configured default.
 */
export const DEFAULT_SANDBOXER = "shim";

/** Namespace labels that change the defaults above, as in containerd. */
export const DefaultsLabel = {
  /** Default runtime for new containers of the namespace. */
  Runtime: "containerd.io/defaults/runtime",
  /** Default sandboxer for new sandboxes of the namespace. */
  Sandboxer: "containerd.io/defaults/sandboxer",
} as const;
export type DefaultsLabel = (typeof DefaultsLabel)[keyof typeof DefaultsLabel];

/** The gRPC header that carries the namespace. */
export const NAMESPACE_HEADER = "containerd-namespace";

/** containerd's exit status for "unknown" (the process was never seen exiting). */
export const UNKNOWN_EXIT_STATUS = 255;
