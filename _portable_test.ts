// Copyright 2026 the Reaper authors. MIT license.
import {
  assert,
  assertEquals,
  assertMatch,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { recorder, serveLoopback } from "./testdata/hooks.ts";
import { writeSelfSigned } from "./testdata/tls.ts";
import { readToEnd } from "./testdata/http_client.ts";
import type { ServeHandler } from "./types.ts";
import { createPortableEngine } from "./_portable.ts";
import { serve } from "./server.ts";
import { LOOPBACK } from "./testdata/serve.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function connect(port: number): Promise<Deno.TcpConn> {
  return await Deno.connect({ hostname: "127.0.0.1", port });
}

async function send(conn: Deno.Conn, data: string | Uint8Array) {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  let n = 0;
  while (n < bytes.length) n += await conn.write(bytes.subarray(n));
}

/** Reads until `text` holds `count` complete responses (or EOF). */
async function readResponses(
  conn: Deno.Conn,
  count: number,
  noBody = false,
): Promise<string> {
  let text = "";
  const buf = new Uint8Array(65536);
  while (parseResponses(text, noBody).length < count) {
    const n = await conn.read(buf);
    if (n === null) break;
    text += decoder.decode(buf.subarray(0, n));
  }
  return text;
}

interface Parsed {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** A small response parser for tests (Content-Length and chunked). */
function parseResponses(text: string, noBody = false): Parsed[] {
  const out: Parsed[] = [];
  let rest = text;
  while (rest.length > 0) {
    const end = rest.indexOf("\r\n\r\n");
    if (end === -1) break;
    const lines = rest.slice(0, end).split("\r\n");
    const status = Number(lines[0].split(" ")[1]);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const i = line.indexOf(":");
      headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
    }
    let body = "";
    let after = rest.slice(end + 4);
    if (status === 100) {
      rest = after;
      continue;
    }
    if (noBody || status === 204 || status === 304) {
      // No body.
    } else if (headers["transfer-encoding"] === "chunked") {
      let complete = false;
      for (;;) {
        const lf = after.indexOf("\r\n");
        if (lf === -1) break;
        const size = parseInt(after.slice(0, lf), 16);
        if (size === 0) {
          if (after.length < lf + 4) break;
          after = after.slice(lf + 4);
          complete = true;
          break;
        }
        if (after.length < lf + 2 + size + 2) break;
        body += after.slice(lf + 2, lf + 2 + size);
        after = after.slice(lf + 2 + size + 2);
      }
      if (!complete) break;
    } else if (headers["content-length"] !== undefined) {
      const n = Number(headers["content-length"]);
      if (after.length < n) break;
      body = after.slice(0, n);
      after = after.slice(n);
    } else {
      body = after;
      after = "";
    }
    out.push({ status, headers, body });
    rest = after;
  }
  return out;
}

const hello: ServeHandler = () => new Response("hello");

Deno.test("portable engine serves keep-alive requests and calls the hooks in order", async () => {
  await using server = serveLoopback(createPortableEngine(), hello);
  const conn = await connect(server.port);
  await send(conn, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
  const first = parseResponses(await readResponses(conn, 1));
  await send(conn, "GET /b HTTP/1.1\r\nHost: x\r\n\r\n");
  const second = parseResponses(await readResponses(conn, 1));
  conn.close();
  const { hooks } = server.accepted[0];
  assertEquals(await hooks.reason, "client");
  assertEquals(first[0].status, 200);
  assertEquals(first[0].body, "hello");
  assertEquals(first[0].headers["content-length"], "5");
  assertMatch(
    first[0].headers["date"],
    /^\w{3}, \d\d \w{3} \d{4} [\d:]{8} GMT$/,
  );
  assertEquals(first[0].headers["connection"], undefined);
  assertEquals(second[0].body, "hello");
  // peerWait: the response's write waits on the client; its end is not
  // reported, as requestEnd() follows at once.
  assertEquals(hooks.events, [
    "headStart",
    "requestStart",
    "responseStart",
    "peerWait",
    "requestEnd",
    "headStart",
    "requestStart",
    "responseStart",
    "peerWait",
    "requestEnd",
    "closed:client",
  ]);
  // Each read starts a head and each write ends a response here: headStart()
  // and requestEnd() stamp the time, so no touch() is needed.
  assertEquals(hooks.touches, 0);
});

Deno.test("portable engine settles finished whether it is read before or after the close", async () => {
  await using server = serveLoopback(createPortableEngine(), hello);
  const early = await connect(server.port);
  const late = await connect(server.port);
  const { hooks: earlyHooks, connection: earlyConn } = await server.next();
  const { hooks: lateHooks, connection: lateConn } = await server.next();
  const earlyFinished = earlyConn.finished;
  let settled = false;
  earlyFinished.then(() => settled = true);
  await send(early, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  await readResponses(early, 1);
  await delay(20);
  assertEquals(settled, false);
  early.close();
  late.close();
  assertEquals(await earlyHooks.reason, "client");
  await earlyFinished;
  assertEquals(earlyConn.finished, earlyFinished);
  assertEquals(await lateHooks.reason, "client");
  await lateConn.finished;
});

Deno.test("portable engine lets requestStart() reuse headStart()'s time only for a head read at once", async () => {
  await using server = serveLoopback(createPortableEngine(), hello);
  const conn = await connect(server.port);
  const { hooks } = await server.next();
  await send(conn, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
  await readResponses(conn, 1);
  await send(conn, "GET /b HTTP/1.1\r\nHo");
  // The engine read the start of the head before the rest is sent.
  await hooks.waitFor("headStart", 2);
  await send(conn, "st: x\r\n\r\n");
  await readResponses(conn, 1);
  conn.close();
  assertEquals(await hooks.reason, "client");
  assertEquals(hooks.immediate, [true, false]);
});

Deno.test("portable engine aborts an async handler when the client goes away after sending more", async () => {
  const entered = Promise.withResolvers<void>();
  const aborted = Promise.withResolvers<void>();
  let outcome = "";
  await using server = serveLoopback(createPortableEngine(), async (req) => {
    entered.resolve();
    req.signal.addEventListener("abort", () => aborted.resolve());
    // A safety net, so that an abort that only came at the end fails the
    // test instead of hanging it.
    const timer = Promise.withResolvers<void>();
    const id = setTimeout(timer.resolve, 2_000);
    outcome = await Promise.race([
      aborted.promise.then(() => "aborted"),
      timer.promise.then(() => "not aborted"),
    ]);
    clearTimeout(id);
    return new Response("late");
  });
  const conn = await connect(server.port);
  const { hooks } = await server.next();
  await send(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  await entered.promise;
  // The start of a pipelined head: the engine's watch read takes it, and
  // must keep watching.
  await send(conn, "GET /next HTTP/1.1\r\n");
  await hooks.until(() => hooks.touches > 0);
  conn.close();
  assertEquals(await hooks.reason, "client");
  assertEquals(outcome, "aborted", "request.signal was not aborted");
});

Deno.test("portable engine builds a Request from the head", async () => {
  await using server = serveLoopback(createPortableEngine(), async (req) => {
    return Response.json({
      method: req.method,
      url: req.url,
      headers: [...req.headers],
      body: await req.text(),
    });
  });
  const conn = await connect(server.port);
  await send(
    conn,
    "PATCH /p/q?x=1 HTTP/1.1\r\nHost: example.com:8080\r\nX-A:  one \r\n" +
      "x-a: two\r\nContent-Length: 3\r\n\r\nabc",
  );
  const [res] = parseResponses(await readResponses(conn, 1));
  conn.close();
  const got = JSON.parse(res.body);
  assertEquals(got.method, "PATCH");
  assertEquals(got.url, "http://example.com:8080/p/q?x=1");
  assertEquals(got.body, "abc");
  assertEquals(got.headers, [
    ["content-length", "3"],
    ["host", "example.com:8080"],
    ["x-a", "one, two"],
  ]);
});

Deno.test("portable engine builds repeated URLs from a pristine template", async () => {
  // The second request for a URL is made from a cached template Request:
  // nothing of one request may leak into the next.
  await using server = serveLoopback(createPortableEngine(), async (req) => {
    // A clone (as fetch(req) makes) must get a live signal too.
    const copy = req.clone();
    return Response.json({
      method: req.method,
      url: req.url,
      headers: [...req.headers],
      body: await req.text(),
      aborted: req.signal.aborted || copy.signal.aborted,
      copyUrl: copy.url,
    });
  });
  const conn = await connect(server.port);
  const requests = [
    "GET /same?q=1 HTTP/1.1\r\nHost: x\r\nX-One: 1\r\n\r\n",
    "POST /same?q=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
    "GET /same?q=1 HTTP/1.1\r\nHost: x\r\n\r\n",
    "PUT /same?q=1 HTTP/1.1\r\nHost: y\r\nX-Two: 2\r\nContent-Length: 2\r\n\r\nde",
    "DELETE /same?q=1 HTTP/1.1\r\nHost: y\r\n\r\n",
    // Long URLs get no template.
    `GET /${"l".repeat(600)} HTTP/1.1\r\nHost: y\r\n\r\n`,
    `GET /${"l".repeat(600)} HTTP/1.1\r\nHost: y\r\n\r\n`,
  ];
  const bodies = [];
  for (const request of requests) {
    await send(conn, request);
    const text = parseResponses(await readResponses(conn, 1))[0].body;
    bodies.push(text.startsWith("{") ? JSON.parse(text) : text);
  }
  conn.close();
  assertEquals(bodies.map((b) => [b.method, b.url, b.body, b.aborted]), [
    ["GET", "http://x/same?q=1", "", false],
    ["POST", "http://x/same?q=1", "abc", false],
    ["GET", "http://x/same?q=1", "", false],
    ["PUT", "http://y/same?q=1", "de", false],
    ["DELETE", "http://y/same?q=1", "", false],
    ["GET", `http://y/${"l".repeat(600)}`, "", false],
    ["GET", `http://y/${"l".repeat(600)}`, "", false],
  ]);
  assertEquals(bodies.map((b) => b.headers), [
    [["host", "x"], ["x-one", "1"]],
    [["content-length", "3"], ["host", "x"]],
    [["host", "x"]],
    [["content-length", "2"], ["host", "y"], ["x-two", "2"]],
    [["host", "y"]],
    [["host", "y"]],
    [["host", "y"]],
  ]);
  assertEquals(bodies.map((b) => b.copyUrl), bodies.map((b) => b.url));
});

Deno.test("portable engine accepts absolute-form targets and HTTP/1.0 without Host", async () => {
  await using server = serveLoopback(
    createPortableEngine(),
    (req) => new Response(req.url),
  );
  const conn = await connect(server.port);
  await send(
    conn,
    "GET http://other.test/abs HTTP/1.1\r\nHost: x\r\n\r\n" +
      "GET /old HTTP/1.0\r\n\r\n",
  );
  const text = (await readToEnd(conn)).text;
  conn.close();
  const res = parseResponses(text);
  assertEquals(res[0].body, "http://other.test/abs");
  assertEquals(res[1].body, `http://127.0.0.1:${server.port}/old`);
  assertEquals(res[1].headers["connection"], "close");
  assertEquals(await server.accepted[0].hooks.reason, "done");
});

Deno.test("portable engine honours Connection: close and HTTP/1.0 keep-alive", async () => {
  await using server = serveLoopback(createPortableEngine(), hello, {
    setup: (hooks) => hooks.keepAlive = "timeout=5",
  });
  const a = await connect(server.port);
  await send(a, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  const ka = parseResponses(await readResponses(a, 1))[0];
  assertEquals(ka.headers["connection"], "keep-alive");
  assertEquals(ka.headers["keep-alive"], "timeout=5");
  await send(a, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  const closed = parseResponses((await readToEnd(a)).text)[0];
  a.close();
  assertEquals(closed.headers["connection"], "close");
  assertEquals(closed.headers["keep-alive"], undefined);
  assertEquals(await server.accepted[0].hooks.reason, "done");
});

Deno.test("portable engine closes after a response when hooks.mustClose is set", async () => {
  await using server = serveLoopback(createPortableEngine(), hello, {
    setup: (hooks) => hooks.mustClose = true,
  });
  const conn = await connect(server.port);
  await send(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  const res = parseResponses((await readToEnd(conn)).text)[0];
  conn.close();
  assertEquals(res.headers["connection"], "close");
  assertEquals(await server.accepted[0].hooks.reason, "done");
});

Deno.test("portable engine decodes chunked request bodies and skips trailers", async () => {
  await using server = serveLoopback(
    createPortableEngine(),
    async (req) => new Response(await req.text()),
  );
  const conn = await connect(server.port);
  await send(
    conn,
    "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n" +
      "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
  );
  const res = parseResponses(await readResponses(conn, 2));
  conn.close();
  assertEquals(res.map((r) => r.body), ["hello, world", ""]);
});

Deno.test("portable engine streams a large request body without buffering it", async () => {
  const total = 8 * 1024 * 1024;
  const firstSeen = Promise.withResolvers<void>();
  let maxChunk = 0;
  let received = 0;
  await using server = serveLoopback(createPortableEngine(), async (req) => {
    for await (const chunk of req.body!) {
      if (received === 0) firstSeen.resolve();
      received += chunk.length;
      maxChunk = Math.max(maxChunk, chunk.length);
    }
    return new Response(String(received));
  });
  const conn = await connect(server.port);
  await send(
    conn,
    `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${total}\r\n\r\n`,
  );
  await send(conn, new Uint8Array(1024));
  // The handler sees bytes before the rest of the body was even sent.
  await firstSeen.promise;
  const piece = new Uint8Array(256 * 1024);
  for (let sent = 1024; sent < total; sent += piece.length) {
    await send(conn, piece.subarray(0, Math.min(piece.length, total - sent)));
  }
  const res = parseResponses(await readResponses(conn, 1));
  conn.close();
  assertEquals(res[0].body, String(total));
  assert(maxChunk <= 65536, `max chunk ${maxChunk}`);
  const events = server.accepted[0].hooks.events;
  assert(events.includes("peerWait") && events.includes("peerDone"));
});

Deno.test("portable engine sends 100 Continue when the handler reads the body", async () => {
  await using server = serveLoopback(
    createPortableEngine(),
    async (req) => new Response(await req.text()),
  );
  const conn = await connect(server.port);
  await send(
    conn,
    "PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n",
  );
  const buf = new Uint8Array(1024);
  const n = await conn.read(buf);
  assertEquals(
    decoder.decode(buf.subarray(0, n!)),
    "HTTP/1.1 100 Continue\r\n\r\n",
  );
  await send(conn, "data");
  const res = parseResponses(await readResponses(conn, 1));
  conn.close();
  assertEquals(res[0].body, "data");
});

Deno.test("portable engine closes when a 100-continue body is never read", async () => {
  await using server = serveLoopback(
    createPortableEngine(),
    () => new Response("no", { status: 413 }),
  );
  const conn = await connect(server.port);
  await send(
    conn,
    "PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n",
  );
  const text = (await readToEnd(conn)).text;
  conn.close();
  assert(!text.includes("100 Continue"));
  const res = parseResponses(text);
  assertEquals(res[0].status, 413);
  assertEquals(res[0].headers["connection"], "close");
});

Deno.test("portable engine sends no body for HEAD, 204 and 304", async () => {
  await using server = serveLoopback(createPortableEngine(), (req) => {
    const status = Number(new URL(req.url).searchParams.get("s") ?? 200);
    return new Response(status === 200 ? "body" : null, { status });
  });
  const conn = await connect(server.port);
  await send(conn, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
  const head = await readResponses(conn, 1, true);
  await send(
    conn,
    "GET /?s=204 HTTP/1.1\r\nHost: x\r\n\r\nGET /?s=304 HTTP/1.1\r\nHost: x\r\n\r\n" +
      "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
  );
  const rest = parseResponses(await readResponses(conn, 3));
  conn.close();
  assert(head.endsWith("\r\n\r\n"), head);
  assert(!head.includes("body"));
  // The length a GET would carry, as on the native engine.
  assertEquals(parseResponses(head, true)[0].headers["content-length"], "4");
  assertEquals(rest.map((r) => r.status), [204, 304, 200]);
  assertEquals(rest[0].headers["content-length"], undefined);
  assertEquals(rest[2].body, "body");
});

Deno.test("portable engine writes stream bodies chunked, as produced", async () => {
  const gate = Promise.withResolvers<void>();
  await using server = serveLoopback(createPortableEngine(), () =>
    new Response(
      new ReadableStream({
        async start(c) {
          c.enqueue(encoder.encode("one,"));
          await gate.promise;
          c.enqueue(encoder.encode("two,"));
          c.enqueue(encoder.encode("three"));
          c.close();
        },
      }),
    ));
  const conn = await connect(server.port);
  await send(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  // The first chunk arrives while the stream is still open.
  const buf = new Uint8Array(4096);
  const n = await conn.read(buf);
  const early = decoder.decode(buf.subarray(0, n!));
  assertStringIncludes(early, "transfer-encoding: chunked");
  assertStringIncludes(early, "4\r\none,\r\n");
  gate.resolve();
  let text = early;
  while (!text.endsWith("0\r\n\r\n")) {
    const m = await conn.read(buf);
    text += decoder.decode(buf.subarray(0, m!));
  }
  conn.close();
  assertEquals(parseResponses(text)[0].body, "one,two,three");
});

Deno.test("portable engine sets TCP_NODELAY, so that a response in several writes does not stall", async () => {
  // With Nagle's algorithm on, each small write after the first waits for
  // the client's delayed ACK (~40 ms on Linux): 10 responses of 3 writes
  // took 415 ms, against 42 ms with TCP_NODELAY (measured). The test spies
  // on setNoDelay() rather than timing the responses.
  const noDelay: (boolean | undefined)[] = [];
  const spy = (_hooks: unknown, conn: Deno.Conn) => {
    const tcp = conn as Deno.TcpConn;
    const setNoDelay = tcp.setNoDelay.bind(tcp);
    tcp.setNoDelay = (value?: boolean) => {
      noDelay.push(value);
      setNoDelay(value);
    };
  };
  await using server = serveLoopback(createPortableEngine(), () =>
    new Response(
      new ReadableStream({
        async start(c) {
          c.enqueue(encoder.encode("a"));
          await new Promise((resolve) => setTimeout(resolve, 0));
          c.enqueue(encoder.encode("b"));
          c.close();
        },
      }),
    ), { setup: spy });
  const conn = await connect(server.port);
  const buf = new Uint8Array(4096);
  for (let i = 0; i < 10; i++) {
    await send(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let text = "";
    while (!text.endsWith("0\r\n\r\n")) {
      const n = await conn.read(buf);
      assert(n !== null);
      text += decoder.decode(buf.subarray(0, n!));
    }
    assertEquals(parseResponses(text)[0].body, "ab");
  }
  conn.close();
  assertEquals(noDelay, [true]);
});

Deno.test("portable engine writes a stream close-delimited for HTTP/1.0", async () => {
  await using server = serveLoopback(createPortableEngine(), () => {
    let n = 0;
    return new Response(
      new ReadableStream({
        async pull(c) {
          if (n++ === 1) {
            await new Promise((r) => setTimeout(r, 1));
            c.enqueue(encoder.encode("b"));
            c.close();
          } else c.enqueue(encoder.encode("a"));
        },
      }),
    );
  });
  const conn = await connect(server.port);
  await send(conn, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  const text = (await readToEnd(conn)).text;
  conn.close();
  assert(!text.includes("chunked"));
  assertStringIncludes(text, "connection: close");
  assert(text.endsWith("\r\n\r\nab"), text);
});

Deno.test("portable engine answers pipelined requests in order", async () => {
  let i = 0;
  await using server = serveLoopback(createPortableEngine(), async (req) => {
    const n = i++;
    if (n === 1) await new Promise((r) => setTimeout(r, 5));
    return new Response(`${n}${new URL(req.url).pathname}`);
  });
  const conn = await connect(server.port);
  let batch = "";
  for (let k = 0; k < 5; k++) batch += `GET /${k} HTTP/1.1\r\nHost: x\r\n\r\n`;
  await send(conn, batch);
  const res = parseResponses(await readResponses(conn, 5));
  conn.close();
  assertEquals(res.map((r) => r.body), ["0/0", "1/1", "2/2", "3/3", "4/4"]);
});

Deno.test("portable engine discards an unread body, or closes when it is too long", async () => {
  await using server = serveLoopback(createPortableEngine(), hello);
  const conn = await connect(server.port);
  await send(
    conn,
    "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789" +
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" +
      "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
  );
  const res = parseResponses(await readResponses(conn, 3));
  assertEquals(res.map((r) => r.status), [200, 200, 200]);
  await send(
    conn,
    "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n",
  );
  const last = parseResponses((await readToEnd(conn)).text);
  conn.close();
  assertEquals(last[0].headers["connection"], "close");
  assertEquals(await server.accepted[0].hooks.reason, "done");
});

const bad: [string, string, number | null][] = [
  ["garbage request line", "GARBAGE\r\n\r\n", 400],
  ["bare LF", "GET / HTTP/1.1\nHost: x\n\n", 400],
  ["bare CR", "GET / HTTP/1.1\r\nHost: x\rY: z\r\n\r\n", 400],
  ["NUL in a value", "GET / HTTP/1.1\r\nHost: x\r\nA: b\0c\r\n\r\n", 400],
  ["obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nA: b\r\n c\r\n\r\n", 400],
  ["space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400],
  ["invalid name", "GET / HTTP/1.1\r\nHost: x\r\nA(b: c\r\n\r\n", 400],
  ["missing Host", "GET / HTTP/1.1\r\n\r\n", 400],
  ["two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400],
  ["bad Host", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400],
  ["two spaces", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400],
  ["HTTP/0.9", "GET /\r\n\r\n", 400],
  [
    "CL and TE",
    "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    400,
  ],
  [
    "differing CLs",
    "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
    400,
  ],
  [
    "CL not a number",
    "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3a\r\n\r\n",
    400,
  ],
  ["CL sign", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\n", 400],
  [
    "TE not chunked",
    "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
    400,
  ],
  [
    "TE unknown coding",
    "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
    501,
  ],
  [
    "TE in HTTP/1.0",
    "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
    400,
  ],
  [
    "invalid chunk size",
    "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    400,
  ],
  [
    "chunk size overflow",
    "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n",
    400,
  ],
  [
    "chunk without CRLF",
    "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n",
    400,
  ],
  ["HTTP/2.0 version", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505],
  ["HTTP/1.2 version", "GET / HTTP/1.2\r\nHost: x\r\n\r\n", 505],
  ["CONNECT", "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", 501],
  ["HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", null],
  ["long target", `GET /${"a".repeat(20000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 414],
  [
    "large head",
    `GET / HTTP/1.1\r\nHost: x\r\n${"X-Big: " + "b".repeat(1000) + "\r\n"}`
      .repeat(1) + `X-Big2: ${"b".repeat(17000)}\r\n\r\n`,
    431,
  ],
];

for (const [name, input, status] of bad) {
  Deno.test(`portable engine rejects ${name} and closes`, async () => {
    await using server = serveLoopback(createPortableEngine(), async (req) => {
      await req.text().catch(() => {});
      return new Response("handler");
    });
    const conn = await connect(server.port);
    await send(conn, input).catch(() => {});
    const text = (await readToEnd(conn)).text;
    conn.close();
    if (status === null) assertEquals(text, "");
    else {
      const res = parseResponses(text, true);
      assertEquals(res.length, 1, text);
      assertEquals(res[0].status, status);
      assertEquals(res[0].headers["connection"], "close");
    }
    assertEquals(await server.accepted[0].hooks.reason, "error");
  });
}

Deno.test("portable engine answers 400 when a chunked body read by the handler is malformed", async () => {
  const errored = Promise.withResolvers<unknown>();
  await using server = serveLoopback(createPortableEngine(), async (req) => {
    try {
      await req.text();
    } catch (e) {
      errored.resolve(e);
    }
    return new Response("late");
  });
  const conn = await connect(server.port);
  await send(
    conn,
    "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\nXYZ\r\n",
  );
  const text = (await readToEnd(conn)).text;
  conn.close();
  assertEquals(parseResponses(text).map((r) => r.status), [400]);
  assert(await errored.promise instanceof TypeError);
  assertEquals(await server.accepted[0].hooks.reason, "error");
});

Deno.test("portable engine turns handler errors into onError responses", async () => {
  await using server = serveLoopback(createPortableEngine(), (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/throw") throw new Error("boom");
    if (path === "/wrong") return "not a response" as unknown as Response;
    return new Response("ok");
  });
  const conn = await connect(server.port);
  await send(
    conn,
    "GET /throw HTTP/1.1\r\nHost: x\r\n\r\nGET /wrong HTTP/1.1\r\nHost: x\r\n\r\n" +
      "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
  );
  const res = parseResponses(await readResponses(conn, 3));
  conn.close();
  assertEquals(res.map((r) => r.status), [500, 500, 200]);
  assertEquals(res[0].body, "onError: Error: boom");
  assertStringIncludes(res[1].body, "TypeError");
});

Deno.test("portable engine answers a plain 500 when onError fails too", async () => {
  await using server = serveLoopback(createPortableEngine(), () => {
    throw new Error("boom");
  }, {
    onError: () => {
      throw new Error("again");
    },
  });
  const conn = await connect(server.port);
  await send(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  const res = parseResponses(await readResponses(conn, 1));
  conn.close();
  assertEquals(res[0].status, 500);
  assertEquals(res[0].body, "Internal Server Error");
});

Deno.test("portable engine closes at once on closeIdle() between requests", async () => {
  await using server = serveLoopback(createPortableEngine(), hello);
  const conn = await connect(server.port);
  await send(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  await readResponses(conn, 1);
  const { hooks, connection: ec } = server.accepted[0];
  ec.closeIdle();
  assertEquals((await readToEnd(conn)).text, "");
  conn.close();
  assertEquals(await hooks.reason, "shutdown");
  await ec.finished;
});

Deno.test("portable engine closes after the response in flight on closeIdle()", async () => {
  const entered = Promise.withResolvers<void>();
  const release = Promise.withResolvers<void>();
  await using server = serveLoopback(createPortableEngine(), async () => {
    entered.resolve();
    await release.promise;
    return new Response("last");
  });
  const conn = await connect(server.port);
  await send(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  await entered.promise;
  const { hooks, connection: ec } = server.accepted[0];
  ec.closeIdle();
  release.resolve();
  const res = parseResponses((await readToEnd(conn)).text);
  conn.close();
  assertEquals(res[0].body, "last");
  assertEquals(res[0].headers["connection"], "close");
  assertEquals(await hooks.reason, "done");
});

Deno.test('portable engine answers 408 on close("headerTimeout")', async () => {
  await using server = serveLoopback(createPortableEngine(), hello);
  const conn = await connect(server.port);
  await send(conn, "GET / HTTP/1.1\r\nHo");
  const { hooks, connection: ec } = await server.next();
  await hooks.waitFor("headStart");
  ec.close("headerTimeout");
  const res = parseResponses((await readToEnd(conn)).text);
  conn.close();
  assertEquals(res[0].status, 408);
  assertEquals(res[0].headers["connection"], "close");
  await ec.finished;
  assertEquals(hooks.events, [
    "headStart",
    "peerWait",
    "peerDone",
    "closed:headerTimeout",
  ]);
  await ec.finished;
});

Deno.test("portable engine aborts req.signal when the client goes away", async () => {
  const aborted = Promise.withResolvers<void>();
  const entered = Promise.withResolvers<void>();
  await using server = serveLoopback(createPortableEngine(), async (req) => {
    entered.resolve();
    if (!req.signal.aborted) {
      await new Promise((r) => req.signal.addEventListener("abort", r));
    }
    aborted.resolve();
    return new Response("nobody listens");
  });
  const conn = await connect(server.port);
  await send(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  await entered.promise;
  conn.close();
  await aborted.promise;
  assertEquals(await server.accepted[0].hooks.reason, "client");
});

Deno.test("portable engine aborts req.signal and stops a stream on close()", async () => {
  const entered = Promise.withResolvers<void>();
  let signal: AbortSignal | undefined;
  let cancelled = false;
  await using server = serveLoopback(createPortableEngine(), (req) => {
    signal = req.signal;
    return new Response(
      new ReadableStream({
        pull(c) {
          c.enqueue(encoder.encode("tick"));
          entered.resolve();
          return new Promise((r) => setTimeout(r, 5));
        },
        cancel() {
          cancelled = true;
        },
      }),
    );
  });
  const conn = await connect(server.port);
  await send(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  await entered.promise;
  const { hooks, connection: ec } = server.accepted[0];
  ec.close("requestTimeout");
  (await readToEnd(conn)).text;
  conn.close();
  await ec.finished;
  assert(signal!.aborted);
  assert(cancelled);
  assertEquals(await hooks.reason, "requestTimeout");
});

Deno.test("portable engine gives handlers info.completed and a validated info.setTimeout()", async () => {
  const completed = Promise.withResolvers<{ p: Promise<void> }>();
  await using server = serveLoopback(createPortableEngine(), (_req, info) => {
    assertThrows(() => info.setTimeout(-1), RangeError, "received -1");
    assertThrows(() => info.setTimeout(NaN), RangeError, "received NaN");
    info.setTimeout(0);
    info.setTimeout(2500);
    completed.resolve({ p: info.completed });
    assertEquals(info.remoteAddr.hostname, "127.0.0.1");
    return new Response("ok");
  });
  const conn = await connect(server.port);
  await send(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  await readResponses(conn, 1);
  await (await completed.promise).p;
  conn.close();
  assertEquals(server.accepted[0].hooks.timeouts, [0, 2500]);
});

Deno.test("portable engine resolves info.completed when the response cannot be sent, as the native engine does", async () => {
  const completed = Promise.withResolvers<{ p: Promise<void> }>();
  await using server = serveLoopback(createPortableEngine(), (_req, info) => {
    completed.resolve({ p: info.completed });
    return new Response(new ReadableStream({ pull() {} }));
  });
  const conn = await connect(server.port);
  await send(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  const { p } = await completed.promise;
  server.accepted[0].connection.close("shutdown");
  await p;
  (await readToEnd(conn)).text;
  conn.close();
});

// ------------------------------------------------------------ real clients

Deno.test("portable engine serves Deno's fetch", async () => {
  await using server = serveLoopback(
    createPortableEngine(),
    async (req) => new Response(`${req.method} ${await req.text()}`),
  );
  const base = `http://127.0.0.1:${server.port}`;
  const a = await fetch(`${base}/a`);
  assertEquals(await a.text(), "GET ");
  const b = await fetch(`${base}/b`, { method: "POST", body: "payload" });
  assertEquals(await b.text(), "POST payload");
  const stream = ReadableStream.from([
    encoder.encode("st"),
    encoder.encode("ream"),
  ]);
  const c = await fetch(`${base}/c`, { method: "POST", body: stream });
  assertEquals(await c.text(), "POST stream");
});

async function run(cmd: string, args: string[], stdin?: string) {
  const child = new Deno.Command(cmd, {
    args,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(encoder.encode(stdin));
    await w.close();
  }
  const out = await child.output();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
}

Deno.test("portable engine serves curl: keep-alive reuse, --http1.0, chunked upload", async () => {
  await using server = serveLoopback(
    createPortableEngine(),
    async (req) =>
      new Response(`${new URL(req.url).pathname}:${await req.text()};`),
  );
  const base = `http://127.0.0.1:${server.port}`;
  const two = await run("curl", ["-sS", "-v", `${base}/one`, `${base}/two`]);
  assertEquals(two.code, 0, two.stderr);
  assertEquals(two.stdout, "/one:;/two:;");
  assertStringIncludes(two.stderr, "Re-using existing connection");
  const old = await run("curl", ["-sS", "--http1.0", `${base}/old`]);
  assertEquals(old.stdout, "/old:;");
  const up = await run("curl", ["-sS", "-T", "-", `${base}/up`], "uploaded");
  assertEquals(up.code, 0, up.stderr);
  assertEquals(up.stdout, "/up:uploaded;");
});

Deno.test("portable engine serves Node's fetch", async () => {
  await using server = serveLoopback(
    createPortableEngine(),
    async (req) => new Response(`${req.method} ${await req.text()}`),
  );
  const base = `http://127.0.0.1:${server.port}`;
  const script = `
    const a = await (await fetch("${base}/a")).text();
    const b = await (await fetch("${base}/b", { method: "POST", body: "x" })).text();
    console.log(JSON.stringify([a, b]));`;
  const out = await run("node", ["--input-type=module", "-e", script]);
  assertEquals(out.code, 0, out.stderr);
  assertEquals(JSON.parse(out.stdout), ["GET ", "POST x"]);
});

Deno.test("createPortableEngine() makes the portable engine", () => {
  assertEquals(createPortableEngine().name, "portable");
});

Deno.test("portable engine parses a head that arrives a few bytes at a time", async () => {
  await using server = serveLoopback(
    createPortableEngine(),
    (req) => new Response(req.headers.get("x-long")),
  );
  const conn = await connect(server.port);
  const { hooks } = await server.next();
  const value = "v".repeat(12_000);
  const text = `GET / HTTP/1.1\r\nHost: x\r\nX-Long: ${value}\r\n\r\n`;
  const cuts = [3, 15, 16, 17, 40, 9000, text.length - 3, text.length - 1];
  let from = 0;
  for (const cut of cuts) {
    // Each piece is read before the next is sent: a read calls headStart()
    // (the first) or touch() (the others).
    const reads = hooks.events.length + hooks.touches;
    await send(conn, text.slice(from, cut));
    from = cut;
    await hooks.until(() => hooks.events.length + hooks.touches > reads);
  }
  await send(conn, text.slice(from));
  await send(conn, "GET / HTTP/1.1\r\nHost: x\r\nX-Long: short\r\n\r\n");
  const res = parseResponses(await readResponses(conn, 2));
  conn.close();
  assertEquals(res.map((r) => r.body.length), [12_000, 5]);
  assertEquals(server.accepted[0].hooks.events.slice(0, 5), [
    "headStart",
    "requestStart",
    "responseStart",
    "peerWait",
    "requestEnd",
  ]);
});

Deno.test("portable engine aborts a signal first read after the connection closed", async () => {
  const entered = Promise.withResolvers<void>();
  const later = Promise.withResolvers<AbortSignal>();
  const gate = Promise.withResolvers<void>();
  await using server = serveLoopback(createPortableEngine(), async (req) => {
    entered.resolve();
    await gate.promise;
    later.resolve(req.signal);
    return new Response("late");
  });
  const conn = await connect(server.port);
  await send(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  await entered.promise;
  const { connection: ec, hooks } = server.accepted[0];
  ec.close("requestTimeout");
  await ec.finished;
  gate.resolve();
  assert((await later.promise).aborted);
  assertEquals((await readToEnd(conn)).text, "");
  conn.close();
  assertEquals(hooks.events, [
    "headStart",
    "requestStart",
    "closed:requestTimeout",
  ]);
});

Deno.test("portable engine reports body waits around request body reads", async () => {
  await using server = serveLoopback(
    createPortableEngine(),
    async (req) => new Response(await req.text()),
  );
  const conn = await connect(server.port);
  await send(
    conn,
    "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nabc",
  );
  await (await server.next()).hooks.waitFor("peerWait");
  await send(conn, "def");
  const res = parseResponses(await readResponses(conn, 1));
  conn.close();
  assertEquals(res[0].body, "abcdef");
  assertEquals(await server.accepted[0].hooks.reason, "client");
  assertEquals(server.accepted[0].hooks.events, [
    "headStart",
    "requestStart",
    "peerWait",
    "peerDone",
    "responseStart",
    "peerWait",
    "requestEnd",
    "closed:client",
  ]);
});

Deno.test("portable engine survives mutated requests without crashing or hanging", async () => {
  await using server = serveLoopback(createPortableEngine(), async (req) => {
    await req.body?.cancel();
    return new Response("ok");
  });
  const base = encoder.encode(
    "POST /p?q=1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n" +
      "X-A: b\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
  );
  const special = [0, 9, 10, 13, 32, 58, 0x7f, 0xff, 48, 102];
  let seed = 42;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648);
  for (let round = 0; round < 60; round++) {
    const bytes = base.slice();
    for (let k = 0; k < 1 + round % 4; k++) {
      bytes[random() % bytes.length] = special[random() % special.length];
    }
    const conn = await connect(server.port);
    await send(conn, bytes).catch(() => {});
    await conn.closeWrite().catch(() => {});
    const text = (await readToEnd(conn)).text;
    conn.close();
    const { hooks } = server.accepted[round];
    const reason = await hooks.reason;
    assert(["client", "error", "done"].includes(reason), reason);
    for (const res of parseResponses(text, true)) {
      assert([200, 400, 414, 431, 501, 505].includes(res.status), text);
    }
  }
});

Deno.test("portable engine discards a late body after the response without peerWait()", async () => {
  await using server = serveLoopback(createPortableEngine(), hello);
  const conn = await connect(server.port);
  await send(
    conn,
    "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234",
  );
  const first = parseResponses(await readResponses(conn, 1));
  await send(conn, "56789GET /next HTTP/1.1\r\nHost: x\r\n\r\n");
  const second = parseResponses(await readResponses(conn, 1));
  conn.close();
  assertEquals([first[0].status, second[0].status], [200, 200]);
  assertEquals(await server.accepted[0].hooks.reason, "client");
  assertEquals(server.accepted[0].hooks.events, [
    "headStart",
    "requestStart",
    "responseStart",
    "peerWait",
    "requestEnd",
    // Called when the discard waits for the late body (headerTimeout bounds
    // it); the next head needs no second call.
    "headStart",
    "requestStart",
    "responseStart",
    "peerWait",
    "requestEnd",
    "closed:client",
  ]);
});

Deno.test("portable engine echoes a request body streamed straight into the response", async () => {
  await using server = serveLoopback(
    createPortableEngine(),
    (req) => new Response(req.body),
  );
  const base = `http://127.0.0.1:${server.port}`;
  const big = new Uint8Array(1024 * 1024).map((_, i) => i % 251);
  const res = await fetch(base, { method: "POST", body: big });
  const echoed = new Uint8Array(await res.arrayBuffer());
  assertEquals(echoed.length, big.length);
  assertEquals(echoed, big);
  const again = await fetch(base, { method: "POST", body: "small" });
  assertEquals(await again.text(), "small");
});

Deno.test('portable engine closes with "error" when a response stream fails', async () => {
  const completed = Promise.withResolvers<{ p: Promise<void> }>();
  await using server = serveLoopback(createPortableEngine(), (_req, info) => {
    completed.resolve({ p: info.completed });
    let n = 0;
    return new Response(
      new ReadableStream({
        async pull(c) {
          await new Promise((r) => setTimeout(r, 1));
          if (n++ === 0) c.enqueue(encoder.encode("part"));
          else c.error(new Error("stream broke"));
        },
      }),
    );
  });
  const conn = await connect(server.port);
  await send(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  const text = (await readToEnd(conn)).text;
  conn.close();
  assertStringIncludes(text, "4\r\npart\r\n");
  assert(!text.endsWith("0\r\n\r\n"));
  // As on the native engine: completed resolves, requestEnd() comes first.
  await completed.promise.then(({ p }) => p);
  const { hooks } = server.accepted[0];
  assertEquals(await hooks.reason, "error");
  assertEquals(hooks.events.slice(-2), ["requestEnd", "closed:error"]);
});

Deno.test("portable engine builds https URLs on TLS connections", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeSelfSigned(dir);
    const listener = Deno.listenTls({
      hostname: "127.0.0.1",
      port: 0,
      cert: await Deno.readTextFile(`${dir}/cert.pem`),
      key: await Deno.readTextFile(`${dir}/key.pem`),
    });
    const hooks = recorder(listener.addr);
    const served = (async () => {
      const conn = await listener.accept();
      const ec = createPortableEngine().serve(
        conn,
        hooks,
        (req) => new Response(req.url),
        () => new Response("error", { status: 500 }),
      );
      await ec.finished;
    })();
    const out = await run("curl", [
      "-sS",
      "--cacert",
      `${dir}/cert.pem`,
      `https://localhost:${listener.addr.port}/secure?x=1`,
    ]);
    await served;
    listener.close();
    assertEquals(out.code, 0, out.stderr);
    assertEquals(
      out.stdout,
      `https://localhost:${listener.addr.port}/secure?x=1`,
    );
    assertEquals(await hooks.reason, "client");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("portable engine bounds a trickled unread body by headerTimeout", async () => {
  // The handler ignores the body; the engine discards it after the response,
  // when the connection is idle. 1 byte every 100 ms refreshes a 150 ms idle
  // timer forever: the 200 ms header timer must close the connection.
  await using server = serve({
    ...LOOPBACK,
    engine: "portable",
    headerTimeout: 200,
    idleTimeout: 150,
    tickInterval: 20,
  }, () => new Response("ok"));
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: server.addr.port,
  });
  await send(
    conn,
    "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n",
  );
  const res = parseResponses(await readResponses(conn, 1));
  assertEquals(res[0].body, "ok");
  const started = performance.now();
  // EOF or a reset: the server closed the connection.
  let closedAfter = -1;
  const gone = readToEnd(conn).catch(() => "").then(() => {
    closedAfter = performance.now() - started;
  });
  for (let i = 0; i < 20 && closedAfter < 0; i++) {
    await new Promise((r) => setTimeout(r, 100));
    if (closedAfter >= 0) break;
    await conn.write(encoder.encode("x")).catch(() => {});
  }
  const closedBy = closedAfter;
  conn.close();
  await gone;
  assert(closedBy >= 0, "the trickling connection was never closed");
  // The header timer closed it, not the idle timer.
  assertEquals(server.stats().closed.headerTimeout, 1);
  assertEquals(server.stats().closed.idle, 0);
});

Deno.test("portable engine answers a 101 response with 501 and closes", async () => {
  await using server = serveLoopback(createPortableEngine(), (req) => {
    if (req.url.endsWith("/ws")) return Deno.upgradeWebSocket(req).response;
    return new Response("plain");
  });
  const conn = await connect(server.port);
  await send(
    conn,
    "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n" +
      "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n" +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
  );
  const text = (await readToEnd(conn)).text;
  conn.close();
  const res = parseResponses(text);
  assertEquals(res.length, 1);
  assertEquals(res[0].status, 501);
  assertStringIncludes(res[0].body, "not supported");
  assertStringIncludes(text.toLowerCase(), "connection: close");
  assertEquals(await server.accepted[0].hooks.reason, "done");
});

Deno.test("portable engine sends plain string, bytes and JSON responses exactly", async () => {
  // Bodies of every kind, and headers as Response sets them, must be
  // written exactly.
  const used = new Response("used");
  await used.text();
  const responses: Record<string, () => Response> = {
    "/text": () => new Response("hello"),
    "/empty": () => new Response(""),
    "/bytes": () => new Response(new Uint8Array([104, 105])),
    "/json": () => Response.json({ a: 1 }),
    "/form": () => new Response(new URLSearchParams("a=1")),
    "/status": () => new Response("gone", { status: 410 }),
    "/reason": () => new Response("why", { statusText: "Fine" }),
    "/set": () => {
      const res = new Response("set");
      res.headers.set("x-set", "1");
      return res;
    },
  };
  await using server = serveLoopback(createPortableEngine(), (req) => {
    const path = new URL(req.url).pathname;
    return path === "/used" ? used : responses[path]();
  });
  const conn = await connect(server.port);
  const got: Parsed[] = [];
  for (const path of Object.keys(responses)) {
    await send(conn, `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
    got.push(parseResponses(await readResponses(conn, 1))[0]);
  }
  await send(conn, "HEAD /text HTTP/1.1\r\nHost: x\r\n\r\n");
  const head = await readResponses(conn, 1, true);
  // A consumed body is never sent again.
  await send(conn, "GET /used HTTP/1.1\r\nHost: x\r\n\r\n");
  const last = await readResponses(conn, 1);
  conn.close();
  assertEquals(
    got.map((r) => [r.status, r.body, r.headers["content-type"]]),
    [
      [200, "hello", "text/plain;charset=UTF-8"],
      [200, "", "text/plain;charset=UTF-8"],
      [200, "hi", undefined],
      [200, '{"a":1}', "application/json"],
      [200, "a=1", "application/x-www-form-urlencoded;charset=UTF-8"],
      [410, "gone", "text/plain;charset=UTF-8"],
      [200, "why", "text/plain;charset=UTF-8"],
      [200, "set", "text/plain;charset=UTF-8"],
    ],
  );
  assertEquals(got[0].headers["content-length"], "5");
  assertEquals(got[7].headers["x-set"], "1");
  assert(head.startsWith("HTTP/1.1 200 OK\r\n"), head);
  assert(head.includes("\r\ncontent-length: 5\r\n"), head);
  const reason = await Deno.connect({
    hostname: "127.0.0.1",
    port: server.port,
  });
  await send(
    reason,
    "GET /reason HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
  );
  assert((await readToEnd(reason)).text.startsWith("HTTP/1.1 200 Fine\r\n"));
  reason.close();
  assert(!head.includes("llo"), head);
  assert(!last.includes("used"), last);
});
