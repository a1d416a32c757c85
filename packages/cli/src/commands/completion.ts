import type { Parsed } from "@sandboxd/core/args";
import type { completionCommandFlags } from "../specs/other.js";
import { UsageError } from "@sandboxd/core/args";
import { bashCompletion, zshCompletion } from "../completion.js";
import type { Context } from "../context.js";

export function run(
  ctx: Context,
  { positionals }: Parsed<typeof completionCommandFlags>,
): Promise<number> {
  const shell = positionals[0];
  if (shell === "bash") ctx.stdout.write(bashCompletion());
  else if (shell === "zsh") ctx.stdout.write(zshCompletion());
  else
    throw new UsageError(
      `completion for ${JSON.stringify(shell)} is not available: use bash or zsh`,
      "completion",
    );
  return Promise.resolve(0);
}
