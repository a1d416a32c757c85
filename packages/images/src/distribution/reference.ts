/**
 * Image references with Docker's normalisation (distribution/reference): a name without a
 * registry is on docker.io, a one-component name on docker.io is under `library/`, and a
 * reference with neither tag nor digest means `:latest`. Names keep their upstream form;
 * which host actually serves them is the hosts' business (../hosts).
 */
import { invalidArgument } from "@sandboxd/errdefs";

export interface Reference {
  /** Registry host, with port if any: `docker.io`, `127.0.0.1:5000`, `registry.k8s.io`. */
  readonly domain: string;
  /** Repository path: `library/busybox`, `e2e-test-images/busybox`. */
  readonly path: string;
  readonly tag?: string;
  readonly digest?: string;
}

const component = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const tagPattern = /^[\w][\w.-]{0,127}$/;
const digestPattern = /^sha256:[a-f0-9]{64}$/;
const domainPattern =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9-]+)*(?::\d+)?$|^\[[0-9a-fA-F:]+\](?::\d+)?$/;

export function isDigest(s: string): boolean {
  return digestPattern.test(s);
}

/** Parses and normalises `s`; InvalidArgument naming the bad part otherwise. */
export function parseReference(s: string): Reference {
  if (s === "" || s.length > 4096) throw invalidArgument(`invalid image reference "${s}"`);
  let rest = s;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isDigest(digest)) throw invalidArgument(`invalid digest "${digest}" in reference "${s}"`);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!tagPattern.test(tag)) throw invalidArgument(`invalid tag "${tag}" in reference "${s}"`);
  }
  let domain = "docker.io";
  let path = rest;
  const slash = rest.indexOf("/");
  const first = slash >= 0 ? rest.slice(0, slash) : "";
  if (
    first &&
    (first.includes(".") ||
      first.includes(":") ||
      first === "localhost" ||
      first !== first.toLowerCase())
  ) {
    domain = first;
    path = rest.slice(slash + 1);
  }
  if (domain === "index.docker.io") domain = "docker.io";
  if (!domainPattern.test(domain))
    throw invalidArgument(`invalid registry "${domain}" in reference "${s}"`);
  if (domain === "docker.io" && !path.includes("/")) path = `library/${path}`;
  if (path === "" || !path.split("/").every((c) => component.test(c))) {
    throw invalidArgument(
      `invalid repository name "${path}" in reference "${s}" (lowercase letters, digits, separators)`,
    );
  }
  if (tag === undefined && digest === undefined) tag = "latest";
  return {
    domain,
    path,
    ...(tag !== undefined ? { tag } : {}),
    ...(digest !== undefined ? { digest } : {}),
  };
}

/** `domain/path[:tag][@digest]`. */
export function formatReference(ref: Reference): string {
  return `${ref.domain}/${ref.path}${ref.tag !== undefined ? `:${ref.tag}` : ""}${ref.digest !== undefined ? `@${ref.digest}` : ""}`;
}

/** What the registry's manifests endpoint is asked for: the digest when there is one. */
export function objectOf(ref: Reference): string {
  return ref.digest ?? ref.tag ?? "latest";
}
