/**
 * CRI List filters as containerd applies them: an id in a filter is first
 * resolved as a unique prefix among the existing ids (containerd's truncindex)
 * and then compared exactly, so an ambiguous prefix matches nothing; the label
 * selector needs every key with its value; an unset field matches everything.
 */
import { matchLabels } from "./util.js";

/** `filter` resolved among `ids`: itself, the one id it prefixes, or itself again (no match). */
export function resolveId(filter: string, ids: readonly string[]): string {
  if (filter === "" || ids.includes(filter)) return filter;
  const hits = ids.filter((id) => id.startsWith(filter));
  return hits.length === 1 && hits[0] !== undefined ? hits[0] : filter;
}

/** Whether `id` passes a filter id already resolved with resolveId. */
export function idMatches(id: string, resolved: string): boolean {
  return resolved === "" || id === resolved;
}

export function labelsMatch(
  labels: Record<string, string>,
  selector: Record<string, string> | undefined,
): boolean {
  return !selector || matchLabels(labels, selector);
}
