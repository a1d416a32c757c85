/**
 * Where scripts/setup.sh builds the sandboxer's native helpers (native/*.c), found
 * from this module: it sits at the top of dist/, like the bundles, so the path is
 * the same whether it runs bundled or not.
 */
import { fileURLToPath } from "node:url";

/** sbx-userns (native/userns.c): pins pod user namespaces, makes idmapped mounts. */
export const defaultUsernsHelper = fileURLToPath(
  new URL("../native/build/sbx-userns", import.meta.url),
);

/** sbx-start (native/start.c): starts a created container as `runc start` does. */
export const defaultStartHelper = fileURLToPath(
  new URL("../native/build/sbx-start", import.meta.url),
);
