import { test } from "node:test";
import assert from "node:assert/strict";
import { ago, bytes, labelsCell, table } from "./output.js";
import { eventText } from "./commands/event-format.js";

test("table aligns columns and trims trailing space", () => {
  assert.equal(
    table(
      ["ID", "STATE"],
      [
        ["web", "ready"],
        ["database", ""],
      ],
    ),
    "ID         STATE\nweb        ready\ndatabase\n",
  );
});

test("ago", () => {
  const now = Date.parse("2026-01-01T00:00:00Z");
  assert.equal(ago(undefined, now), "");
  assert.equal(ago(new Date(now), now), "just now");
  assert.equal(ago(new Date(now - 1000), now), "1 second ago");
  assert.equal(ago(new Date(now - 125_000), now), "2 minutes ago");
  assert.equal(ago(new Date(now - 3 * 86400_000), now), "3 days ago");
});

test("bytes and labels", () => {
  assert.equal(bytes(512), "512 B");
  assert.equal(bytes(1536n), "1.5 KiB");
  assert.equal(bytes(64 * 1024 * 1024), "64.0 MiB");
  assert.equal(labelsCell({ a: "1", b: "2" }), "a=1,b=2");
});

test("event text keeps zero exit statuses and formats timestamps", () => {
  const text = eventText({
    $typeName: "containerd.events.TaskExit",
    containerId: "c1",
    id: "c1",
    pid: 7,
    exitStatus: 0,
    exitedAt: { $typeName: "google.protobuf.Timestamp", seconds: 1767225600n, nanos: 5_000_000 },
  });
  assert.equal(text, "containerId=c1 id=c1 pid=7 exitStatus=0 exitedAt=2026-01-01T00:00:00.005Z");
});

test("filters get their values quoted when containerd needs it", async () => {
  const { normalizeFilter } = await import("./filters.js");
  assert.equal(normalizeFilter("topic==/tasks/exit"), 'topic=="/tasks/exit"');
  assert.equal(normalizeFilter('topic=="/tasks/exit"'), 'topic=="/tasks/exit"');
  assert.equal(
    normalizeFilter("topic~=^/sandboxes/,namespace==default"),
    'topic~="^/sandboxes/",namespace==default',
  );
  assert.equal(normalizeFilter("labels.app==web"), "labels.app==web");
  assert.equal(normalizeFilter("id"), "id");
  assert.equal(normalizeFilter("labels.a/b==x y"), "labels.a/b==x y");
});
