/**
 * containerd's identifier rules (pkg/identifiers): alphanumerics separated by
 * single `.`, `_` or `-`, at most 76 characters. Applied to namespaces,
 * container, task and sandbox ids and event topic components; safe as a path
 * component by construction.
 */
import { invalidArgument } from "@sandboxd/errdefs";

export const maxIdentifierLength = 76;
const identifierRe = /^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$/;

export function validate(s: string): void {
  if (s.length === 0) throw invalidArgument("identifier must not be empty");
  if (s.length > maxIdentifierLength) {
    throw invalidArgument(
      `identifier ${JSON.stringify(s)} greater than maximum length (${maxIdentifierLength} characters)`,
    );
  }
  if (!identifierRe.test(s)) {
    throw invalidArgument(`identifier ${JSON.stringify(s)} must match ${identifierRe.source}`);
  }
}

export function isValid(s: string): boolean {
  return s.length > 0 && s.length <= maxIdentifierLength && identifierRe.test(s);
}
