#!/usr/bin/env -S deno run --allow-net
// Copyright 2026 the Reaper authors. MIT license.
/**
 * Probes what raw `Deno.serve({ automaticCompression })` does to response
 * bodies, and prints it as Markdown tables: one row per `Accept-Encoding`
 * value (same response), one row per response (same `Accept-Encoding`), with
 * `automaticCompression: true` and `false`.
 *
 * Requests go over raw HTTP/1.1 on TCP (no `fetch`: it adds its own
 * `Accept-Encoding` and decodes bodies), one connection each, with
 * `Connection: close`. Bodies are de-chunked and decoded here, then compared
 * with the body the handler sent.
 *
 * With `--reaper` the same tables are printed for a plain `Deno.serve`
 * (`automaticCompression: false`) whose handler passes its response through
 * `compressResponse()` of `_compression.ts`, so the two can be diffed.
 *
 * ```sh
 * deno run --allow-net bench/compression_probe.ts [--reaper]
 * ```
 *
 * @module
 */

import { compressResponse } from "../_compression.ts";

/** The text bodies the cases send. */
const HTML = "<!doctype html><p>" + "hello compression ".repeat(120) + "</p>";
const BYTES_63 = "x".repeat(63);
const BYTES_64 = "x".repeat(64);

/** One response the probe server sends, by path. */
interface Case {
  readonly path: string;
  readonly note: string;
  readonly method?: string;
  /** The body the client should see after decoding. */
  readonly body: string;
  readonly make: (origin: string) => Response | Promise<Response>;
}

/** A body stream that yields `parts`, one pull each. */
export function streamOf(...parts: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let i = 0;
  return new ReadableStream({
    pull(controller) {
      if (i < parts.length) controller.enqueue(encoder.encode(parts[i++]));
      else controller.close();
    },
  });
}

const html = { "content-type": "text/html; charset=utf-8" };

/** The response table. */
export const CASES: readonly Case[] = [
  {
    path: "/html",
    note: "text/html string, 2 KiB",
    body: HTML,
    make: () => new Response(HTML, { headers: html }),
  },
  {
    path: "/default-text",
    note: "string, default text/plain",
    body: HTML,
    make: () => new Response(HTML),
  },
  {
    path: "/json",
    note: "Response.json, 2 KiB",
    body: JSON.stringify({ text: HTML }),
    make: () => Response.json({ text: HTML }),
  },
  {
    path: "/png",
    note: "image/png bytes",
    body: HTML,
    make: () =>
      new Response(new TextEncoder().encode(HTML), {
        headers: { "content-type": "image/png" },
      }),
  },
  {
    path: "/svg",
    note: "image/svg+xml",
    body: HTML,
    make: () =>
      new Response(HTML, { headers: { "content-type": "image/svg+xml" } }),
  },
  {
    path: "/vnd-api-json",
    note: "application/vnd.api+json (listed)",
    body: HTML,
    make: () =>
      new Response(HTML, {
        headers: { "content-type": "application/vnd.api+json" },
      }),
  },
  {
    path: "/vnd-deno-json",
    note: "application/vnd.deno+json (not listed)",
    body: HTML,
    make: () =>
      new Response(HTML, {
        headers: { "content-type": "application/vnd.deno+json" },
      }),
  },
  {
    path: "/upper",
    note: "TEXT/HTML; Charset=UTF-8",
    body: HTML,
    make: () =>
      new Response(HTML, {
        headers: { "content-type": "TEXT/HTML; Charset=UTF-8" },
      }),
  },
  {
    path: "/space-semi",
    note: "text/html ;charset=utf-8",
    body: HTML,
    make: () =>
      new Response(HTML, {
        headers: { "content-type": "text/html ;charset=utf-8" },
      }),
  },
  {
    path: "/no-type",
    note: "bytes, no content-type",
    body: HTML,
    make: () => new Response(new TextEncoder().encode(HTML)),
  },
  {
    path: "/small",
    note: "text/plain, 10 bytes",
    body: "0123456789",
    make: () => new Response("0123456789"),
  },
  {
    path: "/b63",
    note: "text/plain, 63 bytes",
    body: BYTES_63,
    make: () => new Response(BYTES_63),
  },
  {
    path: "/b64",
    note: "text/plain, 64 bytes",
    body: BYTES_64,
    make: () => new Response(BYTES_64),
  },
  {
    path: "/b63-bytes-init",
    note: "Uint8Array 63 bytes + headers",
    body: BYTES_63,
    make: () =>
      new Response(new TextEncoder().encode(BYTES_63), {
        status: 200,
        headers: { "content-type": "text/plain", "x-a": "1" },
      }),
  },
  {
    path: "/stream",
    note: "ReadableStream, text/html, 3 chunks",
    body: HTML + HTML + HTML,
    make: () => new Response(streamOf(HTML, HTML, HTML), { headers: html }),
  },
  {
    path: "/small-stream",
    note: "ReadableStream, text/html, 5 bytes",
    body: "hello",
    make: () => new Response(streamOf("hello"), { headers: html }),
  },
  {
    path: "/small-blob",
    note: "Blob text/html, 5 bytes",
    body: "hello",
    make: () => new Response(new Blob(["hello"], { type: "text/html" })),
  },
  {
    path: "/touched-body",
    note: "string 10 bytes, .body read first",
    body: "0123456789",
    make: () => {
      const r = new Response("0123456789");
      void r.body;
      return r;
    },
  },
  {
    path: "/encoded",
    note: "content-encoding: identity",
    body: HTML,
    make: () =>
      new Response(HTML, {
        headers: { ...html, "content-encoding": "identity" },
      }),
  },
  {
    path: "/no-transform",
    note: "cache-control: no-transform",
    body: HTML,
    make: () =>
      new Response(HTML, {
        headers: { ...html, "cache-control": "public, no-transform" },
      }),
  },
  {
    path: "/no-transform-bad-max-age",
    note: "cache-control: max-age=x, no-transform",
    body: HTML,
    make: () =>
      new Response(HTML, {
        headers: { ...html, "cache-control": "max-age=x, no-transform" },
      }),
  },
  {
    path: "/no-transform-upper",
    note: "cache-control: No-Transform",
    body: HTML,
    make: () =>
      new Response(HTML, {
        headers: { ...html, "cache-control": "No-Transform" },
      }),
  },
  {
    path: "/etag-strong",
    note: 'etag: "abc"',
    body: HTML,
    make: () => new Response(HTML, { headers: { ...html, etag: '"abc"' } }),
  },
  {
    path: "/etag-weak",
    note: 'etag: W/"abc"',
    body: HTML,
    make: () => new Response(HTML, { headers: { ...html, etag: 'W/"abc"' } }),
  },
  {
    path: "/vary-origin",
    note: "vary: Origin",
    body: HTML,
    make: () => new Response(HTML, { headers: { ...html, vary: "Origin" } }),
  },
  {
    path: "/vary-ae",
    note: "vary: origin, accept-encoding",
    body: HTML,
    make: () =>
      new Response(HTML, {
        headers: { ...html, vary: "origin, accept-encoding" },
      }),
  },
  {
    path: "/content-length",
    note: "content-length set by handler",
    body: HTML,
    make: () =>
      new Response(HTML, {
        headers: { ...html, "content-length": String(HTML.length) },
      }),
  },
  {
    path: "/range",
    note: "206 + content-range",
    body: HTML.slice(0, 100),
    make: () =>
      new Response(HTML.slice(0, 100), {
        status: 206,
        headers: { ...html, "content-range": `bytes 0-99/${HTML.length}` },
      }),
  },
  {
    path: "/206-no-range",
    note: "206 without content-range",
    body: HTML,
    make: () => new Response(HTML, { status: 206, headers: html }),
  },
  {
    path: "/404",
    note: "404 text/html",
    body: HTML,
    make: () => new Response(HTML, { status: 404, headers: html }),
  },
  {
    path: "/304",
    note: "304, null body",
    body: "",
    make: () =>
      new Response(null, { status: 304, headers: { ...html, etag: '"a"' } }),
  },
  {
    path: "/204",
    note: "204, null body",
    body: "",
    make: () => new Response(null, { status: 204, headers: html }),
  },
  {
    path: "/empty",
    note: 'text/html, "" body',
    body: "",
    make: () => new Response("", { headers: html }),
  },
  {
    path: "/redirect",
    note: "Response.redirect (immutable)",
    body: "",
    make: () => Response.redirect("http://example.com/", 302),
  },
  {
    path: "/html",
    method: "HEAD",
    note: "HEAD of /html",
    body: "",
    make: () => new Response(HTML, { headers: html }),
  },
  {
    path: "/head-stream",
    method: "HEAD",
    note: "HEAD, ReadableStream",
    body: "",
    make: () => new Response(streamOf(HTML), { headers: html }),
  },
  {
    path: "/proxy",
    note: "fetch() of a gzip response, returned as is",
    body: HTML,
    make: (origin) =>
      fetch(origin + "/html", { headers: { "accept-encoding": "gzip" } }),
  },
];

/** `Accept-Encoding` values; `null` sends none, an array sends several lines. */
export const ACCEPT: readonly (string | null | readonly string[])[] = [
  null,
  "",
  "gzip",
  "br",
  "gzip, deflate, br",
  "gzip, deflate, br, zstd",
  "zstd, gzip, deflate, br",
  "deflate",
  "zstd",
  "identity",
  "*",
  "*;q=1",
  "x-gzip",
  "GZIP",
  "Br",
  "gzip;q=0",
  "br;q=0, gzip",
  "gzip;q=1.0, br;q=0.9",
  "gzip;q=0.5, br;q=0.5",
  "gzip;q=0.5, br;q=0.4",
  "gzip; q=0.5, br;q=0.1",
  "br;q=2, gzip",
  "br;q=abc, gzip",
  "br;q=1;x=y, gzip",
  "identity;q=1, gzip;q=0.9, br;q=0.9",
  "identity;q=0.5, gzip;q=0.5",
  "identity;q=0.5, br;q=0.5",
  "identity;q=0, *;q=0",
  " gzip ,  br ",
  "gzip;q=.5",
  "gzip;q=0.5e0",
  "gzip;q=0.3, br;q=0.30000001",
  "br;q=0.3, gzip;q=0.30000001",
  "gzip;q=1.00000001, br;q=0.9",
  ["gzip", "br"],
  ["br;q=0.5", "gzip"],
];

/** What the raw client saw. */
export interface Seen {
  status: number;
  headers: [string, string][];
  /** The body after de-chunking and decoding. */
  text: string;
  /** Bytes on the wire (after de-chunking). */
  wire: number;
  error?: string;
}

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function indexOfCrlf(b: Uint8Array, from: number): number {
  for (let i = from; i + 1 < b.length; i++) {
    if (b[i] === 13 && b[i + 1] === 10) return i;
  }
  return -1;
}

function dechunk(b: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  let i = 0;
  for (;;) {
    const e = indexOfCrlf(b, i);
    if (e < 0) throw new Error("bad chunk line");
    const size = parseInt(new TextDecoder().decode(b.subarray(i, e)), 16);
    i = e + 2;
    if (size === 0) return concat(parts);
    parts.push(b.subarray(i, i + size));
    i += size + 2;
  }
}

async function decode(body: Uint8Array, encoding: string): Promise<string> {
  if (encoding === "" || encoding === "identity") {
    return new TextDecoder().decode(body);
  }
  const format = encoding === "br" ? "brotli" : encoding;
  const stream = new Blob([body as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new DecompressionStream(format as CompressionFormat));
  return await new Response(stream).text();
}

/**
 * Sends one request over a new TCP connection and reads the whole answer.
 *
 * @param port The server's port on 127.0.0.1.
 * @param method The request method.
 * @param path The request target.
 * @param accept The `Accept-Encoding` line(s), or `null` for none.
 * @returns What came back.
 */
export async function rawRequest(
  port: number,
  method: string,
  path: string,
  accept: string | null | readonly string[],
): Promise<Seen> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  let head = `${method} ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\n` +
    "connection: close\r\n";
  const lines = accept === null
    ? []
    : typeof accept === "string"
    ? [accept]
    : accept;
  for (const line of lines) head += `accept-encoding: ${line}\r\n`;
  await conn.write(new TextEncoder().encode(head + "\r\n"));
  const parts: Uint8Array[] = [];
  for await (const chunk of conn.readable) parts.push(chunk);
  const all = concat(parts);
  const end = all.findIndex((_, i) =>
    all[i] === 13 && all[i + 1] === 10 && all[i + 2] === 13 &&
    all[i + 3] === 10
  );
  const headText = new TextDecoder().decode(all.subarray(0, end));
  const [statusLine, ...fieldLines] = headText.split("\r\n");
  const headers = fieldLines.map((l): [string, string] => {
    const c = l.indexOf(":");
    return [l.slice(0, c).toLowerCase(), l.slice(c + 1).trim()];
  });
  const get = (n: string) =>
    headers.filter(([k]) => k === n).map(([, v]) => v).join(", ");
  let body = all.subarray(end + 4);
  if (method !== "HEAD" && get("transfer-encoding") === "chunked") {
    body = dechunk(body);
  }
  const seen: Seen = {
    status: Number(statusLine.split(" ")[1]),
    headers,
    text: "",
    wire: body.length,
  };
  try {
    seen.text = await decode(body, get("content-encoding"));
  } catch (error) {
    seen.error = String(error);
  }
  return seen;
}

/** The value of a header in `seen`, several lines joined by `, `. */
export function header(seen: Seen, name: string): string | null {
  const values = seen.headers.filter(([k]) => k === name).map(([, v]) => v);
  return values.length === 0 ? null : values.join(", ");
}

/** A running probe server. */
interface ProbeServer {
  readonly port: number;
  close(): Promise<void>;
}

function startServer(
  mode: "raw-on" | "raw-off" | "reaper",
): ProbeServer {
  const byKey = new Map(CASES.map((c) => [(c.method ?? "GET") + c.path, c]));
  let origin = "";
  const server = Deno.serve({
    port: 0,
    hostname: "127.0.0.1",
    onListen() {},
    automaticCompression: mode === "raw-on",
  }, async (req) => {
    const url = new URL(req.url);
    const c = byKey.get(req.method + url.pathname) ??
      byKey.get("GET" + url.pathname);
    if (c === undefined) return new Response("not found", { status: 404 });
    const res = await c.make(origin);
    return mode === "reaper"
      ? compressResponse(req.headers.get("accept-encoding"), res)
      : res;
  });
  origin = `http://127.0.0.1:${server.addr.port}`;
  return {
    port: server.addr.port,
    close: () => server.shutdown(),
  };
}

function cell(value: string | null): string {
  return value === null ? "—" : value.replaceAll("|", "\\|");
}

function describeAccept(accept: string | null | readonly string[]): string {
  if (accept === null) return "(absent)";
  if (typeof accept === "string") return accept === "" ? '""' : `\`${accept}\``;
  return accept.map((a) => `\`${a}\``).join(" + ");
}

/**
 * Runs the probe and prints the tables.
 *
 * @param reaper Whether to probe `compressResponse()` instead of raw
 * `automaticCompression: true`.
 */
async function main(reaper: boolean): Promise<void> {
  const on = startServer(reaper ? "reaper" : "raw-on");
  const off = startServer("raw-off");
  try {
    console.log(
      `Deno ${Deno.version.deno}; ${
        reaper ? "compressResponse() on Deno.serve" : "raw Deno.serve"
      }\n`,
    );
    console.log("| Accept-Encoding | content-encoding | decoded ok |");
    console.log("|---|---|---|");
    for (const accept of ACCEPT) {
      const seen = await rawRequest(on.port, "GET", "/html", accept);
      console.log(
        `| ${describeAccept(accept)} | ${
          cell(header(seen, "content-encoding"))
        } | ${seen.text === HTML ? "yes" : "NO " + (seen.error ?? "")} |`,
      );
    }
    const ae = "gzip, deflate, br";
    console.log(`\nAccept-Encoding: \`${ae}\`\n`);
    console.log(
      "| case | status | content-encoding | vary | etag | content-length | " +
        "transfer-encoding | body ok | off: content-encoding |",
    );
    console.log("|---|---|---|---|---|---|---|---|---|");
    for (const c of CASES) {
      const method = c.method ?? "GET";
      const seen = await rawRequest(on.port, method, c.path, ae);
      const plain = await rawRequest(off.port, method, c.path, ae);
      console.log(
        `| ${method === "GET" ? "" : method + " "}${c.path} (${c.note}) | ${
          [
            String(seen.status),
            header(seen, "content-encoding"),
            header(seen, "vary"),
            header(seen, "etag"),
            header(seen, "content-length"),
            header(seen, "transfer-encoding"),
            seen.text === c.body ? "yes" : "NO " + (seen.error ?? ""),
            header(plain, "content-encoding"),
          ].map(cell).join(" | ")
        } |`,
      );
    }
  } finally {
    await on.close();
    await off.close();
  }
}

if (import.meta.main) await main(Deno.args.includes("--reaper"));
