// An image's config applied to a container's process, as containerd's WithImageConfig
// and docker run do it: entrypoint + cmd (a given command replaces Cmd, a given entrypoint
// replaces both), Env merged by key, WorkingDir, and User resolved against the image's
// /etc/passwd and /etc/group.
import { invalidArgument, notFound } from "@sandboxd/errdefs";
import { mergeEnv } from "./oci/spec.js";

/** The runtime part of an OCI image config (`config.config`). */
export interface ImageProcessConfig {
  readonly User?: string;
  readonly Env?: readonly string[] | null;
  readonly Entrypoint?: readonly string[] | null;
  readonly Cmd?: readonly string[] | null;
  readonly WorkingDir?: string;
}

export interface ProcessOverrides {
  /** The command after the image name (`sbx run IMAGE CMD...`); replaces Cmd. */
  readonly args?: readonly string[];
  /** Replaces Entrypoint and drops the image's Cmd. */
  readonly entrypoint?: readonly string[];
  /** `KEY=VALUE`, overriding the image's values for the same keys. */
  readonly env?: readonly string[];
  readonly cwd?: string;
  /** `uid[:gid]` or `name[:group]`. */
  readonly user?: string;
}

export interface ImageProcess {
  readonly args: string[];
  readonly env: string[];
  readonly cwd: string;
  readonly user: string;
}

export function imageProcess(config: ImageProcessConfig, o: ProcessOverrides = {}): ImageProcess {
  const entrypoint = o.entrypoint ?? config.Entrypoint ?? [];
  const cmd = o.args && o.args.length > 0 ? o.args : o.entrypoint ? [] : (config.Cmd ?? []);
  const args = [...entrypoint, ...cmd];
  if (args.length === 0) {
    throw invalidArgument(
      "the image has no Entrypoint or Cmd: give a command after the image name",
    );
  }
  return {
    args,
    env: mergeEnv(config.Env ?? [], o.env ?? []),
    cwd: o.cwd ?? (config.WorkingDir || "/"),
    user: o.user ?? (config.User || ""),
  };
}

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
}

function entries(file: string | undefined): string[][] {
  return (file ?? "")
    .split("\n")
    .filter((l) => l.trim() !== "" && !l.startsWith("#"))
    .map((l) => l.split(":"));
}

/**
 * `user` (`""`, `uid`, `uid:gid`, `name`, `name:group`) against the image's passwd and
 * group files (contents, or undefined when absent). A numeric uid needs no passwd entry.
 */
export function resolveUser(user: string, passwd?: string, group?: string): ResolvedUser {
  if (user === "") return { uid: 0, gid: 0, additionalGids: [] };
  const [u = "", g] = user.split(":");
  const users = entries(passwd);
  const groups = entries(group);
  let uid: number;
  let gid: number | undefined;
  let name: string | undefined;
  if (/^\d+$/.test(u)) {
    uid = Number(u);
    const entry = users.find((e) => e[2] === u);
    name = entry?.[0];
    gid = entry ? Number(entry[3]) : 0;
  } else {
    const entry = users.find((e) => e[0] === u);
    if (!entry) throw notFound(`no user "${u}" in the image's /etc/passwd`);
    uid = Number(entry[2]);
    gid = Number(entry[3]);
    name = u;
  }
  if (g !== undefined && g !== "") {
    if (/^\d+$/.test(g)) gid = Number(g);
    else {
      const entry = groups.find((e) => e[0] === g);
      if (!entry) throw notFound(`no group "${g}" in the image's /etc/group`);
      gid = Number(entry[2]);
    }
  }
  if (!Number.isSafeInteger(uid) || !Number.isSafeInteger(gid))
    throw invalidArgument(`invalid user "${user}"`);
  const additionalGids = name
    ? groups
        .filter((e) => (e[3] ?? "").split(",").includes(name) && Number(e[2]) !== gid)
        .map((e) => Number(e[2]))
    : [];
  return { uid, gid, additionalGids };
}
