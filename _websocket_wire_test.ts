// Copyright 2026 the Reaper authors. MIT license.
import { assertEquals } from "@std/assert";
import {
  acceptKey,
  BAD_LENGTH,
  encodeClose,
  encodeFrame,
  encodeTextFrame,
  frameFault,
  type FrameHeader,
  isValidCloseCode,
  isValidKey,
  parseFrameHeader,
  sha1,
  unmask,
} from "./_websocket_wire.ts";
import { frame } from "./testdata/ws_raw.ts";

const hex = (bytes: Uint8Array) =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

function header(): FrameHeader {
  return { fin: false, rsv: 0, opcode: 0, masked: false, length: 0, mask: 0 };
}

Deno.test("sha1() matches FIPS 180 test vectors and crypto.subtle", async () => {
  const enc = new TextEncoder();
  assertEquals(
    hex(sha1(enc.encode("abc"))),
    "a9993e364706816aba3e25717850c26c9cd0d89d",
  );
  assertEquals(
    hex(sha1(new Uint8Array(0))),
    "da39a3ee5e6b4b0d3255bfef95601890afd80709",
  );
  for (const length of [55, 56, 63, 64, 65, 200]) {
    const data = new Uint8Array(length).map((_, i) => i * 31);
    const want = new Uint8Array(await crypto.subtle.digest("SHA-1", data));
    assertEquals(sha1(data), want, `length ${length}`);
  }
});

Deno.test("acceptKey() gives RFC 6455's example accept value; isValidKey() wants 16 bytes", () => {
  assertEquals(
    acceptKey("dGhlIHNhbXBsZSBub25jZQ=="),
    "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
  );
  assertEquals(isValidKey("dGhlIHNhbXBsZSBub25jZQ=="), true);
  assertEquals(isValidKey("dGhlIHNhbXBsZSBub25jZQ"), false);
  assertEquals(isValidKey("x"), false);
});

Deno.test("parseFrameHeader() reads the three length forms and the mask, and waits for more", () => {
  for (const length of [0, 125, 126, 65535, 65536]) {
    const bytes = frame(2, new Uint8Array(length));
    const h = header();
    const size = parseFrameHeader(bytes, 0, bytes.length, h);
    assertEquals(size, (length < 126 ? 2 : length < 65536 ? 4 : 10) + 4);
    assertEquals([h.fin, h.opcode, h.masked, h.length, h.mask], [
      true,
      2,
      true,
      length,
      0x37fa213d,
    ]);
    assertEquals(parseFrameHeader(bytes, 0, size - 1, header()), 0);
  }
  const huge = new Uint8Array([
    0x82,
    0xff,
    0x80,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    1,
    2,
    3,
    4,
  ]);
  assertEquals(parseFrameHeader(huge, 0, huge.length, header()), BAD_LENGTH);
});

Deno.test("frameFault() names every RFC 6455 §5 fault of a client frame", () => {
  const h = (opcode: number, over: Partial<FrameHeader> = {}) => ({
    ...header(),
    fin: true,
    masked: true,
    opcode,
    ...over,
  });
  assertEquals(frameFault(h(1), false), null);
  assertEquals(frameFault(h(0), true), null);
  assertEquals(frameFault(h(9), true), null);
  assertEquals(
    frameFault(h(1, { masked: false }), false),
    "Unmasked client frame",
  );
  assertEquals(frameFault(h(1, { rsv: 1 }), false), "Reserved bits set");
  assertEquals(frameFault(h(7), false), "Reserved opcode");
  assertEquals(frameFault(h(11), false), "Reserved opcode");
  assertEquals(
    frameFault(h(9, { fin: false }), false),
    "Fragmented control frame",
  );
  assertEquals(
    frameFault(h(10, { length: 126 }), false),
    "Control frame too long",
  );
  assertEquals(frameFault(h(0), false), "Continuation without a message");
  assertEquals(frameFault(h(2), true), "Expected a continuation frame");
});

Deno.test("unmask() unmasks from any key phase", () => {
  const data = new Uint8Array(23).map((_, i) => i + 1);
  const masked = frame(2, data).subarray(6);
  for (let split = 0; split <= data.length; split++) {
    const out = new Uint8Array(data.length);
    unmask(masked, 0, split, out, 0, 0x37fa213d, 0);
    unmask(
      masked,
      split,
      data.length - split,
      out,
      split,
      0x37fa213d,
      split & 3,
    );
    assertEquals(out, data, `split at ${split}`);
  }
});

Deno.test("encoders write unmasked FIN frames; close codes are checked as RFC 6455 §7.4 says", () => {
  assertEquals(
    encodeFrame(2, new Uint8Array([1, 2])),
    new Uint8Array([0x82, 2, 1, 2]),
  );
  const [text, n] = encodeTextFrame("é");
  assertEquals([hex(text), n], ["8102c3a9", 2]);
  const [long] = encodeTextFrame("a".repeat(70000));
  assertEquals(Array.from(long.subarray(0, 10)), [
    0x81,
    127,
    0,
    0,
    0,
    0,
    0,
    1,
    0x11,
    0x70,
  ]);
  assertEquals(hex(encodeClose(1001, "x")), "880303e978");
  assertEquals(hex(encodeClose()), "8800");
  assertEquals(
    [999, 1000, 1004, 1005, 1006, 1011, 1015, 2999, 3000, 4999, 5000].map(
      isValidCloseCode,
    ),
    [
      false,
      true,
      false,
      false,
      false,
      true,
      false,
      false,
      true,
      true,
      false,
    ],
  );
});
