import { test } from "node:test";
import assert from "node:assert/strict";
import { HpackDecoder, HpackError, encodeHeaders } from "./hpack.js";
import { huffmanDecode } from "./huffman.js";
import { FrameReader, FrameSizeError, encodeFrame, unpad, Flag, FrameType } from "./frames.js";

const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ""), "hex");

test("Huffman strings decode as in RFC 7541 Appendix C.4 and C.6", () => {
  assert.equal(huffmanDecode(hex("f1e3 c2e5 f23a 6ba0 ab90 f4ff")), "www.example.com");
  assert.equal(huffmanDecode(hex("a8eb 1064 9cbf")), "no-cache");
  assert.equal(huffmanDecode(hex("25a8 49e9 5ba9 7d7f")), "custom-key");
  assert.equal(huffmanDecode(hex("25a8 49e9 5bb8 e8b4 bf")), "custom-value");
  assert.equal(huffmanDecode(hex("6402")), "302");
  assert.equal(huffmanDecode(hex("aec3 771a 4b")), "private");
  assert.equal(
    huffmanDecode(hex("d07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff")),
    "Mon, 21 Oct 2013 20:13:21 GMT",
  );
});

test("Huffman padding must be under 8 bits of ones", () => {
  // 'a' is 00011: three zero bits of padding are not EOS's prefix.
  assert.throws(() => huffmanDecode(hex("18")), /padding/);
  // Eight ones are more padding than allowed.
  assert.throws(() => huffmanDecode(hex("1f ff")), /padding|invalid/);
  // EOS itself (30 ones) inside the data.
  assert.throws(() => huffmanDecode(hex("ffff ffff")), /EOS|invalid/);
});

test("header blocks decode with the dynamic table (RFC 7541 C.3, C.4)", () => {
  const plain = new HpackDecoder();
  assert.deepEqual(plain.decode(hex("8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d")), [
    [":method", "GET"],
    [":scheme", "http"],
    [":path", "/"],
    [":authority", "www.example.com"],
  ]);
  // 0xbe is index 62: the first dynamic entry, added by the block before.
  assert.deepEqual(plain.decode(hex("8286 84be 5808 6e6f 2d63 6163 6865")), [
    [":method", "GET"],
    [":scheme", "http"],
    [":path", "/"],
    [":authority", "www.example.com"],
    ["cache-control", "no-cache"],
  ]);
  const huffman = new HpackDecoder();
  assert.deepEqual(huffman.decode(hex("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff")), [
    [":method", "GET"],
    [":scheme", "http"],
    [":path", "/"],
    [":authority", "www.example.com"],
  ]);
});

test("a table size update evicts, and an index past the table is an error", () => {
  const decoder = new HpackDecoder();
  decoder.decode(hex("418c f1e3 c2e5 f23a 6ba0 ab90 f4ff")); // :authority, indexed
  assert.deepEqual(decoder.decode(hex("be")), [[":authority", "www.example.com"]]);
  assert.throws(() => decoder.decode(hex("20 be")), HpackError); // size 0, then index 62
  assert.throws(() => new HpackDecoder(4096).decode(hex("3fe1 3f")), /table size update/); // 8192
  assert.throws(() => new HpackDecoder().decode(hex("0f")), /ends inside an integer/);
  assert.throws(() => new HpackDecoder().decode(hex("0005 61")), /longer than the header block/);
});

test("the encoder's blocks decode to the same fields, static matches as one byte", () => {
  const fields: [string, string][] = [
    [":method", "POST"],
    [":path", "/containerd.services.version.v1.Version/Version"],
    ["content-type", "application/grpc"],
    ["containerd-namespace", "default"],
    ["x-long", "v".repeat(300)],
  ];
  const block = encodeHeaders(fields);
  assert.equal(block[0], 0x83); // :method POST is static entry 3
  assert.deepEqual(new HpackDecoder().decode(block), fields);
});

test("frames split across chunks come out whole; oversized frames are refused", () => {
  const reader = new FrameReader();
  const a = encodeFrame(FrameType.Data, Flag.EndStream, 3, Buffer.from("hello"));
  const b = encodeFrame(FrameType.Ping, 0, 0, Buffer.alloc(8));
  const both = Buffer.concat([a, b]);
  assert.deepEqual(reader.push(both.subarray(0, 7)), []);
  const frames = reader.push(both.subarray(7));
  assert.equal(frames.length, 2);
  assert.equal(frames[0]!.stream, 3);
  assert.equal(frames[0]!.payload.toString(), "hello");
  assert.equal(frames[1]!.type, FrameType.Ping);
  const big = Buffer.alloc(9);
  big.writeUIntBE(20_000, 0, 3);
  assert.throws(() => new FrameReader().push(big), FrameSizeError);
  // Padding (pad length 2) comes off.
  const padded = {
    type: FrameType.Data,
    flags: Flag.Padded,
    stream: 1,
    payload: hex("02 6869 0000"),
  };
  assert.equal(unpad(padded).toString(), "hi");
});
