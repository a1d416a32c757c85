// `sbx run --security-opt`: docker's and nerdctl's `seccomp=unconfined`,
// `seccomp=PROFILE.json` and `no-new-privileges[=true|false]`. The default is
// the SDK's: containerd's RuntimeDefault profile for the final capabilities.
import type { SpecOpt } from "@sandboxd/client";
import { invalidArgument } from "@sandboxd/errdefs";
import { callerPath } from "../caller.js";
import type { Caller } from "../caller.js";

/** The spec changes of every `--security-opt`; a profile file is read (and checked) here. */
export async function securitySpecOpts(
  values: readonly string[],
  caller: Caller,
): Promise<SpecOpt[]> {
  const opts: SpecOpt[] = [];
  for (const value of values) {
    // docker also accepts "key:value" (its old form).
    const at = value.search(/[=:]/);
    const key = at < 0 ? value : value.slice(0, at);
    const arg = at < 0 ? "" : value.slice(at + 1);
    switch (key) {
      case "seccomp": {
        if (arg === "unconfined") {
          opts.push((spec) => {
            if (spec.linux) delete spec.linux.seccomp;
          });
        } else if (arg !== "") {
          // Loaded only when asked for: the profile code stays off sbx's start-up path.
          const { loadSeccompProfile } = await import("@sandboxd/core/oci");
          const profile = await loadSeccompProfile(callerPath(caller, arg));
          opts.push((spec) => {
            (spec.linux ??= {}).seccomp = profile;
          });
        } else {
          throw invalidArgument(
            `run: --security-opt ${value}: seccomp needs "unconfined" or a profile file`,
          );
        }
        break;
      }
      case "no-new-privileges": {
        if (arg !== "" && arg !== "true" && arg !== "false")
          throw invalidArgument(`run: --security-opt ${value}: no-new-privileges is true or false`);
        const on = arg !== "false";
        opts.push((spec) => {
          if (spec.process) spec.process.noNewPrivileges = on;
        });
        break;
      }
      default:
        throw invalidArgument(
          `run: --security-opt ${JSON.stringify(value)} is not supported (seccomp=unconfined|PROFILE, no-new-privileges)`,
        );
    }
  }
  return opts;
}
