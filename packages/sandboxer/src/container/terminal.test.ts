import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeK8sLog, terminalPaths } from "./terminal.js";

test("conmon's k8s-file log lines become the bytes the terminal printed", () => {
  const log = Buffer.from(
    "2026-01-01T00:00:00.000000001+00:00 stdout F /dev/pts/0\r\n" +
      "2026-01-01T00:00:00.000000002+00:00 stdout P $ \n" +
      "2026-01-01T00:00:00.000000003+00:00 stdout F  two  spaces \r\n" +
      "2026-01-01T00:00:00.000000004+00:00 stdout F incompl",
  );
  const { out, consumed } = decodeK8sLog(log);
  assert.equal(out.toString(), "/dev/pts/0\r\n$  two  spaces \r\n");
  assert.equal(
    log.subarray(consumed).toString(),
    "2026-01-01T00:00:00.000000004+00:00 stdout F incompl",
  );
  assert.equal(decodeK8sLog(Buffer.alloc(0)).consumed, 0);
});

test("terminal paths stay short enough for a unix socket", () => {
  const p = terminalPaths("/run/sbx-sandboxer/tty", "/s/c1", "/bundle", "default\0c1");
  assert.match(p.attach, /^\/run\/sbx-sandboxer\/tty\/[0-9a-f]{16}\/attach$/);
  assert.equal(p.ctl, "/bundle/ctl");
  assert.equal(p.log, "/s/c1/console.log");
  assert.notEqual(terminalPaths("/t", "/d", "/b", "default\0c1\0e1").cuuid, p.cuuid);
});
