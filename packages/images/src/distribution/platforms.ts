/**
 * Platforms as containerd/platforms has them: `os/arch[/variant]`, normalised, the host's
 * as default, and a matcher that accepts what the host can run (amd64 runs 386; arm64 runs
 * arm v8..v5; arm/v7 runs v6 and v5), preferring the exact match.
 */
import { invalidArgument } from "@sandboxd/errdefs";

export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
}

function normalizeArch(arch: string, variant: string | undefined): [string, string | undefined] {
  switch (arch) {
    case "x86_64":
    case "x86-64":
    case "amd64":
      return ["amd64", variant === "v1" ? undefined : variant];
    case "i386":
    case "386":
      return ["386", undefined];
    case "aarch64":
    case "arm64":
      return ["arm64", variant === "8" || variant === "v8" ? undefined : variant];
    case "armhf":
      return ["arm", "v7"];
    case "armel":
      return ["arm", "v6"];
    case "arm":
      if (variant === undefined || variant === "" || variant === "7") return ["arm", "v7"];
      if (/^\d$/.test(variant)) return ["arm", `v${variant}`];
      return ["arm", variant];
    default:
      return [arch, variant === "" ? undefined : variant];
  }
}

export function normalizePlatform(p: Platform): Platform {
  const [architecture, variant] = normalizeArch(
    p.architecture.toLowerCase(),
    p.variant?.toLowerCase(),
  );
  return { os: p.os.toLowerCase(), architecture, ...(variant ? { variant } : {}) };
}

const nodeArch: Record<string, string> = { x64: "amd64", ia32: "386", arm64: "arm64", arm: "arm" };

/** The host's platform. */
export function defaultPlatform(): Platform {
  return normalizePlatform({
    os: process.platform,
    architecture: nodeArch[process.arch] ?? process.arch,
  });
}

/** Parses `os/arch[/variant]` or `arch` (os linux). */
export function parsePlatform(s: string): Platform {
  const parts = s.split("/");
  if (s === "" || parts.length > 3 || parts.some((p) => !/^[A-Za-z0-9_-]+$/.test(p))) {
    throw invalidArgument(`invalid platform "${s}": want os/arch[/variant]`);
  }
  const [a = "", b, c] = parts;
  if (parts.length === 1) return normalizePlatform({ os: "linux", architecture: a });
  return normalizePlatform({ os: a, architecture: b ?? "", ...(c ? { variant: c } : {}) });
}

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter((x) => x).join("/");
}

/**
 * How well `candidate` fits `want`: 0 exact, higher is a worse but runnable match,
 * undefined when it cannot run. `unknown/unknown` (attestations) never matches.
 */
export function platformRank(want: Platform, candidate: Platform): number | undefined {
  const w = normalizePlatform(want);
  const c = normalizePlatform(candidate);
  if (c.os !== w.os) return undefined;
  if (c.architecture === w.architecture && c.variant === w.variant) return 0;
  if (w.architecture === "amd64" && c.architecture === "amd64")
    return w.variant === undefined ? undefined : 1;
  if (w.architecture === "amd64" && c.architecture === "386") return 2;
  const armLevel = (v: string | undefined): number =>
    Number((v ?? "v8").replace(/^v/, "").split(".")[0]);
  if (w.architecture === "arm64" && c.architecture === "arm64") return 1;
  if (w.architecture === "arm64" && c.architecture === "arm") return 10 - armLevel(c.variant);
  if (
    w.architecture === "arm" &&
    c.architecture === "arm" &&
    armLevel(c.variant) < armLevel(w.variant)
  ) {
    return armLevel(w.variant) - armLevel(c.variant);
  }
  return undefined;
}
