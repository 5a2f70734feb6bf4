// Copyright 2026 the Reaper authors. MIT license.
/**
 * Benchmark server: a naive HTTP/1.1 server on `Deno.listen` answering
 * `Hello, World!`, the yardstick of `/work/shared/FACTS.md` ("TS HTTP/1.1 on
 * `Deno.listen`, naive"). Per connection a read loop into a 16 KiB buffer;
 * each head is split as a string, turned into
 * `new Request(url, { method, headers })`, given to the handler, and the
 * response is sent as one `conn.write` of head and `await res.bytes()`.
 * No request bodies, no timeouts, no error handling worth the name: a
 * measuring stick, not a server.
 *
 * Usage: `deno run --allow-net bench/servers/naive_listen.ts [PORT]`. Listens
 * on 127.0.0.1 (PORT 0 = any free port) and prints
 * `Listening on http://127.0.0.1:PORT/` once ready.
 *
 * @module
 */

import { listenAndServe } from "./_listen.ts";

const port = Number(Deno.args[0] ?? "8000");
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function handler(_req: Request): Response {
  return new Response("Hello, World!");
}

async function serveConn(conn: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(16384);
  let pending = "";
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    pending += decoder.decode(buf.subarray(0, n));
    let end: number;
    while ((end = pending.indexOf("\r\n\r\n")) !== -1) {
      const lines = pending.slice(0, end).split("\r\n");
      pending = pending.slice(end + 4);
      const [method, target] = lines[0].split(" ");
      const headers: [string, string][] = [];
      let host = "localhost";
      for (let i = 1; i < lines.length; i++) {
        const colon = lines[i].indexOf(":");
        const name = lines[i].slice(0, colon);
        const value = lines[i].slice(colon + 1).trim();
        if (name.toLowerCase() === "host") host = value;
        headers.push([name, value]);
      }
      const req = new Request(`http://${host}${target}`, {
        method,
        headers,
      });
      const res = await handler(req);
      const body = await res.bytes();
      let head = `HTTP/1.1 ${res.status} ${res.statusText || "OK"}\r\n`;
      res.headers.forEach((value, name) => head += `${name}: ${value}\r\n`);
      head += `content-length: ${body.length}\r\n\r\n`;
      const h = encoder.encode(head);
      const out = new Uint8Array(h.length + body.length);
      out.set(h);
      out.set(body, h.length);
      await conn.write(out);
    }
  }
}

await listenAndServe(port, serveConn);
