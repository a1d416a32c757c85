// A container's user from an OCI USER string, resolved against the root
// filesystem's /etc/passwd and /etc/group as containerd's oci.WithUser and
// WithAdditionalGIDs do.
import { invalidArgument, notFound } from "@sandboxd/errdefs";

export interface ResolvedUser {
  uid: number;
  gid: number;
  /** The primary gid first, then the groups listing the user as a member (by name). */
  additionalGids: number[];
  /** The passwd name of the user, when it has an entry. */
  username?: string;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
}

interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

function lines(text: string | undefined): string[][] {
  return (text ?? "")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => l.split(":"));
}

/** /etc/passwd entries; lines without numeric ids are skipped, as libc does. */
export function parsePasswd(text: string | undefined): PasswdEntry[] {
  return lines(text)
    .map(([name = "", , uid = "", gid = ""]) => ({ name, uid: Number(uid), gid: Number(gid) }))
    .filter(
      (e) => /^\S+$/.test(e.name) && Number.isSafeInteger(e.uid) && Number.isSafeInteger(e.gid),
    );
}

/** /etc/group entries with their member lists. */
export function parseGroup(text: string | undefined): GroupEntry[] {
  return lines(text)
    .map(([name = "", , gid = "", members = ""]) => ({
      name,
      gid: Number(gid),
      members: members
        .split(",")
        .map((m) => m.trim())
        .filter(Boolean),
    }))
    .filter((e) => e.name !== "" && Number.isSafeInteger(e.gid));
}

const maxId = 2 ** 31 - 1;

/** A numeric id (runc's limit is MaxInt32), or undefined for a name. */
function numeric(part: string, what: string, spec: string): number | undefined {
  if (!/^-?\d+$/.test(part)) return undefined;
  const n = Number(part);
  if (n < 0 || n > maxId)
    throw invalidArgument(`invalid USER value "${spec}": ${what} out of range`);
  return n;
}

/**
 * `spec` (`""`, `uid`, `name`, `uid:gid`, `name:group`, `uid:group`...)
 * against passwd and group file contents (undefined when the image has none).
 * A numeric uid needs no entry (its gid is then 0); a name must have one
 * (NotFound otherwise). An empty spec is root.
 */
export function resolveUser(spec: string, passwd?: string, group?: string): ResolvedUser {
  const parts = (spec === "" ? "0" : spec).split(":");
  if (parts.length > 2 || parts.some((p) => p === ""))
    throw invalidArgument(`invalid USER value "${spec}"`);
  const [userPart = "", groupPart] = parts;
  const users = parsePasswd(passwd);
  const groups = parseGroup(group);
  let uid = numeric(userPart, "uid", spec);
  let gid: number;
  let username: string | undefined;
  if (uid === undefined) {
    const entry = users.find((e) => e.name === userPart);
    if (!entry) throw notFound(`no user "${userPart}" in the container's /etc/passwd`);
    ({ uid, gid, name: username } = entry);
  } else {
    const entry = users.find((e) => e.uid === uid);
    username = entry?.name;
    // uid:gid names no entry: its gid is the given one; a bare uid takes its entry's gid.
    gid = entry?.gid ?? 0;
  }
  if (groupPart !== undefined) {
    const n = numeric(groupPart, "gid", spec);
    if (n !== undefined) gid = n;
    else {
      const entry = groups.find((e) => e.name === groupPart);
      if (!entry) throw notFound(`no group "${groupPart}" in the container's /etc/group`);
      gid = entry.gid;
    }
  }
  const additionalGids = [gid];
  if (username !== undefined) {
    for (const g of groups)
      if (g.name !== username && g.members.includes(username) && !additionalGids.includes(g.gid))
        additionalGids.push(g.gid);
  }
  return { uid, gid, additionalGids, ...(username === undefined ? {} : { username }) };
}
