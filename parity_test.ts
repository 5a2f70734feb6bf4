// Copyright 2026 the Reaper authors. MIT license.
// Parity with raw Deno.serve: the same handler cases on raw `Deno.serve` and
// on Reaper's engines, and the answers compared. Raw `Deno.serve` is the
// reference for every handler-visible behaviour.
import { assert, assertEquals } from "@std/assert";
import { hasCommand, settlesWithin } from "./testdata/tools.ts";
import { selfSigned } from "./testdata/tls.ts";
import { readResponse } from "./testdata/http_client.ts";
import { serve } from "./mod.ts";
import {
  CASES,
  header,
  rawRequest,
  type Seen,
} from "./bench/compression_probe.ts";
import { LOOPBACK } from "./testdata/serve.ts";

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
/**
 * The same handler on raw Deno.serve and on Reaper's `engine`, both on
 * 127.0.0.1 and any free port, with `automaticCompression` as given.
 */
function servePair(
  engine: "native" | "portable",
  handler: (req: Request) => Response | Promise<Response>,
  automaticCompression?: boolean,
) {
  const raw = Deno.serve({
    port: 0,
    hostname: "127.0.0.1",
    onListen() {},
    automaticCompression,
  }, handler);
  const reaper = serve(
    { ...LOOPBACK, engine, automaticCompression },
    handler,
  );
  return { raw, reaper };
}

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
  const { raw, reaper } = servePair(engine, handler, compression);
  origin = `http://127.0.0.1:${raw.addr.port}`;
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

// ---------------------------------------------------------------- HTTP/1.0

/** Sends `request` on a new connection and reads the answer until EOF. */
async function exchange(port: number, request: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode(request));
    return await readResponse(conn);
  } finally {
    conn.close();
  }
}

for (const engine of ENGINES) {
  Deno.test(`parity (${engine}): an HTTP/1.0 request gets an HTTP/1.0 status line and its body, as from raw Deno.serve`, async () => {
    const { raw, reaper } = servePair(engine, () => new Response("hello"));
    try {
      for (
        const request of [
          "GET / HTTP/1.0\r\n\r\n",
          "GET / HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n",
          "HEAD / HTTP/1.0\r\n\r\n",
        ]
      ) {
        const [a, b] = await Promise.all([
          exchange(raw.addr.port, request),
          exchange(reaper.addr.port, request),
        ]);
        const line = (text: string) => text.slice(0, text.indexOf("\r\n"));
        const body = (text: string) => text.slice(text.indexOf("\r\n\r\n"));
        assertEquals(line(b), line(a), request);
        assertEquals(line(a), "HTTP/1.0 200 OK");
        assertEquals(body(b), body(a), request);
      }
    } finally {
      await Promise.all([raw.shutdown(), reaper.shutdown()]);
    }
  });
}

// ------------------------------------------------------------------ HTTP/2

/** A handler that sleeps `?ms=N` milliseconds, then answers. */
async function sleepy(req: Request): Promise<Response> {
  const ms = Number(new URL(req.url).searchParams.get("ms") ?? "0");
  await new Promise((resolve) => setTimeout(resolve, ms));
  return new Response(`slept ${ms}\n`);
}

/** Runs a client program; its standard output. */
async function run(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped" }).output();
  return new TextDecoder().decode(out.stdout);
}

/** What `nghttp` printed of the responses: status lines and bodies. */
function nghttpAnswers(output: string): string[] {
  return output.split("\n").filter((line) => /^slept \d+$/.test(line)).sort();
}

const NGHTTP = !hasCommand("nghttp");
const CURL_TLS = !hasCommand("curl") || !hasCommand("openssl");

Deno.test({
  name:
    "parity (native): two multiplexed h2c streams outlive a shorter idleTimeout, as on raw Deno.serve",
  ignore: NGHTTP,
  async fn() {
    const raw = Deno.serve(
      { port: 0, hostname: "127.0.0.1", onListen() {} },
      sleepy,
    );
    let peak = 0;
    const reaper = serve({
      ...LOOPBACK,
      engine: "native",
      idleTimeout: 300,
      tickInterval: 25,
    }, (req) => {
      peak = Math.max(peak, reaper.connections()[0]?.streams ?? 0);
      return sleepy(req);
    });
    try {
      const urls = (port: number) => [
        `http://127.0.0.1:${port}/?ms=100`,
        `http://127.0.0.1:${port}/?ms=900`,
      ];
      const [a, b] = await Promise.all([
        run("nghttp", urls(raw.addr.port)),
        run("nghttp", urls(reaper.addr.port)),
      ]);
      assertEquals(nghttpAnswers(a), ["slept 100", "slept 900"]);
      assertEquals(nghttpAnswers(b), nghttpAnswers(a));
      assertEquals(peak, 2, "both streams were open on one connection at once");
      assertEquals(reaper.stats().closed.idle, 0);
    } finally {
      await Promise.all([raw.shutdown(), reaper.shutdown()]);
    }
  },
});

Deno.test({
  name:
    "parity (native): h2 over TLS is negotiated by ALPN, as on raw Deno.serve",
  ignore: CURL_TLS,
  async fn() {
    const { cert, key } = await selfSigned();
    const options = {
      port: 0,
      hostname: "127.0.0.1",
      cert,
      key,
      onListen() {},
    };
    const raw = Deno.serve(options, sleepy);
    const reaper = serve(
      { ...options, engine: "native", signals: false },
      sleepy,
    );
    const portable = serve(
      { ...options, engine: "portable", signals: false },
      sleepy,
    );
    try {
      const version = (port: number) =>
        run("curl", [
          "-sSk",
          "--http2",
          "-o",
          "/dev/null",
          "-w",
          "%{http_version}",
          `https://127.0.0.1:${port}/`,
        ]);
      assertEquals(await version(raw.addr.port), "2");
      assertEquals(await version(reaper.addr.port), "2");
      // The portable engine speaks HTTP/1.1 only, and offers only that.
      assertEquals(await version(portable.addr.port), "1.1");
    } finally {
      await Promise.all([
        raw.shutdown(),
        reaper.shutdown(),
        portable.shutdown(),
      ]);
    }
  },
});

Deno.test({
  name: "parity (native): a graceful shutdown lets an open h2 stream finish",
  ignore: NGHTTP,
  async fn() {
    const entered = Promise.withResolvers<void>();
    const reaper = serve({
      ...LOOPBACK,
      engine: "native",
    }, async (req) => {
      entered.resolve();
      return await sleepy(req);
    });
    const client = run("nghttp", [
      "-v",
      `http://127.0.0.1:${reaper.addr.port}/?ms=400`,
    ]);
    await entered.promise;
    const stopped = reaper.shutdown();
    const output = await client;
    await stopped;
    assertEquals(nghttpAnswers(output), ["slept 400"]);
    assert(/recv GOAWAY/.test(output), "the server said GOAWAY");
    assertEquals(
      reaper.stats().closed.shutdown + reaper.stats().closed.done +
        reaper.stats().closed.client,
      1,
    );
  },
});

// ----------------------------------------------------------------- signals

/** Starts a server program; resolves once it printed its port. */
async function startChild(file: string, args: string[] = []) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      new URL(file, import.meta.url).pathname,
      ...args,
    ],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!/port \d+/.test(text)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the child ended before listening: ${text}`);
    text += value;
  }
  const port = Number(/port (\d+)/.exec(text)![1]);
  return { child, port, output: reader };
}

Deno.test("parity: SIGTERM ends a program that also keeps an interval running, as without Reaper", async () => {
  const raw = await startChild("./testdata/raw_interval_server.ts");
  const reaper = await startChild("./testdata/signal_server.ts", ["interval"]);
  for (const { port } of [raw, reaper]) {
    const res = await fetch(`http://127.0.0.1:${port}/`);
    assertEquals(await res.text(), "done");
  }
  raw.child.kill("SIGTERM");
  reaper.child.kill("SIGTERM");
  const a = await raw.child.status;
  // Reaper's program says when its server has stopped; the process must
  // then end on its own (it would stay up forever otherwise: the timer only
  // tells that apart).
  let said = "";
  while (!said.includes("finished")) {
    const { value, done } = await reaper.output.read();
    if (done) break;
    said += value;
  }
  const ended = await settlesWithin(reaper.child.status, 10_000);
  if (!ended) reaper.child.kill("SIGKILL");
  const b = await reaper.child.status;
  await Promise.all([raw.output.cancel(), reaper.output.cancel()]);
  assert(ended, "the process stayed up after its server stopped");
  // Without Reaper the signal ends the process at once; with it, after the
  // drain, with exit code 0.
  assertEquals(a.signal, "SIGTERM");
  assertEquals(b.signal, null);
  assertEquals(b.code, 0);
});
