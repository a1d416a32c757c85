// Tables for people (aligned columns like ctr's tabwriter) and helpers for
// the values in them.

/** Aligns rows under a header; columns are separated by at least 3 spaces. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [header, ...rows];
  const widths = header.map((_, col) => Math.max(...all.map((row) => (row[col] ?? "").length)));
  return all
    .map((row) =>
      row
        .map((cell, col) => (col === row.length - 1 ? cell : cell.padEnd(widths[col]! + 3)))
        .join("")
        .trimEnd(),
    )
    .join("\n")
    .concat("\n");
}

/** "5 seconds ago", "3 minutes ago", ... ("" for no date). */
export function ago(date: Date | undefined, now = Date.now()): string {
  if (!date) return "";
  const seconds = Math.max(0, Math.round((now - date.getTime()) / 1000));
  const units: [number, string][] = [
    [86400 * 365, "year"],
    [86400 * 30, "month"],
    [86400 * 7, "week"],
    [86400, "day"],
    [3600, "hour"],
    [60, "minute"],
    [1, "second"],
  ];
  if (seconds < 1) return "just now";
  for (const [size, unit] of units) {
    if (seconds >= size) {
      const n = Math.floor(seconds / size);
      return `${n} ${unit}${n === 1 ? "" : "s"} ago`;
    }
  }
  return "just now";
}

/** ISO 8601 for JSON (null for no date). */
export function iso(date: Date | undefined): string | null {
  return date ? date.toISOString() : null;
}

/** `k=v,k2=v2` for a table cell. */
export function labelsCell(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
}

/** 1536 → "1.5 KiB". */
export function bytes(n: number | bigint): string {
  let value = Number(n);
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  return i === 0 ? `${value} B` : `${value.toFixed(1)} ${units[i]}`;
}
