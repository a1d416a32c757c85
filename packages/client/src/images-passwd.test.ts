import { test } from "node:test";
import assert from "node:assert/strict";
import { mergeLayers, TarScan } from "./images-passwd.js";

function entry(name: string, data = "", type = "0"): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, "utf8");
  h.write(`${data.length.toString(8).padStart(11, "0")}\0`, 124, "ascii");
  h.write(type, 156, "ascii");
  h.write("ustar\0", 257, "ascii");
  const body = Buffer.alloc(Math.ceil(data.length / 512) * 512);
  body.write(data, 0, "utf8");
  return Buffer.concat([h, body]);
}

function scan(parts: Buffer[], byteAtATime = false) {
  const t = new TarScan();
  const all = Buffer.concat([...parts, Buffer.alloc(1024)]);
  if (byteAtATime) for (let i = 0; i < all.length; i++) t.push(all.subarray(i, i + 1));
  else t.push(all);
  return t.out;
}

test("keeps /etc/passwd and /etc/group across chunk boundaries, skips everything else", () => {
  const big = "x".repeat(1500);
  const parts = [
    entry("bin/busybox", big),
    entry("./etc/passwd", "root:x:0:0::/:/bin/sh\n"),
    entry("etc/group", "root:x:0:\n"),
    entry("etc/shadow", big),
  ];
  for (const byte of [false, true]) {
    const out = scan(parts, byte);
    assert.deepEqual(Object.fromEntries(out.files), {
      "etc/passwd": "root:x:0:0::/:/bin/sh\n",
      "etc/group": "root:x:0:\n",
    });
  }
});

test("whiteouts, an opaque etc and links hide lower layers' files", () => {
  const lower = scan([entry("etc/passwd", "a\n"), entry("etc/group", "g\n")]);
  assert.deepEqual(mergeLayers([lower, scan([entry("etc/.wh.passwd")])]), { group: "g\n" });
  assert.deepEqual(mergeLayers([lower, scan([entry("etc/.wh..wh..opq")])]), {});
  assert.deepEqual(mergeLayers([lower, scan([entry("etc/passwd", "", "2")])]), { group: "g\n" });
  assert.deepEqual(mergeLayers([lower, scan([entry("etc/passwd", "b\n")])]), {
    passwd: "b\n",
    group: "g\n",
  });
});
