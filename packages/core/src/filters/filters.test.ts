import { test } from "node:test";
import assert from "node:assert/strict";
import { isInvalidArgument } from "@sandboxd/errdefs";
import { parseFilter, parseFilters, recordAdaptor } from "./filters.js";

const obj = recordAdaptor(
  {
    id: "web-1",
    "runtime.name": "io.containerd.runc.v2",
    topic: "/tasks/exit",
    namespace: "default",
  },
  { app: "web", "a b": "x", "k8s.io/name": "n" },
);

test("equality, inequality, presence and AND within one filter", () => {
  assert.ok(parseFilter("id==web-1")(obj));
  assert.ok(!parseFilter("id==web-2")(obj));
  assert.ok(parseFilter("id!=web-2")(obj));
  assert.ok(parseFilter("labels.app")(obj));
  assert.ok(!parseFilter("labels.missing")(obj));
  assert.ok(parseFilter("labels.app==web,id==web-1")(obj));
  assert.ok(!parseFilter("labels.app==web,id==web-2")(obj));
  assert.ok(parseFilter("runtime.name==io.containerd.runc.v2")(obj));
  assert.ok(parseFilter('labels."a b"==x')(obj));
  assert.ok(parseFilter('labels."k8s.io/name"==n')(obj));
  assert.ok(parseFilter(" id == web-1 , namespace==default")(obj));
});

test("regular expressions with alternative quotes", () => {
  assert.ok(parseFilter("topic~=/^\\/tasks\\//")(obj));
  assert.ok(parseFilter('topic=="/tasks/exit"')(obj));
  // As in containerd, an unquoted value cannot start with a quote character.
  assert.throws(
    () => parseFilter("topic==/tasks/exit"),
    (e) => isInvalidArgument(e),
  );
  assert.ok(parseFilter('topic~="^/tasks/"')(obj));
  assert.ok(parseFilter("topic~=|exit$|")(obj));
  assert.ok(!parseFilter("topic~=/containers/")(obj));
});

test("several filters are ORed, none means everything", () => {
  assert.ok(parseFilters(["id==nope", "labels.app==web"])(obj));
  assert.ok(!parseFilters(["id==nope", "labels.app==db"])(obj));
  assert.ok(parseFilters([])(obj));
  assert.ok(parseFilters([""])(obj));
});

test("parse errors are InvalidArgument and point at the problem", () => {
  for (const bad of [
    "id==",
    "id=web",
    "id===x",
    "==x",
    "id==/x/",
    'labels."x==y',
    "id==a,",
    "a.b.",
    "id~=/(/",
    'a=="\\q"',
  ]) {
    assert.throws(
      () => parseFilter(bad),
      (e) => isInvalidArgument(e),
      bad,
    );
  }
  assert.throws(
    () => parseFilter("id=web"),
    /filters: parse error: \[id >\|=\|< web\]: unsupported operator/,
  );
});

test("quoted values decode Go escapes", () => {
  const a = recordAdaptor({ v: 'a"b\n\u00e9' });
  assert.ok(parseFilter('v=="a\\"b\\n\\u00e9"')(a));
  assert.ok(parseFilter('v=="a\\x22b\\012\\U000000e9"')(a));
});
