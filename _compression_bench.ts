// Copyright 2026 the Reaper authors. MIT license.
/**
 * Costs of `_compression.ts`: the path that compresses nothing (per call, on
 * a fresh response, against making the response alone), and compression
 * throughput for a 64 KiB text body (compress and read the whole body),
 * with the codecs Deno offers.
 *
 * ```sh
 * deno bench _compression_bench.ts
 * deno run _compression_bench.ts --sizes   # compressed sizes
 * ```
 *
 * @module
 */

import { Duplex } from "node:stream";
import { constants, createBrotliCompress, createGzip } from "node:zlib";
import { chooseEncoding, compressResponse } from "./_compression.ts";

const PNG = { "content-type": "image/png" };
const HTML = { "content-type": "text/html; charset=utf-8" };
const PAGE = "<p>hello</p>";
const BROWSER = "gzip, deflate, br, zstd";

Deno.bench({
  name: "new Response (no compressResponse)",
  group: "no compression",
  baseline: true,
  fn() {
    new Response(PAGE, { headers: PNG });
  },
});

Deno.bench({
  name: "compressResponse: no Accept-Encoding",
  group: "no compression",
  fn() {
    compressResponse(null, new Response(PAGE, { headers: PNG }));
  },
});

Deno.bench({
  name: "new Response text/html (no compressResponse)",
  group: "no compression, text/html",
  baseline: true,
  fn() {
    new Response(PAGE, { headers: HTML });
  },
});

Deno.bench({
  name: "compressResponse: body under 64 bytes",
  group: "no compression, text/html",
  fn() {
    compressResponse(BROWSER, new Response(PAGE, { headers: HTML }));
  },
});

const BIG = PAGE.repeat(200);
Deno.bench({
  name: "compressResponse: image/png (headers read)",
  group: "no compression",
  fn() {
    compressResponse(BROWSER, new Response(BIG, { headers: PNG }));
  },
});

Deno.bench({
  name: "chooseEncoding: full parse",
  group: "accept-encoding",
  baseline: true,
  fn() {
    chooseEncoding("br;q=0.9, gzip;q=1.0, identity;q=0.5, *;q=0");
  },
});

Deno.bench({
  name: "chooseEncoding: browser shortcut",
  group: "accept-encoding",
  fn() {
    chooseEncoding(BROWSER);
  },
});

// 64 KiB of text that compresses about as well as real HTML.
const words = "the quick brown fox jumps over a lazy dog while html tags "
  .split(" ");
let text = "";
for (let i = 0; text.length < 65536; i++) {
  text += `<li class="w${i % 17}">${words[(i * 7) % words.length]} ${i}</li>`;
}
const TEXT = new TextEncoder().encode(text.slice(0, 65536));
const KIB64 = TEXT.length;

async function drain(body: ReadableStream<Uint8Array>): Promise<number> {
  let n = 0;
  for await (const chunk of body) n += chunk.length;
  return n;
}

Deno.bench({
  name: "compressResponse gzip (CompressionStream), 64 KiB",
  group: "64 KiB text",
  baseline: true,
  n: 2000,
  async fn() {
    const res = compressResponse(
      "gzip",
      new Response(TEXT, { headers: HTML }),
    );
    await drain(res.body!);
  },
});

Deno.bench({
  name: "compressResponse br (CompressionStream brotli), 64 KiB",
  group: "64 KiB text",
  n: 2000,
  async fn() {
    const res = compressResponse("br", new Response(TEXT, { headers: HTML }));
    await drain(res.body!);
  },
});

function nodeGzip(): TransformStream<Uint8Array, Uint8Array> {
  return Duplex.toWeb(
    createGzip({ level: 1, flush: constants.Z_SYNC_FLUSH }),
  ) as unknown as TransformStream<Uint8Array, Uint8Array>;
}

function nodeBrotli(): TransformStream<Uint8Array, Uint8Array> {
  return Duplex.toWeb(
    createBrotliCompress({
      flush: constants.BROTLI_OPERATION_FLUSH,
      params: {
        [constants.BROTLI_PARAM_QUALITY]: 6,
        [constants.BROTLI_PARAM_LGWIN]: 22,
      },
    }),
  ) as unknown as TransformStream<Uint8Array, Uint8Array>;
}

Deno.bench({
  name: "node:zlib createGzip level 1 (Deno.serve's level), 64 KiB",
  group: "64 KiB text",
  n: 2000,
  async fn() {
    await drain(new Response(TEXT).body!.pipeThrough(nodeGzip()));
  },
});

Deno.bench({
  name: "node:zlib createBrotliCompress q6, 64 KiB",
  group: "64 KiB text",
  n: 1000,
  async fn() {
    await drain(new Response(TEXT).body!.pipeThrough(nodeBrotli()));
  },
});

/** Compressed sizes, printed once so the ratios sit beside the timings. */
async function sizes(): Promise<void> {
  for (const encoding of ["gzip", "br"] as const) {
    const res = compressResponse(
      encoding,
      new Response(TEXT, { headers: HTML }),
    );
    console.log(`${encoding}: ${KIB64} -> ${await drain(res.body!)} bytes`);
  }
  const level1 = await drain(new Response(TEXT).body!.pipeThrough(nodeGzip()));
  console.log(`gzip level 1: ${KIB64} -> ${level1} bytes`);
}
if (Deno.args.includes("--sizes")) await sizes();
