// Copyright 2026 the Reaper authors. MIT license.
// Connection limits end to end, on both engines: an idle flood at
// maxConnections cannot lock out another client.
import { assertEquals } from "@std/assert";
import { serve } from "./mod.ts";
import type { CloseReason } from "./types.ts";
import { LOOPBACK } from "./testdata/serve.ts";

const encoder = new TextEncoder();
const GET = encoder.encode("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");

/** Sends one request and reads until the response's body has come. */
async function request(conn: Deno.Conn): Promise<string> {
  await conn.write(GET);
  const buf = new Uint8Array(4096);
  let text = "";
  while (!text.endsWith("ok")) {
    const n = await conn.read(buf);
    if (n === null) break;
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
  return text;
}

for (const engine of ["native", "portable"] as const) {
  Deno.test(`server (${engine}) at maxConnections closes the longest-idle connection for a newcomer`, async () => {
    const closes: { port: number; reason: CloseReason | undefined }[] = [];
    const closed = new Map<number, PromiseWithResolvers<void>>();
    const server = serve({
      ...LOOPBACK,
      engine,
      maxConnections: 3,
      onConnectionState(e) {
        if (e.state !== "closed" || !("port" in e.remoteAddr)) return;
        closes.push({ port: e.remoteAddr.port, reason: e.reason });
        closed.get(e.remoteAddr.port)?.resolve();
      },
    }, () => new Response("ok"));
    const port = server.addr.port;
    const flood: Deno.TcpConn[] = [];
    const others: Deno.TcpConn[] = [];
    try {
      // The flood: three idle keep-alive connections, oldest first.
      for (let i = 0; i < 3; i++) {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        closed.set(
          (conn.localAddr as Deno.NetAddr).port,
          Promise.withResolvers(),
        );
        assertEquals((await request(conn)).startsWith("HTTP/1.1 200"), true);
        flood.push(conn);
      }
      // Another client still gets answers: each time the oldest idle
      // connection of the flood makes room. (Its connections stay open, so
      // that every one of them needs room.)
      for (let i = 0; i < 2; i++) {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        others.push(conn);
        assertEquals((await request(conn)).startsWith("HTTP/1.1 200"), true);
        const oldest = (flood[i].localAddr as Deno.NetAddr).port;
        await closed.get(oldest)!.promise;
      }
      const evicted = closes.filter((c) => c.reason === "evicted").map((c) =>
        c.port
      );
      assertEquals(
        evicted,
        flood.slice(0, 2).map((c) => (c.localAddr as Deno.NetAddr).port),
      );
      assertEquals(server.stats().closed.maxConnections, 0);
    } finally {
      for (const conn of [...flood, ...others]) conn.close();
      await server.close();
    }
  });
}
