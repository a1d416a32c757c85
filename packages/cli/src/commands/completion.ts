import type { Parsed } from "../args.js";
import { UsageError } from "../args.js";
import { bashCompletion, zshCompletion } from "../completion.js";
import type { Context } from "../context.js";

export function run(ctx: Context, { positionals }: Parsed): Promise<number> {
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
