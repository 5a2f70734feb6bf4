// Copyright 2026 the Reaper authors. MIT license.
import { assert, assertEquals } from "@std/assert";
import FakeTimers from "npm:@sinonjs/fake-timers@15";
import {
  encodeHead,
  errorResponse,
  findHeadEnd,
  H2_PREFACE,
  httpDate,
  isValidTrailerLine,
  parseChunkSize,
  parseContentLength,
  parseHead,
  type RequestHead,
} from "./_http1.ts";

const encoder = new TextEncoder();

function parse(text: string, targetLimit = 8192): RequestHead | number {
  const bytes = encoder.encode(text);
  const end = findHeadEnd(bytes, 0, 0, bytes.length);
  if (end === -1) return -1;
  return parseHead(bytes, 0, end, targetLimit);
}

function latin1(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

Deno.test("findHeadEnd() finds the empty line, also when fed byte by byte", () => {
  const text = encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\nrest");
  assertEquals(findHeadEnd(text, 0, 0, text.length), text.length - 4);
  let from = 0;
  let found = -1;
  for (let end = 1; end <= text.length && found === -1; end++) {
    found = findHeadEnd(text, 0, from, end);
    from = end;
  }
  assertEquals(found, text.length - 4);
  const partial = encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n");
  assertEquals(findHeadEnd(partial, 0, 0, partial.length), -1);
  const bare = encoder.encode("GET / HTTP/1.1\nHost: x\n\n");
  assertEquals(findHeadEnd(bare, 0, 0, bare.length), bare.length);
});

Deno.test("parseHead() parses the request line and fields", () => {
  const head = parse(
    "POST /a?b HTTP/1.1\r\nHost: h:1\r\nContent-Length: 5\r\n" +
      "X-Pad:   v v \t\r\nConnection: Keep-Alive, Close\r\n" +
      "Expect: 100-Continue\r\n\r\n",
  ) as RequestHead;
  assertEquals(head.method, "POST");
  assertEquals(head.target, "/a?b");
  assertEquals(head.minor, 1);
  assertEquals(head.host, "h:1");
  assertEquals(head.contentLength, 5);
  assertEquals(head.chunked, false);
  assertEquals(head.close, true);
  assertEquals(head.keepAlive, true);
  assertEquals(head.expectContinue, true);
  assertEquals(head.fields, [
    "Host",
    "h:1",
    "Content-Length",
    "5",
    "X-Pad",
    "v v",
    "Connection",
    "Keep-Alive, Close",
    "Expect",
    "100-Continue",
  ]);
});

Deno.test("parseHead() keeps obs-text bytes as latin-1 characters", () => {
  const bytes = latin1("GET / HTTP/1.0\r\nX: caf\xe9\r\n\r\n");
  const head = parseHead(bytes, 0, bytes.length, 100) as RequestHead;
  assertEquals(head.fields[1], "caf\xe9");
  assertEquals(head.host, null);
});

Deno.test("parseHead() accepts chunked and identical Content-Length lists", () => {
  const chunked = parse(
    "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n",
  ) as RequestHead;
  assertEquals(chunked.chunked, true);
  const list = parse(
    "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 7, 7\r\nContent-Length: 7\r\n\r\n",
  ) as RequestHead;
  assertEquals(list.contentLength, 7);
});

Deno.test("parseHead() rejects malformed heads with the right status", () => {
  const cases: [string, number][] = [
    ["GET / HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n", 400],
    ["GET / HTTP/1.1\r\nHost: x\r\nA: \x01\r\n\r\n", 400],
    ["GET / HTTP/1.1\r\nHost: x\r\nA: \x7f\r\n\r\n", 400],
    ["GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400],
    ["GET / HTTP/1.1\r\n Host: x\r\n\r\n", 400],
    ["GET / HTTP/1.1\r\nHost: x\r\nA: b\nC: d\r\n\r\n", 400],
    ["GET / HTTP/1.1\r\nHost: x\r\n:v\r\n\r\n", 400],
    ["GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n", 400],
    ["GET / HTTP/1.1 \r\nHost: x\r\n\r\n", 400],
    ["GET / http/1.1\r\nHost: x\r\n\r\n", 400],
    ["GET / HTTP/1.10\r\nHost: x\r\n\r\n", 400],
    ["GET / HTTP/3.0\r\nHost: x\r\n\r\n", 505],
    ["GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400],
    ["GET / HTTP/1.1\r\nHost: a@b\r\n\r\n", 400],
    ["POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 2\r\n\r\n", 400],
    [
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1234567890123456\r\n\r\n",
      400,
    ],
    ["POST / HTTP/1.1\r\nHost: x\r\nContent-Length: \r\n\r\n", 400],
    [
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
      400,
    ],
    [
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n",
      400,
    ],
    ["POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: ,chunked\r\n\r\n", 400],
  ];
  for (const [text, status] of cases) {
    assertEquals(parse(text), status, JSON.stringify(text));
  }
  assertEquals(
    parse("GET /" + "a".repeat(200) + " HTTP/1.1\r\nHost: x\r\n\r\n", 100),
    414,
  );
  assertEquals(parse("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), H2_PREFACE);
});

Deno.test("parseContentLength() accepts digits only", () => {
  assertEquals(parseContentLength("0"), 0);
  assertEquals(parseContentLength("123"), 123);
  assertEquals(parseContentLength(" 4 , 4"), 4);
  assertEquals(parseContentLength("-1"), -1);
  assertEquals(parseContentLength("0x10"), -1);
  assertEquals(parseContentLength("1e3"), -1);
});

Deno.test("parseChunkSize() reads hex sizes and skips extensions", () => {
  const check = (line: string) => {
    const bytes = encoder.encode(line);
    return parseChunkSize(bytes, 0, bytes.length - 1);
  };
  assertEquals(check("1f\r\n"), 31);
  assertEquals(check("A\r\n"), 10);
  assertEquals(check("0\r\n"), 0);
  assertEquals(check("5;name=value\r\n"), 5);
  assertEquals(check("5 ; name\r\n"), 5);
  assertEquals(check("\r\n"), -1);
  assertEquals(check("5\n"), -1);
  assertEquals(check("g\r\n"), -1);
  assertEquals(check("5 6\r\n"), -1);
  assertEquals(check("5;a\x00\r\n"), -1);
  assertEquals(check("f".repeat(14) + "\r\n"), -1);
  assertEquals(check("f".repeat(13) + "\r\n"), 16 ** 13 - 1);
});

Deno.test("isValidTrailerLine() rejects bare LF, folds and control bytes", () => {
  const check = (line: string) => {
    const bytes = encoder.encode(line);
    return isValidTrailerLine(bytes, 0, bytes.length - 1);
  };
  assert(check("X-T: v\r\n"));
  assert(!check("X-T: v\n"));
  assert(!check(" fold\r\n"));
  assert(!check("X: \x00\r\n"));
});

Deno.test("httpDate() returns an IMF-fixdate recomputed once a second", () => {
  const clock = FakeTimers.install({ now: Date.UTC(2026, 10, 29, 9, 0, 0, 0) });
  try {
    assertEquals(httpDate(), "Sun, 29 Nov 2026 09:00:00 GMT");
    clock.tick(999);
    assertEquals(httpDate(), "Sun, 29 Nov 2026 09:00:00 GMT");
    clock.tick(1);
    assertEquals(httpDate(), "Sun, 29 Nov 2026 09:00:01 GMT");
    clock.tick(60_000);
    assertEquals(httpDate(), "Sun, 29 Nov 2026 09:01:01 GMT");
  } finally {
    clock.uninstall();
  }
});

Deno.test("encodeHead() writes latin-1 heads and appends the body", () => {
  const out = encodeHead("x: \xe9\r\n", new Uint8Array([1, 2]), 1);
  assertEquals([...out], [120, 58, 32, 0xe9, 13, 10, 1, 2, 0]);
  const ascii = encodeHead("ab", null);
  assertEquals([...ascii], [97, 98]);
  const error = new TextDecoder().decode(errorResponse(431));
  assert(error.startsWith("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
  assert(error.endsWith("connection: close\r\ncontent-length: 0\r\n\r\n"));
});
