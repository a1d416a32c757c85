/**
 * HPACK's Huffman code (RFC 7541 Appendix B), decoding only: the client sends
 * its headers as plain literals, but servers (nghttp2 under grpc-js) Huffman-code
 * theirs. The code is canonical, so the bit length of each symbol is all the
 * table needs: codes of one length are consecutive, in symbol order.
 */

/** Bit lengths of symbols 0..255, one character each (length = char code - 48); EOS is 30 bits. */
const lengths =
  "=GLLLLLLLHNLLNLLLLLLLLNLLLLLLLLL6::<=68;::8;8666555666666678?6<:" +
  "=67777777777777777777777878=C=>6?56565666577666567655677777?;>=L" +
  "DFDDFFFGFGGGGGHGHHFGHGGGGEFGFGGHFEDFFGGEGFFHEFGGEEFEGFGGDFFFGFFG" +
  "JJDCFGFIJJJKKJHICEJKKJKHEEJJLKKKDHDEFEEGFFIIHHJGJKJJKKKKKLKKKKKJ";
const EOS = 256;
const EOS_LENGTH = 30;

interface Table {
  /** The first code of each length, and how many symbols have that length. */
  first: Int32Array;
  count: Int32Array;
  /** Where that length's symbols start in `symbols`. */
  offset: Int32Array;
  symbols: Uint16Array;
}

let table: Table | undefined;

function build(): Table {
  const lengthOf = (s: number): number => (s === EOS ? EOS_LENGTH : lengths.charCodeAt(s) - 48);
  const count = new Int32Array(EOS_LENGTH + 1);
  for (let s = 0; s <= EOS; s++) count[lengthOf(s)]!++;
  const first = new Int32Array(EOS_LENGTH + 1);
  const offset = new Int32Array(EOS_LENGTH + 1);
  let code = 0;
  let at = 0;
  for (let len = 1; len <= EOS_LENGTH; len++) {
    code = (code + count[len - 1]!) << 1;
    first[len] = code;
    offset[len] = at;
    at += count[len]!;
  }
  const symbols = new Uint16Array(EOS + 1);
  const fill = Int32Array.from(offset);
  for (let len = 1; len <= EOS_LENGTH; len++) {
    for (let s = 0; s <= EOS; s++) if (lengthOf(s) === len) symbols[fill[len]!++] = s;
  }
  return { first, count, offset, symbols };
}

/** Decodes a Huffman-coded string; throws on EOS in the data or padding that is not all ones. */
export function huffmanDecode(data: Uint8Array): string {
  const t = (table ??= build());
  const out: number[] = [];
  let code = 0;
  let len = 0;
  for (const byte of data) {
    for (let bit = 7; bit >= 0; bit--) {
      code = (code << 1) | ((byte >> bit) & 1);
      len++;
      const index = code - t.first[len]!;
      if (index >= 0 && index < t.count[len]!) {
        const symbol = t.symbols[t.offset[len]! + index]!;
        if (symbol === EOS) throw new Error("Huffman string contains EOS");
        out.push(symbol);
        code = 0;
        len = 0;
      } else if (len >= EOS_LENGTH) {
        throw new Error("invalid Huffman code");
      }
    }
  }
  // Padding: at most 7 bits, the most significant bits of EOS (all ones).
  if (len > 7 || code !== (1 << len) - 1) throw new Error("invalid Huffman padding");
  return Buffer.from(out).toString("latin1");
}
