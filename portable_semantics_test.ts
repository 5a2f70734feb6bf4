// Copyright 2026 the Reaper authors. MIT license.
// The portable engine behind a whole server, over real sockets: half-closed
// clients, cut downloads, a response stream that pauses, a client that stops
// reading, and the Content-Length of streamed bodies. The timeout tests run
// the server on a fake clock, so no test waits on real time.
import { assert, assertEquals } from "@std/assert";
import {
  createFakeClock,
  type FakeClock,
  fakeTimers,
} from "./testdata/fake_clock.ts";
import {
  createServer,
  serve,
  type Server,
  type ServerEnvironment,
} from "./server.ts";
import type { ServeOptions } from "./_options.ts";
import { readToEnd } from "./testdata/http_client.ts";
import type { ConnectionStateEvent, ServeHandler } from "./types.ts";
import { LOOPBACK } from "./testdata/serve.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function start(options: ServeOptions, handler: ServeHandler): Server {
  return serve({ ...LOOPBACK, engine: "portable", ...options }, handler);
}

/** A portable server whose timers run on a fake clock. */
function startOnFakeClock(
  options: ServeOptions,
  handler: ServeHandler,
): { server: Server; clock: FakeClock } {
  const clock = createFakeClock();
  const env: Partial<ServerEnvironment> = fakeTimers(clock);
  const server = createServer(
    { ...LOOPBACK, engine: "portable", ...options },
    handler,
    env,
  );
  return { server, clock };
}

function port(server: Server): number {
  return (server.addr as Deno.NetAddr).port;
}

async function send(conn: Deno.Conn, text: string): Promise<void> {
  const bytes = encoder.encode(text);
  let n = 0;
  while (n < bytes.length) n += await conn.write(bytes.subarray(n));
}

/** Lets pending I/O and promise jobs run (one real macrotask turn). */
function turn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Resolves once `condition` holds, checked after each macrotask turn. */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await turn();
}

const GET = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

Deno.test("portable server answers 300 half-closed clients, 20 at a time", async () => {
  // Half the handlers answer at once; the other half only once the engine
  // has seen the client's EOF (their signal aborts on it), so that every
  // response is written to a client that shut its side before.
  let n = 0;
  const server = start({}, async (req) => {
    if (n++ % 2 === 0) return new Response("ok");
    if (!req.signal.aborted) {
      await new Promise((resolve) =>
        req.signal.addEventListener("abort", resolve)
      );
    }
    return new Response("ok");
  });
  let answered = 0;
  const one = async () => {
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: port(server),
    });
    await send(conn, GET);
    await conn.closeWrite();
    const { text } = await readToEnd(conn);
    conn.close();
    if (text.startsWith("HTTP/1.1 200 OK\r\n") && text.endsWith("\r\n\r\nok")) {
      assert(/\r\nconnection: close\r\n/.test(text), text);
      answered++;
    }
  };
  for (let batch = 0; batch < 15; batch++) {
    await Promise.all(Array.from({ length: 20 }, one));
  }
  await server.close();
  assertEquals(answered, 300);
  assertEquals(server.stats().closed.client, 300);
});

Deno.test("portable server sends a whole 256 KiB response to a half-closed client", async () => {
  const size = 256 * 1024;
  const server = start(
    {},
    (req) =>
      new URL(req.url).pathname === "/stream"
        ? new Response(
          ReadableStream.from(
            Array.from({ length: 4 }, () => new Uint8Array(size / 4)),
          ),
        )
        : new Response(new Uint8Array(size)),
  );
  for (const path of ["/bytes", "/stream"]) {
    for (let i = 0; i < 8; i++) {
      const conn = await Deno.connect({
        hostname: "127.0.0.1",
        port: port(server),
      });
      await send(conn, `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
      await conn.closeWrite();
      const { length: bytes, text } = await readToEnd(conn);
      conn.close();
      const headLength = text.indexOf("\r\n\r\n") + 4;
      assert(headLength > 4, text);
      const framing = path === "/bytes"
        ? 0
        // Four chunks of "10000\r\n...\r\n" and the last chunk.
        : 4 * (5 + 2 + 2) + 5;
      assertEquals(bytes - headLength - framing, size);
    }
  }
  await server.close();
});

Deno.test("portable server cancels the body streams of 20 downloads cut by their clients", async () => {
  let cancelled = 0;
  const allCancelled = Promise.withResolvers<void>();
  const server = start({}, () =>
    new Response(
      new ReadableStream<Uint8Array>({
        pull(controller) {
          controller.enqueue(new Uint8Array(65536));
        },
        cancel() {
          if (++cancelled === 20) allCancelled.resolve();
        },
      }),
    ));
  await Promise.all(Array.from({ length: 20 }, async (_, i) => {
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: port(server),
    });
    // Half of them leave a request body unread: the engine then keeps no
    // read pending, and only a failed write tells that the client is gone.
    await send(
      conn,
      i % 2 === 0
        ? GET
        : "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
    );
    const buf = new Uint8Array(65536);
    let got = 0;
    while (got < 256 * 1024) {
      const n = await conn.read(buf);
      if (n === null) break;
      got += n;
    }
    conn.close();
  }));
  await allCancelled.promise;
  await until(() => server.stats().open.total === 0);
  await server.close();
  assertEquals(cancelled, 20);
  assertEquals(server.stats().closed.client, 20);
});

Deno.test("portable server keeps a response stream that pauses for longer than idleTimeout", async () => {
  const gate = Promise.withResolvers<void>();
  const paused = Promise.withResolvers<void>();
  const { server, clock } = startOnFakeClock({}, () =>
    new Response(
      new ReadableStream<Uint8Array>({
        async start(controller) {
          controller.enqueue(encoder.encode("data: 1\n\n"));
          paused.resolve();
          await gate.promise;
          controller.enqueue(encoder.encode("data: 2\n\n"));
          controller.close();
        },
      }),
      { headers: { "content-type": "text/event-stream" } },
    ));
  await server.engine;
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: port(server),
  });
  await send(conn, GET);
  const buf = new Uint8Array(4096);
  let text = "";
  while (!text.includes("data: 1")) {
    const n = await conn.read(buf);
    if (n === null) throw new Error(`EOF after ${JSON.stringify(text)}`);
    text += decoder.decode(buf.subarray(0, n));
  }
  await paused.promise;
  // The stream pauses for 70 s, past the 65 s idle default: the engine waits
  // on the handler, not on the client, so no stall timer runs.
  await until(() => server.connections()[0]?.state === "writing");
  clock.tick(70_000);
  assertEquals(server.stats().open.total, 1);
  assertEquals(server.connections()[0].timer, null);
  gate.resolve();
  while (!text.includes("data: 2")) {
    const n = await conn.read(buf);
    if (n === null) throw new Error(`EOF after ${JSON.stringify(text)}`);
    text += decoder.decode(buf.subarray(0, n));
  }
  conn.close();
  await server.close();
  assertEquals(server.stats().closed.idle, 0);
});

Deno.test("portable server closes a client that stops reading a large response after idleTimeout", async () => {
  const closed = Promise.withResolvers<ConnectionStateEvent>();
  const { server, clock } = startOnFakeClock({
    idleTimeout: 1_000,
    onConnectionState(event) {
      if (event.state === "closed") closed.resolve(event);
    },
  }, () => new Response(new Uint8Array(64 << 20)));
  await server.engine;
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: port(server),
  });
  await send(conn, GET);
  // The client reads nothing: the write waits on it, and the stall timer runs.
  await until(() => server.connections()[0]?.timer === "idle");
  clock.tick(1_000);
  assertEquals((await closed.promise).reason, "idle");
  conn.close();
  await server.close();
});

Deno.test("portable server keeps the Content-Length of a streamed file and of a HEAD answer", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/file.bin`;
  const data = new Uint8Array(200_000).map((_, i) => i % 251);
  await Deno.writeFile(path, data);
  const server = start({}, async (req) => {
    if (new URL(req.url).pathname === "/hello") return new Response("hello");
    const file = await Deno.open(path);
    const { size } = await file.stat();
    return new Response(file.readable, {
      headers: { "content-length": String(size) },
    });
  });
  try {
    const base = `http://127.0.0.1:${port(server)}`;
    const res = await fetch(`${base}/file`);
    assertEquals(res.headers.get("content-length"), "200000");
    assertEquals(res.headers.get("transfer-encoding"), null);
    assertEquals(new Uint8Array(await res.arrayBuffer()), data);
    const head = await fetch(`${base}/hello`, { method: "HEAD" });
    await head.body?.cancel();
    assertEquals(head.headers.get("content-length"), "5");
    // HTTP/1.0 gets the length too, and keeps its connection.
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: port(server),
    });
    await send(
      conn,
      "GET /file HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" +
        "GET /hello HTTP/1.0\r\n\r\n",
    );
    const { length: bytes, text } = await readToEnd(conn);
    conn.close();
    assert(/\r\ncontent-length: 200000\r\n/.test(text), text);
    assert(/\r\nconnection: keep-alive\r\n/.test(text), text);
    assert(bytes > 200_000 + 5, String(bytes));
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});
