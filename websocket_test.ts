// Copyright 2026 the Reaper authors. MIT license.
import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import NodeWebSocket from "npm:ws@8.23.0";
import { createPortableEngine } from "./_portable.ts";
import { serve, type Server } from "./server.ts";
import type { ServeHandler } from "./types.ts";
import { upgradeWebSocket, type UpgradeWebSocketOptions } from "./websocket.ts";
import { serveLoopback } from "./testdata/hooks.ts";
import { commandPath } from "./testdata/tools.ts";
import {
  frame,
  handshake,
  RawClient,
  SAMPLE_ACCEPT,
} from "./testdata/ws_raw.ts";
import { LOOPBACK } from "./testdata/serve.ts";

const ENGINES = ["portable", "native"] as const;
type EngineName = typeof ENGINES[number];

/** What a server socket saw, in order: `open`, `message:…`, `error:…`, `close:CODE:REASON:CLEAN`. */
interface Seen {
  events: string[];
  /** Settles with the server's close event. */
  closed: Promise<CloseEvent>;
  socket: WebSocket;
}

/**
 * An echo handler: upgrades with `options` (synchronously, or after an
 * `await` when `async`), echoes every message, and records each socket's
 * events into `seen`.
 */
function echoHandler(
  seen: Seen[],
  options: UpgradeWebSocketOptions = {},
  async = false,
): ServeHandler {
  const upgrade = (req: Request): Response => {
    const { socket, response } = upgradeWebSocket(req, options);
    const events: string[] = [];
    const { promise, resolve } = Promise.withResolvers<CloseEvent>();
    socket.onopen = () => events.push("open");
    socket.onmessage = (e) => {
      events.push(
        typeof e.data === "string"
          ? `message:${e.data.length > 32 ? e.data.length : e.data}`
          : `binary:${(e.data as ArrayBuffer).byteLength}`,
      );
      socket.send(e.data);
    };
    socket.onerror = (e) => events.push(`error:${(e as ErrorEvent).message}`);
    socket.onclose = (e) => {
      events.push(`close:${e.code}:${e.reason}:${e.wasClean}`);
      resolve(e);
    };
    seen.push({ events, closed: promise, socket });
    return response;
  };
  if (!async) return upgrade;
  return async (req) => {
    await new Promise((resolve) => setTimeout(resolve, 1));
    return upgrade(req);
  };
}

function start(
  engine: EngineName,
  handler: ServeHandler,
  options: Record<string, unknown> = {},
): Server {
  return serve({ ...LOOPBACK, engine, ...options }, handler);
}

/** A Deno `WebSocket` client, open. */
async function openClient(
  server: Server,
  protocols?: string[],
): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${server.addr.port}/`, protocols);
  ws.binaryType = "arraybuffer";
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = (e) => reject(new Error(`open failed: ${e.type}`));
  });
  return ws;
}

/** The next message; rejects if the socket closes first. */
function nextMessage(ws: WebSocket): Promise<MessageEvent> {
  return new Promise((resolve, reject) => {
    const onClose = (e: Event) =>
      reject(new Error(`closed (${(e as CloseEvent).code}) before a message`));
    ws.addEventListener("close", onClose, { once: true });
    ws.addEventListener("message", (e) => {
      ws.removeEventListener("close", onClose);
      resolve(e);
    }, { once: true });
  });
}

function closeOf(ws: WebSocket): Promise<CloseEvent> {
  return new Promise((resolve) =>
    ws.addEventListener("close", resolve as (e: Event) => void, { once: true })
  );
}

for (const engine of ENGINES) {
  Deno.test(`upgradeWebSocket() echoes text, binary and 64 KiB messages to a Deno client (${engine})`, async () => {
    const seen: Seen[] = [];
    const server = start(engine, echoHandler(seen, { protocol: "chat" }));
    const ws = await openClient(server, ["other", "chat"]);
    assertEquals(ws.protocol, "chat");
    const replies: unknown[] = [];
    const big = new Uint8Array(65536).map((_, i) => i * 7);
    const bigText = "é".repeat(40000);
    for (const data of ["hello", new Uint8Array([1, 2, 3]), big, bigText, ""]) {
      const reply = nextMessage(ws);
      ws.send(data);
      replies.push((await reply).data);
    }
    assertEquals(replies[0], "hello");
    assertEquals(
      new Uint8Array(replies[1] as ArrayBuffer),
      new Uint8Array([1, 2, 3]),
    );
    assertEquals(new Uint8Array(replies[2] as ArrayBuffer), big);
    assertEquals(replies[3], bigText);
    assertEquals(replies[4], "");
    const closed = closeOf(ws);
    ws.close(4000, "bye");
    const event = await closed;
    assertEquals([event.code, event.reason, event.wasClean], [
      4000,
      "bye",
      true,
    ]);
    await seen[0].closed;
    assertEquals(seen[0].events, [
      "open",
      "message:hello",
      "binary:3",
      "binary:65536",
      "message:40000",
      "message:",
      "close:4000:bye:true",
    ]);
    await server.shutdown();
    assertEquals(server.stats().closed.done + server.stats().closed.client, 1);
  });

  Deno.test(`upgradeWebSocket() serves an npm ws client: fragments, ping/pong, close codes (${engine})`, async () => {
    const seen: Seen[] = [];
    const server = start(engine, echoHandler(seen));
    const ws = new NodeWebSocket(`ws://127.0.0.1:${server.addr.port}/`);
    const messages: string[] = [];
    const pongs: string[] = [];
    const { promise: three, resolve: gotThree } = Promise.withResolvers<void>();
    ws.on("message", (data: Uint8Array, binary: boolean) => {
      messages.push(binary ? `binary:${data.length}` : String(data));
      if (messages.length === 3) gotThree();
    });
    ws.on("pong", (data: Uint8Array) => pongs.push(String(data)));
    await new Promise((resolve) => ws.on("open", resolve));
    // A fragmented text message, a ping between its fragments, then a
    // fragmented binary message and one of 64 KiB.
    ws.send("frag", { fin: false });
    ws.ping("between");
    ws.send("mented", { fin: true });
    ws.send(new Uint8Array(1000), { binary: true, fin: false });
    ws.send(new Uint8Array(24), { binary: true, fin: true });
    ws.send(new Uint8Array(65536), { binary: true });
    await three;
    assertEquals(messages, ["fragmented", "binary:1024", "binary:65536"]);
    assertEquals(pongs, ["between"]);
    const closed = new Promise<[number, string]>((resolve) =>
      ws.on(
        "close",
        (code: number, reason: Uint8Array) => resolve([code, String(reason)]),
      )
    );
    ws.close(4001, "done here");
    assertEquals(await closed, [4001, "done here"]);
    const event = await seen[0].closed;
    assertEquals([event.code, event.reason, event.wasClean], [
      4001,
      "done here",
      true,
    ]);
    await server.shutdown();
  });

  Deno.test(`server.shutdown() closes open WebSockets with 1001 (${engine})`, async () => {
    const seen: Seen[] = [];
    const server = start(engine, echoHandler(seen), { shutdownTimeout: 5000 });
    const ws = await openClient(server);
    const reply = nextMessage(ws);
    ws.send("x");
    await reply;
    assertEquals(server.stats().open.writing, 1);
    assertEquals(server.stats().webSockets, 1);
    const closed = closeOf(ws);
    await server.shutdown();
    const event = await closed;
    assertEquals([event.code, event.wasClean], [1001, true]);
    // A closing handshake ("done"), not the cut at shutdownTimeout
    // ("shutdown").
    assertEquals(server.stats().closed.done, 1);
    assertEquals(server.stats().closed.shutdown, 0);
    assertEquals(server.stats().webSockets, 0);
    // The client echoes the code.
    assertEquals((await seen[0].closed).code, 1001);
  });
}

for (
  const [engine, async] of [
    ["portable", false],
    ["portable", true],
    ["native", false],
  ] as const
) {
  Deno.test(`a burst of 200 WebSockets all open and echo (${engine}, ${async ? "async" : "sync"} handler)`, async () => {
    const seen: Seen[] = [];
    const server = start(engine, echoHandler(seen, {}, async));
    const results = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const ws = new WebSocket(`ws://127.0.0.1:${server.addr.port}/`);
        try {
          await new Promise<void>((resolve, reject) => {
            ws.onopen = () => resolve();
            ws.onclose = () => reject(new Error("closed"));
          });
          const reply = nextMessage(ws);
          ws.send(`n${i}`);
          const ok = (await reply).data === `n${i}`;
          const closed = closeOf(ws);
          ws.close();
          await closed;
          return ok;
        } catch {
          return false;
        }
      }),
    );
    assertEquals(results.filter((ok) => ok).length, 200);
    await Promise.all(seen.map((s) => s.closed));
    await server.shutdown();
    assertEquals(server.stats().accepted, 200);
  });
}

// ------------------------------------------------- portable engine, raw wire

function portable(
  options: UpgradeWebSocketOptions = {},
  serverOptions: Record<string, unknown> = {},
): { server: Server; seen: Seen[] } {
  const seen: Seen[] = [];
  return {
    server: start("portable", echoHandler(seen, options), serverOptions),
    seen,
  };
}

Deno.test("portable handshake answers 101 with the accept key and takes buffered frames", async () => {
  const { server, seen } = portable();
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: server.addr.port,
  });
  const client = new RawClient(conn);
  // The first frame comes in the same write as the handshake.
  const head = new TextEncoder().encode(handshake());
  const hello = frame(1, "early");
  const both = new Uint8Array(head.length + hello.length);
  both.set(head);
  both.set(hello, head.length);
  await client.write(both);
  const response = await client.readHead();
  assertStringIncludes(response, "HTTP/1.1 101 Switching Protocols\r\n");
  assertStringIncludes(response, `sec-websocket-accept: ${SAMPLE_ACCEPT}\r\n`);
  assertStringIncludes(response, "upgrade: websocket\r\n");
  assertStringIncludes(response, "connection: Upgrade\r\n");
  const echoed = await client.readFrame();
  assertEquals(new TextDecoder().decode(echoed!.payload), "early");
  await client.sendClose(1000);
  assertEquals((await client.readClose()).code, 1000);
  assert(await client.eof());
  client.close();
  await seen[0].closed;
  await server.shutdown();
});

for (
  const [name, bytes] of [
    ["an unmasked frame", frame(1, "x", { mask: false })],
    ["reserved bits", frame(1, "x", { rsv: 4 })],
    ["a reserved opcode", frame(3, "x")],
    ["a fragmented ping", frame(9, "x", { fin: false })],
    ["a ping over 125 bytes", frame(9, new Uint8Array(126))],
    ["a continuation without a message", frame(0, "x")],
    [
      "a new message inside a fragmented one",
      (() => {
        const a = frame(1, "a", { fin: false });
        const b = frame(1, "b");
        const out = new Uint8Array(a.length + b.length);
        out.set(a);
        out.set(b, a.length);
        return out;
      })(),
    ],
    ["a close frame with an invalid code", frame(8, new Uint8Array([3, 0xed]))],
    ["a close frame of one byte", frame(8, new Uint8Array([3]))],
  ] as const
) {
  Deno.test(`portable WebSocket closes with 1002 on ${name}`, async () => {
    const { server, seen } = portable();
    const { client } = await RawClient.open(server.addr.port);
    await client.write(bytes);
    const close = await client.readClose();
    assertEquals(close.code, 1002);
    assert(await client.eof(), "the server closes the connection");
    client.close();
    const event = await seen[0].closed;
    assertEquals([event.code, event.wasClean], [1006, false]);
    assert(seen[0].events.some((e) => e.startsWith("error:")));
    await server.shutdown();
    assertEquals(server.stats().closed.error, 1);
  });
}

Deno.test("portable WebSocket closes with 1007 on invalid UTF-8, whole or fragmented", async () => {
  const { server, seen } = portable();
  for (
    const frames of [
      [frame(1, new Uint8Array([0x68, 0xc3, 0x28]))],
      [
        frame(1, new Uint8Array([0xce, 0xba]), { fin: false }),
        frame(0, new Uint8Array([0xff])),
      ],
      [
        frame(1, new Uint8Array([0xe2, 0x82]), { fin: false }),
        frame(0, new Uint8Array(0)),
      ],
    ]
  ) {
    const { client } = await RawClient.open(server.addr.port);
    for (const f of frames) await client.write(f);
    assertEquals((await client.readClose()).code, 1007);
    assert(await client.eof());
    client.close();
  }
  await Promise.all(seen.map((s) => s.closed));
  assertEquals(
    seen.map((s) => s.events.at(-1)),
    Array(3).fill("close:1006::false"),
  );
  await server.shutdown();
});

Deno.test("portable WebSocket joins a text message split inside a UTF-8 sequence", async () => {
  const { server, seen } = portable();
  const { client } = await RawClient.open(server.addr.port);
  // "κόσμε" split inside its second character, a ping in between.
  const bytes = new TextEncoder().encode("κόσμε");
  await client.write(frame(1, bytes.subarray(0, 3), { fin: false }));
  await client.write(frame(9, "p"));
  await client.write(frame(0, bytes.subarray(3)));
  const pong = await client.readFrame();
  assertEquals([pong!.opcode, new TextDecoder().decode(pong!.payload)], [
    10,
    "p",
  ]);
  const echo = await client.readFrame();
  assertEquals(new TextDecoder().decode(echo!.payload), "κόσμε");
  await client.sendClose();
  assertEquals((await client.readClose()).code, 1005);
  client.close();
  const event = await seen[0].closed;
  assertEquals([event.code, event.wasClean], [1005, true]);
  await server.shutdown();
});

Deno.test("portable WebSocket closes with 1009 past maxMessageSize", async () => {
  const { server, seen } = portable({ maxMessageSize: 1000 });
  const { client } = await RawClient.open(server.addr.port);
  await client.write(frame(2, new Uint8Array(1000)));
  assertEquals((await client.readFrame())!.payload.length, 1000);
  await client.write(frame(2, new Uint8Array(600), { fin: false }));
  await client.write(frame(0, new Uint8Array(600)));
  assertEquals((await client.readClose()).code, 1009);
  assert(await client.eof());
  client.close();
  assertEquals(seen[0].events.at(-2), "error:Message too big");
  await server.shutdown();
});

Deno.test("portable WebSocket heartbeat reaps a client that never answers a ping", async () => {
  const { server, seen } = portable({ idleTimeout: 1 });
  const { client } = await RawClient.open(server.addr.port);
  const t0 = performance.now();
  const close = await client.readClose();
  const elapsed = performance.now() - t0;
  assertEquals(close, {
    code: 1001,
    reason: "No response from ping frame.",
    seen: [9, 8],
  });
  assert(elapsed >= 990, `closed after ${elapsed} ms, before idleTimeout`);
  assert(await client.eof());
  client.close();
  await seen[0].closed;
  assertEquals(seen[0].events, [
    "open",
    "error:No response from ping frame.",
    "close:1001:No response from ping frame.:false",
  ]);
  await server.shutdown();
  assertEquals(server.stats().closed.idle, 1);
});

Deno.test("portable WebSocket heartbeat keeps a client that answers its pings", async () => {
  const { server, seen } = portable({ idleTimeout: 0.4 });
  const { client } = await RawClient.open(server.addr.port);
  for (let i = 0; i < 2; i++) {
    const ping = await client.readFrame();
    assertEquals(ping!.opcode, 9);
    await client.send(10, ping!.payload);
  }
  assertEquals(seen[0].socket.readyState, WebSocket.OPEN);
  await client.sendClose(1000);
  assertEquals((await client.readClose()).code, 1000);
  client.close();
  await seen[0].closed;
  await server.shutdown();
});

Deno.test("portable WebSocket fails with 'Send buffer full' when the client does not read", async () => {
  const seen: { buffered: number[]; events: string[] } = {
    buffered: [],
    events: [],
  };
  const { promise: closed, resolve } = Promise.withResolvers<void>();
  const server = start("portable", (req) => {
    const { socket, response } = upgradeWebSocket(req, {
      maxBufferedAmount: 1 << 20,
    });
    socket.onopen = () => {
      const chunk = new Uint8Array(65536);
      for (let i = 0; i < 64 && socket.readyState === WebSocket.OPEN; i++) {
        socket.send(chunk);
        seen.buffered.push(socket.bufferedAmount);
      }
    };
    socket.onerror = (e) => seen.events.push((e as ErrorEvent).message);
    socket.onclose = (e) => {
      seen.events.push(`close:${e.code}`);
      resolve();
    };
    return response;
  });
  const { client } = await RawClient.open(server.addr.port);
  await closed;
  // Writes never finish synchronously: the queue grew by each send, to the
  // limit (one 64 KiB message past 1 MiB would overflow).
  assertEquals(seen.buffered.slice(0, 3), [65536, 131072, 196608]);
  assertEquals(Math.max(...seen.buffered), 1 << 20);
  assertEquals(seen.events, ["Send buffer full", "close:1006"]);
  client.close();
  await server.shutdown();
});

Deno.test("portable upgradeWebSocket() refuses a bad handshake with the runtime's TypeErrors", async () => {
  const errors: string[] = [];
  const server = start("portable", (req) => {
    try {
      return upgradeWebSocket(req, { protocol: "chat" }).response;
    } catch (error) {
      assertInstanceOf(error, TypeError);
      errors.push((error as TypeError).message);
      return new Response(null, { status: 400 });
    }
  });
  const base = "Host: localhost\r\nSec-WebSocket-Protocol: chat\r\n";
  const cases = [
    [
      "GET",
      "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n",
    ],
    [
      "GET",
      "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
    ],
    [
      "GET",
      "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: short\r\n",
    ],
    ["GET", "Upgrade: h2c\r\nConnection: Upgrade\r\n"],
    ["GET", "Upgrade: websocket\r\nConnection: keep-alive\r\n"],
    [
      "DELETE",
      "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
    ],
  ];
  for (const [method, fields] of cases) {
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: server.addr.port,
    });
    const client = new RawClient(conn);
    await client.write(
      new TextEncoder().encode(
        `${method} / HTTP/1.1\r\n${base}${fields}Connection: close\r\n\r\n`,
      ),
    );
    assertStringIncludes(await client.readHead(), "HTTP/1.1 400 ");
    client.close();
  }
  // Not offered: the protocol check.
  const { client } = await RawClient.open(
    server.addr.port,
    handshake("Sec-WebSocket-Protocol: a, b\r\n"),
  );
  client.close();
  assertEquals(errors, [
    "Invalid Header: 'sec-websocket-key' header must be set",
    "Invalid Header: 'sec-websocket-version' header must be '13', received '8'",
    "Invalid Header: 'sec-websocket-key' header must be 16 bytes in base64, received 'short'",
    "Invalid Header: 'upgrade' header must contain 'websocket'",
    // No `Connection: upgrade`: not the engine's to upgrade, so the runtime's
    // own check speaks.
    "Invalid Header: 'connection' header must contain 'Upgrade'",
    "Invalid method: a WebSocket handshake must be a GET request, received 'DELETE'",
    "Protocol 'chat' not in the request's protocol list (non negotiable)",
  ]);
  await server.shutdown();
});

Deno.test("portable engine answers Deno.upgradeWebSocket()'s 101 with a 501 naming upgradeWebSocket()", async () => {
  const server = start(
    "portable",
    (req) => Deno.upgradeWebSocket(req).response,
  );
  const { client, head } = await RawClient.open(server.addr.port);
  assertStringIncludes(head, "HTTP/1.1 501 ");
  assertStringIncludes(
    await client.readToEnd(),
    "use upgradeWebSocket() from Reaper's mod.ts",
  );
  client.close();
  await server.shutdown();
});

Deno.test("portable ServerWebSocket has the WebSocket members and checks close()", async () => {
  const checks: Promise<void>[] = [];
  const server = start("portable", (req) => {
    const { socket, response } = upgradeWebSocket(req);
    assertEquals(socket.readyState, WebSocket.CONNECTING);
    assertEquals([
      socket.binaryType,
      socket.extensions,
      socket.url,
      socket.protocol,
    ], ["arraybuffer", "", "", ""]);
    assertEquals([
      socket.CONNECTING,
      socket.OPEN,
      socket.CLOSING,
      socket.CLOSED,
    ], [0, 1, 2, 3]);
    assertThrows(
      () => socket.send("early"),
      DOMException,
      "'readyState' not OPEN",
    );
    socket.binaryType = "blob";
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    checks.push(promise);
    socket.addEventListener("open", () => {
      try {
        assertEquals(socket.readyState, WebSocket.OPEN);
        assertThrows(() => socket.close(1005), DOMException, "received 1005");
        assertThrows(
          () => socket.close(1000, "x".repeat(124)),
          DOMException,
          "123 bytes",
        );
      } catch (error) {
        reject(error);
      }
    });
    socket.onmessage = async (e) => {
      try {
        assertInstanceOf(e, MessageEvent);
        assertInstanceOf(e.data, Blob);
        // A Blob is sent after what was sent before it, in order.
        socket.send(e.data);
        socket.send("after");
        socket.close(1000, "ok");
        socket.send("dropped");
        assertEquals(socket.readyState, WebSocket.CLOSING);
        assertEquals(await (e.data as Blob).text(), "\x01\x02");
        resolve();
      } catch (error) {
        reject(error);
      }
    };
    return response;
  });
  const ws = await openClient(server);
  const got: unknown[] = [];
  ws.onmessage = (e) => got.push(e.data);
  const closed = closeOf(ws);
  ws.send(new Uint8Array([1, 2]));
  const event = await closed;
  await Promise.all(checks);
  assertEquals(got.length, 2);
  assertEquals(new Uint8Array(got[0] as ArrayBuffer), new Uint8Array([1, 2]));
  assertEquals(got[1], "after");
  assertEquals([event.code, event.reason], [1000, "ok"]);
  await server.shutdown();
});

Deno.test("portable upgraded connection reports its hooks: no requestEnd(), closeIdle() says 1001, close() drops it", async () => {
  const seen: Seen[] = [];
  await using harness = serveLoopback(
    createPortableEngine(),
    echoHandler(seen),
  );
  const port = harness.port;
  const first = await RawClient.open(port);
  const { hooks, connection } = await harness.next();
  await first.client.write(frame(1, "hi"));
  await first.client.readFrame();
  assertEquals(hooks.events.filter((e) => !e.startsWith("peer")), [
    "headStart",
    "requestStart",
    "responseStart",
  ]);
  assertEquals(hooks.timeouts, [0]);
  connection.closeIdle();
  assertEquals(await first.client.readClose(), {
    code: 1001,
    reason: "",
    seen: [8],
  });
  await first.client.sendClose(1001);
  assert(await first.client.eof());
  assertEquals(await hooks.reason, "done");
  first.client.close();

  const second = await RawClient.open(port);
  const served = await harness.next();
  connection.close("shutdown");
  served.connection.close("requestTimeout");
  assert(await second.client.eof(), "dropped without a close frame");
  assertEquals(await served.hooks.reason, "requestTimeout");
  const event = await seen[1].closed;
  assertEquals([event.code, event.wasClean], [1006, false]);
  await served.connection.finished;
  second.client.close();
});

Deno.test("portable WebSocket reports a vanished client as 1006 and 'client'", async () => {
  const { server, seen } = portable();
  const { client } = await RawClient.open(server.addr.port);
  await client.write(frame(1, "x"));
  await client.readFrame();
  client.close();
  const event = await seen[0].closed;
  assertEquals([event.code, event.wasClean], [1006, false]);
  await server.shutdown();
  assertEquals(server.stats().closed.client, 1);
});

// ------------------------------------------------------ npm ws under Node

const node = commandPath("node");

Deno.test({
  name:
    "upgradeWebSocket() serves the npm ws client running under Node (both engines)",
  ignore: node === undefined,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "reaper_ws_" });
    try {
      const npm = new Deno.Command("npm", {
        args: ["install", "--silent", "--no-audit", "--no-fund", "ws@8.23.0"],
        cwd: dir,
        stdout: "null",
        stderr: "piped",
      });
      const installed = await npm.output();
      if (!installed.success) {
        console.warn(
          "npm install ws failed; skipped:",
          new TextDecoder().decode(installed.stderr),
        );
        return;
      }
      const script = new URL("./testdata/ws_node_client.cjs", import.meta.url);
      await Deno.copyFile(script, `${dir}/client.cjs`);
      for (const engine of ENGINES) {
        const seen: Seen[] = [];
        const server = start(engine, echoHandler(seen));
        const run = await new Deno.Command(node!, {
          args: ["client.cjs", `ws://127.0.0.1:${server.addr.port}/`],
          cwd: dir,
          stdout: "piped",
          stderr: "piped",
        }).output();
        const out = new TextDecoder().decode(run.stdout).trim();
        assert(run.success, new TextDecoder().decode(run.stderr));
        assertEquals(JSON.parse(out), {
          messages: ["hello", "fragmented", "binary:65536"],
          pongs: ["p"],
          close: [4002, "node"],
        });
        const event = await seen[0].closed;
        assertEquals([event.code, event.reason], [4002, "node"]);
        await server.shutdown();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
