// Copyright 2026 the Reaper authors. MIT license.
/**
 * Benchmark server: the floor of any HTTP/1.1 server built on `Deno.listen`
 * with public APIs only. It does the least work such a server must do for a
 * request and nothing else, so that its throughput bounds from above what the
 * portable engine (or any other public-API server) can reach.
 *
 * It is not a server: it assumes that every read holds exactly one whole
 * `GET` head and nothing more (true of `wrk` without pipelining), checks
 * nothing, has no timers, no bodies, no errors, no keep-alive rules. Each
 * mode is more generous than a correct engine could be:
 *
 * - `socket`: reads, and writes a prebuilt response. The cost of the socket
 *   loop alone (two async ops a request), and the memory an idle connection
 *   needs at the least: the socket, a read buffer and a pending read.
 * - `api` (default): `socket`, plus what the handler's contract needs:
 *   a `Request` built the cheapest public way measured (copied from a cached
 *   template, then one `headers.append()` a field), the handler called, the
 *   response's fields read with `headers.forEach()`, its body read through
 *   `response.body` until done (the one public way that also serves
 *   streams), and head and body sent in one write from a pooled buffer.
 * - `bytes`: `api`, but the body is read with `await response.bytes()`,
 *   which a correct engine cannot use (it buffers a stream whole, and never
 *   ends on an endless one).
 *
 * Usage:
 * `deno run --allow-net bench/servers/floor_listen.ts [PORT] [MODE] [BUFFER]`.
 * BUFFER is the size of each connection's read buffer in bytes (default
 * 2048). Listens on 127.0.0.1 (PORT 0 = any free port) and prints
 * `Listening on http://127.0.0.1:PORT/` once ready.
 *
 * @module
 */

import { listenAndServe } from "./_listen.ts";

const port = Number(Deno.args[0] ?? "8000");
const mode = Deno.args[1] ?? "api";
if (mode !== "socket" && mode !== "api" && mode !== "bytes") {
  throw new TypeError(
    `Cannot start: MODE must be socket, api or bytes, received "${mode}"`,
  );
}
const bufferSize = Number(Deno.args[2] ?? "2048");
if (!Number.isInteger(bufferSize) || bufferSize < 64) {
  throw new RangeError(
    `Cannot start: BUFFER must be an integer >= 64, received "${Deno.args[2]}"`,
  );
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("latin1");
const PREBUILT = encoder.encode(
  "HTTP/1.1 200 OK\r\ncontent-type: text/plain;charset=UTF-8\r\n" +
    "content-length: 13\r\n\r\nHello, World!",
);
const DATE = new Date().toUTCString();
const templates = new Map<string, Request>();
const pool: Uint8Array[] = [];
const INIT: RequestInit = { method: "GET", signal: null };
const info = {
  remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 0 },
  completed: Promise.resolve(),
};

function handler(_req: Request, _info: typeof info): Response {
  return new Response("Hello, World!");
}

let head = "";
function addField(value: string, name: string): void {
  head += name + ": " + value + "\r\n";
}

async function respond(
  conn: Deno.Conn,
  buf: Uint8Array,
  n: number,
): Promise<void> {
  const lines = decoder.decode(buf.subarray(0, n)).split("\r\n");
  const target = lines[0].slice(4, lines[0].length - 9);
  let template = templates.get(target);
  if (template === undefined) {
    template = new Request("http://127.0.0.1" + target);
    templates.set(target, template);
  }
  const req = new Request(template, INIT);
  const headers = req.headers;
  for (let i = 1; i < lines.length - 2; i++) {
    const line = lines[i];
    const colon = line.indexOf(":");
    headers.append(line.slice(0, colon), line.slice(colon + 2));
  }
  const res = handler(req, info);
  head = "HTTP/1.1 " + res.status + " OK\r\n";
  res.headers.forEach(addField);
  let text = head;
  let body: Uint8Array;
  if (mode === "bytes") body = await res.bytes();
  else {
    const reader = res.body!.getReader();
    const first = await reader.read();
    body = first.value!;
    while (!(await reader.read()).done) {
      // A floor needs no more than the first chunk of a static body.
    }
  }
  text += "date: " + DATE + "\r\ncontent-length: " + body.length + "\r\n\r\n";
  // Output buffers are pooled: one a connection would cost memory, one a
  // write would cost garbage.
  const out = pool.pop() ?? new Uint8Array(2048);
  const { written } = encoder.encodeInto(text, out);
  out.set(body, written);
  try {
    await conn.write(out.subarray(0, written + body.length));
  } finally {
    if (pool.length < 64) pool.push(out);
  }
}

async function serveConn(conn: Deno.TcpConn): Promise<void> {
  const buf = new Uint8Array(bufferSize);
  conn.setNoDelay(true);
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    if (mode === "socket") await conn.write(PREBUILT);
    else await respond(conn, buf, n);
  }
}

await listenAndServe(port, serveConn);
