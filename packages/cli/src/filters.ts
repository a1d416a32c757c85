// containerd's filter syntax wants values with characters such as "/" quoted
// (topic=="/tasks/exit"). People type topic==/tasks/exit; quote it for them.

const term = /^([A-Za-z0-9_.]+(?:\."[^"]*")?)(==|!=|~=)(.*)$/s;
const bare = /^[A-Za-z0-9_.-]*$/;

/** Quotes the unquoted values of a filter that need it; leaves the rest as typed. */
export function normalizeFilter(filter: string): string {
  return filter
    .split(",")
    .map((part) => {
      const m = term.exec(part);
      if (!m) return part;
      const [, field, op, value] = m as unknown as [string, string, string, string];
      if (value.startsWith('"') || bare.test(value)) return part;
      return `${field}${op}${JSON.stringify(value)}`;
    })
    .join(",");
}
