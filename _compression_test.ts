// Copyright 2026 the Reaper authors. MIT license.
import { assert, assertEquals, assertStrictEquals } from "@std/assert";
import {
  chooseEncoding,
  COMPRESSIBLE_TYPE_COUNT,
  compressResponse,
  type Encoding,
  hasNoTransform,
  isCompressibleType,
  MIN_COMPRESS_SIZE,
} from "./_compression.ts";
import {
  CASES,
  header,
  rawRequest,
  type Seen,
  streamOf,
} from "./bench/compression_probe.ts";

const HTML = { "content-type": "text/html; charset=utf-8" };
const PAGE = "<p>hello compression</p>".repeat(40);

// Each row was measured against raw Deno.serve 2.9.6 by
// bench/compression_probe.ts.
const ACCEPT_TABLE: [string | null, Encoding | null][] = [
  [null, null],
  ["", null],
  ["gzip", "gzip"],
  ["br", "br"],
  ["gzip, deflate, br", "br"],
  ["gzip, deflate, br, zstd", "br"],
  ["zstd, gzip, deflate, br", "br"],
  ["deflate", null],
  ["zstd", null],
  ["identity", null],
  ["*", null],
  ["*;q=1", null],
  ["x-gzip", null],
  ["GZIP", null],
  ["Br", null],
  ["gzip;q=0", null],
  ["br;q=0, gzip", "gzip"],
  ["gzip;q=1.0, br;q=0.9", "gzip"],
  ["gzip;q=0.5, br;q=0.5", "br"],
  ["gzip;q=0.5, br;q=0.4", "gzip"],
  ["gzip; q=0.5, br;q=0.1", "br"],
  ["br;q=2, gzip", "gzip"],
  ["br;q=abc, gzip", "gzip"],
  ["br;q=1;x=y, gzip", "gzip"],
  ["identity;q=1, gzip;q=0.9, br;q=0.9", null],
  ["identity;q=0.5, gzip;q=0.5", "gzip"],
  ["identity;q=0.5, br;q=0.5", "br"],
  ["identity;q=0, *;q=0", null],
  [" gzip ,  br ", "br"],
  ["gzip;q=.5", "gzip"],
  ["gzip;q=0.5e0", "gzip"],
  ["gzip;q=0.3, br;q=0.30000001", "br"],
  ["br;q=0.3, gzip;q=0.30000001", "br"],
  ["gzip;q=1.00000001, br;q=0.9", "gzip"],
  ["gzip, br", "br"],
  ["br;q=0.5, gzip", "gzip"],
];

Deno.test("chooseEncoding() picks br or gzip as Deno.serve does", () => {
  for (const [accept, expected] of ACCEPT_TABLE) {
    assertEquals(chooseEncoding(accept), expected, `Accept-Encoding ${accept}`);
  }
});

Deno.test("chooseEncoding() shortcuts agree with the full parse", () => {
  const common = [
    "gzip, deflate, br, zstd",
    "gzip, deflate, br",
    "br",
    "deflate, gzip, br, zstd",
    "gzip, br",
    "br, gzip",
    "gzip",
    "gzip, deflate",
  ];
  for (const value of common) {
    // A leading space misses every shortcut; tokens are trimmed anyway.
    assertEquals(chooseEncoding(value), chooseEncoding(" " + value), value);
  }
});

Deno.test("chooseEncoding() gives up on non-ASCII values", () => {
  assertEquals(chooseEncoding("gzip, \u00e9"), null);
});

Deno.test("isCompressibleType() follows Deno's mime-db list", () => {
  assertEquals(COMPRESSIBLE_TYPE_COUNT, 613);
  const table: [string | null, boolean][] = [
    [null, false],
    ["", false],
    ["text/html", true],
    ["text/html; charset=utf-8", true],
    ["TEXT/HTML; Charset=UTF-8", true],
    ["text/html ;charset=utf-8", false],
    ["text/plain;charset=UTF-8", true],
    ["text/css", true],
    ["text/javascript", true],
    ["application/json", true],
    ["application/javascript", true],
    ["application/wasm", true],
    ["application/vnd.api+json", true],
    ["application/vnd.deno+json", false],
    ["application/octet-stream", false],
    ["image/svg+xml", true],
    ["image/png", false],
    ["image/jpeg", false],
    ["text/fake", false],
    ["font/ttf", true],
    ["x-shader/x-vertex", true],
  ];
  for (const [type, expected] of table) {
    assertEquals(isCompressibleType(type), expected, `Content-Type ${type}`);
  }
});

Deno.test("hasNoTransform() reads Cache-Control as Deno does", () => {
  const table: [string | null, boolean][] = [
    [null, false],
    ["", false],
    ["no-transform", true],
    ["public, no-transform", true],
    ["public,no-transform , max-age=60", true],
    ["No-Transform", false],
    ["no-transform=1", true],
    ["max-age=x, no-transform", false],
    ["max-age, no-transform", false],
    ["max-stale=-1, no-transform", false],
    ["min-fresh=+5, no-transform", true],
    ["max-age=18446744073709551615, no-transform", true],
    ["max-age=18446744073709551616, no-transform", false],
    ["s-maxage=x, no-transform", true],
    ["no-cache", false],
  ];
  for (const [value, expected] of table) {
    assertEquals(hasNoTransform(value), expected, `Cache-Control ${value}`);
  }
});

Deno.test("compressResponse() returns the same response when nothing applies", async () => {
  const cases: [string, string | null, () => Response][] = [
    ["no Accept-Encoding", null, () => new Response(PAGE, { headers: HTML })],
    ["identity", "identity", () => new Response(PAGE, { headers: HTML })],
    [
      "image/png",
      "gzip",
      () => new Response(PAGE, { headers: { "content-type": "image/png" } }),
    ],
    [
      "no content-type",
      "gzip",
      () => new Response(new TextEncoder().encode(PAGE)),
    ],
    ["63 bytes", "gzip", () => new Response("x".repeat(MIN_COMPRESS_SIZE - 1))],
    [
      "63 bytes of Uint8Array",
      "gzip",
      () =>
        new Response(new Uint8Array(MIN_COMPRESS_SIZE - 1), {
          headers: { "content-type": "text/plain", "x-a": "1" },
        }),
    ],
    [
      "21 three-byte characters",
      "gzip",
      () => new Response("\u20ac".repeat(21), { status: 404 }),
    ],
    [
      "null body",
      "gzip",
      () => new Response(null, { status: 304, headers: HTML }),
    ],
    ["redirect", "gzip", () => Response.redirect("http://example.com/", 302)],
    ["content-encoding", "gzip", () =>
      new Response(PAGE, {
        headers: { ...HTML, "content-encoding": "identity" },
      })],
    ["content-range", "gzip", () =>
      new Response(PAGE, {
        status: 206,
        headers: { ...HTML, "content-range": "bytes 0-9/100" },
      })],
    ["no-transform", "gzip", () =>
      new Response(PAGE, {
        headers: { ...HTML, "cache-control": "no-transform" },
      })],
  ];
  for (const [name, accept, make] of cases) {
    const res = make();
    assertStrictEquals(compressResponse(accept, res), res, name);
    await res.body?.cancel();
  }
});

Deno.test("compressResponse() compresses 22 three-byte characters (66 bytes)", async () => {
  const res = compressResponse("gzip", new Response("\u20ac".repeat(22)));
  assertEquals(res.headers.get("content-encoding"), "gzip");
  assertEquals(await decode(res), "\u20ac".repeat(22));
});

Deno.test("compressResponse() adjusts the headers as Deno does", async () => {
  const original = new Response(PAGE, {
    status: 404,
    statusText: "Gone Fishing",
    headers: {
      ...HTML,
      "content-length": String(PAGE.length),
      etag: '"v1"',
      vary: "Origin",
      "set-cookie": "a=1",
      "x-other": "kept",
    },
  });
  original.headers.append("set-cookie", "b=2");
  const res = compressResponse("gzip, deflate, br", original);
  assert(res !== original);
  assertEquals(res.status, 404);
  assertEquals(res.statusText, "Gone Fishing");
  assertEquals(res.headers.get("content-encoding"), "br");
  assertEquals(res.headers.get("content-length"), null);
  assertEquals(res.headers.get("etag"), 'W/"v1"');
  assertEquals(res.headers.get("vary"), "Accept-Encoding, Origin");
  assertEquals(res.headers.getSetCookie(), ["a=1", "b=2"]);
  assertEquals(res.headers.get("x-other"), "kept");
  assertEquals(await decode(res), PAGE);

  const weak = compressResponse(
    "gzip",
    new Response(PAGE, {
      headers: { ...HTML, etag: 'W/"v1"', vary: "accept-encoding" },
    }),
  );
  assertEquals(weak.headers.get("etag"), 'W/"v1"');
  assertEquals(weak.headers.get("vary"), "accept-encoding");
  assertEquals(await decode(weak), PAGE);
});

Deno.test("compressResponse() compresses a stream of any size, chunk by chunk", async () => {
  const encoder = new TextEncoder();
  let release!: () => void;
  const gate = new Promise<void>((resolve) => release = resolve);
  const source = new ReadableStream<Uint8Array>({
    async start(controller) {
      controller.enqueue(encoder.encode("hi"));
      await gate;
      controller.enqueue(encoder.encode(" there"));
      controller.close();
    },
  });
  for (const encoding of ["gzip", "br"] as const) {
    const res = compressResponse(
      encoding,
      new Response(encoding === "gzip" ? source : streamOf("hi", " there"), {
        headers: HTML,
      }),
    );
    assertEquals(res.headers.get("content-encoding"), encoding);
    if (encoding === "gzip") {
      // The first chunk comes out before the source sends its second one:
      // the compressor flushes every chunk.
      const reader = res.body!.getReader();
      const parts: Uint8Array[] = [];
      const first = await reader.read();
      if (first.done) throw new Error("The compressed stream ended early");
      assert(first.value.length > 0);
      parts.push(first.value);
      release();
      for (;;) {
        const next = await reader.read();
        if (next.done) break;
        parts.push(next.value);
      }
      assertEquals(await decodeBytes(concat(parts), "gzip"), "hi there");
    } else {
      assertEquals(await decode(res), "hi there");
    }
  }
});

Deno.test("compressResponse() rebuilds responses with immutable headers", async () => {
  await withServers(async (raw) => {
    const upstream = await fetch(`http://127.0.0.1:${raw}/etag-strong`, {
      headers: { "accept-encoding": "identity" },
    });
    const res = compressResponse("gzip", upstream);
    assertEquals(res.headers.get("content-encoding"), "gzip");
    assertEquals(res.headers.get("etag"), 'W/"abc"');
    assert(upstream.bodyUsed || upstream.body?.locked);
    assertEquals((await decode(res)).length, HTML_LENGTH);
  });
});

Deno.test("compressResponse() recompresses a body that fetch() decoded", async () => {
  await withServers(async (raw) => {
    // The upstream answer is gzip; fetch() decodes it but keeps the header.
    const upstream = await fetch(`http://127.0.0.1:${raw}/html`, {
      headers: { "accept-encoding": "gzip" },
    });
    assertEquals(upstream.headers.get("content-encoding"), "gzip");
    const res = compressResponse("br", upstream);
    assertEquals(res.headers.get("content-encoding"), "br");
    assertEquals((await decode(res)).length, HTML_LENGTH);
  });
});

/** The length of the probe's `/html` body. */
const HTML_LENGTH = CASES.find((c) => c.path === "/html")!.body.length;

/** The parity rows: what must be equal between the two servers. */
function summary(seen: Seen): Record<string, unknown> {
  return {
    status: seen.status,
    "content-encoding": header(seen, "content-encoding"),
    vary: header(seen, "vary"),
    etag: header(seen, "etag"),
    "has content-length": header(seen, "content-length") !== null,
    "transfer-encoding": header(seen, "transfer-encoding"),
    "content-type": header(seen, "content-type"),
    body: seen.text,
    error: seen.error,
  };
}

const PARITY_ACCEPT: (string | null | string[])[] = [
  null,
  "gzip",
  "br",
  "gzip, deflate, br, zstd",
  "identity",
  "gzip;q=0.5, br;q=0.4",
  ["br;q=0.5", "gzip"],
];

Deno.test("compressResponse() on Deno.serve answers as automaticCompression: true does", async () => {
  await withServers(async (raw, reaper) => {
    let compared = 0;
    let compressed = 0;
    for (const c of CASES) {
      const method = c.method ?? "GET";
      for (const accept of PARITY_ACCEPT) {
        const [a, b] = await Promise.all([
          rawRequest(raw, method, c.path, accept),
          rawRequest(reaper, method, c.path, accept),
        ]);
        const label = `${method} ${c.path} with Accept-Encoding ${accept}`;
        assertEquals(summary(b), summary(a), label);
        if (method === "GET" && a.error === undefined) {
          assertEquals(a.text, c.body, label);
        }
        if (header(a, "content-encoding") === "br") compressed++;
        compared++;
      }
    }
    assertEquals(compared, CASES.length * PARITY_ACCEPT.length);
    assert(compressed > 0);
  });
});

/**
 * Runs `fn` with two servers on port 0 that serve the probe's cases: raw
 * `Deno.serve({ automaticCompression: true })`, and `Deno.serve` with it off
 * whose handler calls `compressResponse()`. Both are shut down after.
 */
async function withServers(
  fn: (raw: number, reaper: number) => Promise<void>,
): Promise<void> {
  const byKey = new Map(CASES.map((c) => [(c.method ?? "GET") + c.path, c]));
  const origins = { raw: "", reaper: "" };
  const start = (mode: "raw" | "reaper") =>
    Deno.serve({
      port: 0,
      hostname: "127.0.0.1",
      onListen() {},
      automaticCompression: mode === "raw",
    }, async (req) => {
      const path = new URL(req.url).pathname;
      const c = byKey.get(req.method + path) ?? byKey.get("GET" + path);
      if (c === undefined) return new Response("not found", { status: 404 });
      // Both servers proxy from the raw one, so that the upstream is the
      // same.
      const res = await c.make(origins.raw);
      return mode === "raw"
        ? res
        : compressResponse(req.headers.get("accept-encoding"), res);
    });
  const raw = start("raw");
  const reaper = start("reaper");
  origins.raw = `http://127.0.0.1:${raw.addr.port}`;
  origins.reaper = `http://127.0.0.1:${reaper.addr.port}`;
  try {
    await fn(raw.addr.port, reaper.addr.port);
  } finally {
    await Promise.all([raw.shutdown(), reaper.shutdown()]);
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

async function decodeBytes(
  bytes: Uint8Array,
  encoding: string,
): Promise<string> {
  const format = (encoding === "br" ? "brotli" : encoding) as CompressionFormat;
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new DecompressionStream(format));
  return await new Response(stream).text();
}

async function decode(res: Response): Promise<string> {
  const encoding = res.headers.get("content-encoding");
  const bytes = await res.bytes();
  if (encoding === null) return new TextDecoder().decode(bytes);
  return await decodeBytes(bytes, encoding);
}
