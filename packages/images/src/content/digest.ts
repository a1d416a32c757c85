/**
 * Digests as containerd writes them: `sha256:<64 lowercase hex>`. Only sha256
 * is stored (containerd's default and what every registry serves).
 */
import { invalidArgument, resourceExhausted, wrap, type ErrdefsError } from "@sandboxd/errdefs";

const sha256Re = /^sha256:[a-f0-9]{64}$/;
const anyDigestRe = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** The empty blob's digest (sha256 of nothing), which STAT on a fresh ingest reports. */
export const emptyDigest =
  "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/** Validates `digest` and returns its hex part; InvalidArgument for malformed or non-sha256 digests. */
export function digestHex(digest: string): string {
  if (sha256Re.test(digest)) return digest.slice(7);
  if (anyDigestRe.test(digest)) {
    throw invalidArgument(`unsupported digest algorithm in ${JSON.stringify(digest)}`);
  }
  throw invalidArgument(`invalid digest ${JSON.stringify(digest)}`);
}

export function isDigest(value: string): boolean {
  return sha256Re.test(value);
}

/** A filesystem error as a typed error: ENOSPC/EDQUOT become ResourceExhausted. */
export function fsError(err: unknown, context: string): ErrdefsError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOSPC" || code === "EDQUOT") {
    return resourceExhausted(`${context}: no space left on device`, { cause: err });
  }
  return wrap(err, context);
}
