// Copyright 2026 the Reaper authors. MIT license.
// Parity with raw Deno.serve: the same handler cases on raw `Deno.serve` and
// on Reaper's engines, and the answers compared. Raw `Deno.serve` is the
// reference for every handler-visible behaviour.
import { assertEquals } from "@std/assert";
import { serve } from "./mod.ts";
import {
  CASES,
  header,
  rawRequest,
  type Seen,
} from "./bench/compression_probe.ts";

const ENGINES = ["native", "portable"] as const;

/**
 * What must be equal between raw Deno.serve and Reaper for compression. The
 * framing of a body that is not compressed (`Content-Length` or chunked)
 * is the engine's choice and may differ; a compressed body never has a
 * `Content-Length`.
 */
function compressionSummary(seen: Seen): Record<string, unknown> {
  const encoding = header(seen, "content-encoding");
  return {
    status: seen.status,
    "content-encoding": encoding,
    vary: header(seen, "vary"),
    etag: header(seen, "etag"),
    ...(encoding === null
      ? {}
      : { "has content-length": header(seen, "content-length") !== null }),
    "content-type": header(seen, "content-type"),
    body: seen.text,
    error: seen.error,
  };
}

const ACCEPT: (string | null | string[])[] = [
  null,
  "gzip",
  "br",
  "gzip, deflate, br, zstd",
  "identity",
  "gzip;q=0.5, br;q=0.4",
  ["br;q=0.5", "gzip"],
];

/** Serves the compression probe's cases on raw Deno.serve and on Reaper. */
async function withCompressionServers(
  engine: "native" | "portable",
  compression: boolean,
  fn: (raw: number, reaper: number) => Promise<void>,
): Promise<void> {
  const byKey = new Map(CASES.map((c) => [(c.method ?? "GET") + c.path, c]));
  let origin = "";
  const handler = async (req: Request) => {
    const path = new URL(req.url).pathname;
    const c = byKey.get(req.method + path) ?? byKey.get("GET" + path);
    if (c === undefined) return new Response("not found", { status: 404 });
    // Both servers proxy from the raw one, so that the upstream is the same.
    return await c.make(origin);
  };
  const raw = Deno.serve({
    port: 0,
    hostname: "127.0.0.1",
    onListen() {},
    automaticCompression: compression,
  }, handler);
  origin = `http://127.0.0.1:${raw.addr.port}`;
  const reaper = serve({
    port: 0,
    hostname: "127.0.0.1",
    engine,
    signals: false,
    onListen() {},
    automaticCompression: compression,
  }, handler);
  try {
    await fn(raw.addr.port, reaper.addr.port);
  } finally {
    await Promise.all([raw.shutdown(), reaper.shutdown()]);
  }
}

for (const engine of ENGINES) {
  for (const compression of [true, false]) {
    Deno.test(`parity (${engine}): automaticCompression ${compression} answers as raw Deno.serve does`, async () => {
      await withCompressionServers(engine, compression, async (raw, ours) => {
        for (const c of CASES) {
          const method = c.method ?? "GET";
          for (const accept of ACCEPT) {
            const [a, b] = await Promise.all([
              rawRequest(raw, method, c.path, accept),
              rawRequest(ours, method, c.path, accept),
            ]);
            const label = `${method} ${c.path} with Accept-Encoding ${accept}`;
            assertEquals(compressionSummary(b), compressionSummary(a), label);
          }
        }
        // The cases do exercise compression when it is on, and only then.
        const page = await rawRequest(ours, "GET", "/html", "br");
        assertEquals(
          header(page, "content-encoding"),
          compression ? "br" : null,
        );
      });
    });
  }
}
