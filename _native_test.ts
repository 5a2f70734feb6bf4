// Copyright 2026 the Reaper authors. MIT license.
import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertMatch,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import type { Engine, EngineConnection } from "./_engine.ts";
import type { ServeHandler } from "./types.ts";
import {
  createNativeEngine,
  findServeHttpOnConnection,
  probeNativeEngine,
  type ServeOnConn,
} from "./_native.ts";
import { serve } from "./server.ts";
import { type Recorder, recorder, serveLoopback } from "./testdata/hooks.ts";

const encoder = new TextEncoder();
const GET = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";

interface Setup extends AsyncDisposable {
  client: Deno.Conn;
  hooks: Recorder;
  connection: EngineConnection;
  errors: unknown[];
}

/** One connection served by the native engine, and its raw client. */
async function setup(
  handler: ServeHandler,
  configure: (hooks: Recorder) => void = () => {},
  engine: Engine = createNativeEngine(),
): Promise<Setup> {
  const server = serveLoopback(engine, handler, {
    setup: configure,
    onError: () => new Response("handled", { status: 500 }),
  });
  const client = await server.connect();
  const { hooks, connection } = await server.next();
  return {
    client,
    hooks,
    connection,
    errors: server.errors,
    [Symbol.asyncDispose]: () => server[Symbol.asyncDispose](),
  };
}

/** Reads one response (head plus `content-length` body) as text. */
async function readResponse(conn: Deno.Conn): Promise<string> {
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(8192);
  let text = "";
  while (true) {
    const n = await conn.read(buffer);
    if (n === null) return text;
    text += decoder.decode(buffer.subarray(0, n));
    const end = text.indexOf("\r\n\r\n");
    if (end === -1) continue;
    const length = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end));
    if (length && text.length >= end + 4 + Number(length[1])) return text;
    if (!length && text.endsWith("\r\n0\r\n\r\n")) return text;
  }
}

/** Reads until the text read (after `sofar`) contains `needle`. */
async function readUntil(
  conn: Deno.Conn,
  needle: string,
  sofar = "",
): Promise<string> {
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(8192);
  let text = sofar;
  while (!text.includes(needle)) {
    const n = await conn.read(buffer);
    if (n === null) throw new Error(`EOF before ${JSON.stringify(needle)}`);
    text += decoder.decode(buffer.subarray(0, n));
  }
  return text;
}

async function request(conn: Deno.Conn, raw = GET): Promise<string> {
  await conn.write(encoder.encode(raw));
  return await readResponse(conn);
}

/** Resolves to `"eof"` when the peer closes (or resets), `"data"` if bytes come. */
async function readEof(conn: Deno.Conn): Promise<string> {
  return await conn.read(new Uint8Array(64)).then(
    (n) => n === null ? "eof" : "data",
    () => "eof",
  );
}

function header(response: string, name: string): string | null {
  const match = new RegExp(`\\r\\n${name}: *([^\\r]*)`, "i").exec(
    response.slice(0, response.indexOf("\r\n\r\n")),
  );
  return match ? match[1] : null;
}

/** The runtime's real entry point; the tests wrap it in fakes. */
function runtimeEntryPoint(): ServeOnConn {
  const found = findServeHttpOnConnection();
  if (typeof found === "string") throw new Error(found);
  return found;
}

Deno.test("findServeHttpOnConnection() finds the entry point on this runtime", () => {
  assertEquals(typeof findServeHttpOnConnection(), "function");
});

Deno.test("findServeHttpOnConnection() gives a reason for a wrong shape", () => {
  assertEquals(
    findServeHttpOnConnection({}),
    "Deno.internal is missing",
  );
  assertEquals(
    findServeHttpOnConnection(null),
    "the Deno namespace is missing",
  );
  const internal = Symbol("internal");
  assertEquals(
    findServeHttpOnConnection({ internal, [internal]: {} }),
    "Deno[Deno.internal].serveHttpOnConnection is missing",
  );
  assertMatch(
    findServeHttpOnConnection({
      internal,
      [internal]: { serveHttpOnConnection: (_a: unknown) => {} },
    }) as string,
    /takes 1 parameters, expected 5/,
  );
  assertMatch(
    findServeHttpOnConnection({
      internal,
      get [internal]() {
        throw new Error("boom");
      },
    }) as string,
    /threw: Error: boom/,
  );
});

Deno.test("createNativeEngine() throws a TypeError without the entry point", () => {
  assertThrows(
    () => createNativeEngine({ denoNs: {} }),
    TypeError,
    "Cannot create the native engine: Deno.internal is missing",
  );
  const engine = createNativeEngine();
  assertEquals(engine.name, "native");
  assertEquals(engine.tracksBytes, false);
});

Deno.test("native engine reports the hook sequence of two keep-alive requests", async () => {
  let n = 0;
  await using s = await setup(() => new Response(`r${++n}`));
  const first = await request(s.client);
  assertMatch(first, /^HTTP\/1\.1 200 /);
  assert(first.endsWith("r1"));
  await s.hooks.waitFor("requestEnd");
  const second = await request(s.client);
  assert(second.endsWith("r2"));
  await s.hooks.waitFor("requestEnd", 2);
  assertEquals(header(second, "connection"), null);
  s.client.close();
  await s.connection.finished;
  assertEquals(s.hooks.events, [
    "requestStart",
    "responseStart",
    "requestEnd",
    "requestStart",
    "responseStart",
    "requestEnd",
    "closed:client",
  ]);
});

Deno.test("native engine sends Connection: close and closes when mustClose", async () => {
  await using s = await setup(
    () => new Response("bye"),
    (hooks) => hooks.mustClose = true,
  );
  const response = await request(s.client);
  assert(response.endsWith("bye"));
  assertEquals(header(response, "connection"), "close");
  assertEquals(await readEof(s.client), "eof");
  await s.connection.finished;
  assertEquals(s.hooks.closedReason, "done");
  assertEquals(s.hooks.events.filter((c) => c.startsWith("closed")).length, 1);
});

Deno.test("native engine sends the Keep-Alive header and keeps the connection", async () => {
  await using s = await setup(
    () => new Response("hi"),
    (hooks) => hooks.keepAlive = "timeout=5",
  );
  const response = await request(s.client);
  assertEquals(header(response, "keep-alive"), "timeout=5");
  assertEquals(header(response, "connection"), null);
  assert((await request(s.client)).endsWith("hi"));
});

Deno.test("native engine close() closes an idle connection with its reason", async () => {
  await using s = await setup(() => new Response("hi"));
  await request(s.client);
  s.connection.close("idle");
  s.connection.close("shutdown"); // idempotent: the first reason stays
  assertEquals(await readEof(s.client), "eof");
  await s.connection.finished;
  assertEquals(s.hooks.closedReason, "idle");
  assertEquals(s.hooks.events.at(-1), "closed:idle");
});

Deno.test("native engine close() aborts a request in flight", async () => {
  const { promise: never } = Promise.withResolvers<Response>();
  const entered = Promise.withResolvers<void>();
  await using s = await setup(() => {
    entered.resolve();
    return never;
  });
  await s.client.write(encoder.encode(GET));
  await entered.promise;
  s.connection.close("requestTimeout");
  assertEquals(await readEof(s.client), "eof");
  await s.connection.finished;
  assertEquals(s.hooks.events, ["requestStart", "closed:requestTimeout"]);
});

Deno.test("native engine closeIdle() closes an idle connection at once", async () => {
  await using s = await setup(() => new Response("hi"));
  await request(s.client);
  s.connection.closeIdle();
  assertEquals(await readEof(s.client), "eof");
  await s.connection.finished;
  assertEquals(s.hooks.closedReason, "shutdown");
});

Deno.test("native engine closeIdle() on a busy connection closes after the response", async () => {
  const { promise: respond, resolve } = Promise.withResolvers<Response>();
  const entered = Promise.withResolvers<void>();
  await using s = await setup(() => {
    entered.resolve();
    return respond;
  });
  await s.client.write(encoder.encode(GET));
  await entered.promise;
  s.connection.closeIdle();
  resolve(new Response("last"));
  const response = await readResponse(s.client);
  assert(response.endsWith("last"), response);
  assertEquals(header(response, "connection"), "close");
  assertEquals(await readEof(s.client), "eof");
  await s.connection.finished;
  assertEquals(s.hooks.closedReason, "done");
});

Deno.test("native engine adds headers to responses with immutable headers", async () => {
  const immutable = [
    () => Response.redirect("http://example.com/next", 302),
    () => fetch("data:text/plain,from-fetch"),
  ];
  let i = 0;
  await using s = await setup(
    () => immutable[i++](),
    (hooks) => hooks.keepAlive = "timeout=9",
  );
  const redirect = await request(s.client);
  assertMatch(redirect, /^HTTP\/1\.1 302 /);
  assertEquals(header(redirect, "location"), "http://example.com/next");
  assertEquals(header(redirect, "keep-alive"), "timeout=9");
  s.hooks.mustClose = true;
  const fetched = await request(s.client);
  assertStringIncludes(fetched, "\r\nfrom-fetch\r\n0\r\n\r\n");
  assertEquals(header(fetched, "content-type"), "text/plain");
  assertEquals(header(fetched, "connection"), "close");
  assertEquals(s.errors, []);
});

Deno.test("native engine hands handler errors and non-responses to onError", async () => {
  const boom = new Error("boom");
  const results: (() => unknown)[] = [
    () => {
      throw boom;
    },
    () => Promise.reject(boom),
    () => "not a response",
  ];
  let i = 0;
  await using s = await setup(() => results[i++]() as Response);
  for (let k = 0; k < results.length; k++) {
    const response = await request(s.client);
    assertMatch(response, /^HTTP\/1\.1 500 /);
    assert(response.endsWith("handled"));
  }
  assertEquals(s.errors.slice(0, 2), [boom, boom]);
  assertInstanceOf(s.errors[2], TypeError);
  await s.hooks.waitFor("requestEnd", 3);
  assertEquals(s.hooks.events.length, 9);
  assertEquals(s.hooks.events.filter((c) => c === "responseStart").length, 3);
});

Deno.test('native engine reports closed("error") for a closed connection', async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const client = await Deno.connect({
    hostname: "127.0.0.1",
    port: (listener.addr as Deno.NetAddr).port,
  });
  const conn = await accepted;
  listener.close();
  conn.close();
  const hooks = recorder(client.localAddr as Deno.NetAddr);
  const connection = createNativeEngine().serve(
    conn,
    hooks,
    () => new Response("x"),
    () => new Response("e"),
  );
  connection.close("idle"); // before the end: the reason wins over "error"
  await connection.finished;
  client.close();
  assertEquals(hooks.events, ["closed:idle"]);

  const hooks2 = recorder(client.localAddr as Deno.NetAddr);
  const connection2 = createNativeEngine().serve(
    conn,
    hooks2,
    () => new Response("x"),
    () => new Response("e"),
  );
  await connection2.finished;
  assertEquals(hooks2.events, ["closed:error"]);
});

Deno.test("native engine serves Deno fetch with keep-alive reuse", async () => {
  const server = serveLoopback(
    createNativeEngine(),
    async (req) => new Response(`echo ${await req.text()}`),
    {
      setup: (hooks) => hooks.keepAlive = "timeout=5",
      onError: () => new Response("e", { status: 500 }),
    },
  );
  const client = Deno.createHttpClient({});
  const url = `http://127.0.0.1:${server.port}/`;
  try {
    for (const body of ["a", "b", "c"]) {
      const res = await fetch(url, { method: "POST", body, client });
      assertEquals(res.headers.get("keep-alive"), "timeout=5");
      assertEquals(await res.text(), `echo ${body}`);
    }
    assertEquals(server.accepted.length, 1);
    await server.accepted[0].hooks.waitFor("requestEnd", 3);
    assertEquals(server.accepted[0].hooks.events.length, 9);
  } finally {
    await server[Symbol.asyncDispose]();
    client.close();
  }
  assertEquals(server.accepted[0].hooks.closedReason, "shutdown");
});

Deno.test("probeNativeEngine() passes on this runtime", async () => {
  assertEquals(await probeNativeEngine(), { ok: true });
});

Deno.test("probeNativeEngine() fails closed without the entry point", async () => {
  assertEquals(await probeNativeEngine({ denoNs: {} }), {
    ok: false,
    reason: "Deno.internal is missing",
  });
});

function fakeDeno(
  serveHttpOnConnection: (
    conn: Deno.Conn,
    signal: unknown,
    handler: unknown,
    onError: unknown,
    onListen: unknown,
  ) => unknown,
): unknown {
  const internal = Symbol("internal");
  return {
    internal,
    [internal]: {
      // Five declared parameters, like the real one.
      serveHttpOnConnection: (
        conn: Deno.Conn,
        signal: unknown,
        handler: unknown,
        onError: unknown,
        onListen: unknown,
      ) => serveHttpOnConnection(conn, signal, handler, onError, onListen),
    },
  };
}

Deno.test("probeNativeEngine() fails closed when the entry point throws", async () => {
  const result = await probeNativeEngine({
    denoNs: fakeDeno(() => {
      throw new Error("changed");
    }),
  });
  assertEquals(result.ok, false);
  assertMatch(
    (result as { reason: string }).reason,
    /^(unexpected answer to the probe request: ""|the probe failed: )/,
  );
});

Deno.test("probeNativeEngine() fails closed when the entry point never answers", async () => {
  const result = await probeNativeEngine({
    denoNs: fakeDeno(() => ({
      finished: new Promise(() => {}),
      shutdown: () => Promise.resolve(),
    })),
    timeout: 100,
  });
  assertEquals(result, { ok: false, reason: "no answer within 100 ms" });
});

Deno.test("probeNativeEngine() fails closed on a wrong answer", async () => {
  const real = runtimeEntryPoint();
  const result = await probeNativeEngine({
    denoNs: fakeDeno((conn, signal, _handler, onError, onListen) =>
      real(
        conn,
        signal as never,
        () => new Response("not ok", { status: 503 }),
        onError as never,
        onListen as never,
      )
    ),
  });
  assertEquals(result.ok, false);
  assertMatch(
    (result as { reason: string }).reason,
    /^unexpected answer to the probe request: "HTTP\/1\.1 503 /,
  );
});

Deno.test("probeNativeEngine() fails closed when the close paths do not work", async () => {
  const real = runtimeEntryPoint();
  // A runtime whose shutdown() does nothing: mustClose never closes.
  const noShutdown = await probeNativeEngine({
    denoNs: fakeDeno((conn, signal, handler, onError, onListen) => {
      const server = real(
        conn,
        signal as never,
        handler as never,
        onError as never,
        onListen as never,
      );
      return { finished: server.finished, shutdown: () => Promise.resolve() };
    }),
    timeout: 200,
  });
  assertEquals(noShutdown, { ok: false, reason: "no answer within 200 ms" });
});

Deno.test("native engine reports requestEnd only after a streamed body is sent", async () => {
  let push: ReadableStreamDefaultController<Uint8Array> | undefined;
  await using s = await setup(() =>
    new Response(
      new ReadableStream<Uint8Array>({
        start(controller) {
          push = controller;
          controller.enqueue(encoder.encode("part1 "));
        },
      }),
    )
  );
  await s.client.write(encoder.encode(GET));
  // The first chunk is on the wire: the response is still open.
  const first = await readUntil(s.client, "part1 ");
  assertEquals(s.hooks.events, ["requestStart", "responseStart"]);
  push!.enqueue(encoder.encode("part2"));
  push!.close();
  const response = await readUntil(s.client, "\r\n0\r\n\r\n", first);
  assertStringIncludes(response, "part1 ");
  assertStringIncludes(response, "part2");
  await s.hooks.waitFor("requestEnd");
  assertEquals(s.hooks.events.length, 3);
  assertEquals(s.hooks.events.at(-1), "requestEnd");
});

Deno.test("probeNativeEngine() fails closed when the handler info changes shape", async () => {
  const real = runtimeEntryPoint();
  const result = await probeNativeEngine({
    denoNs: fakeDeno((conn, signal, handler, onError, onListen) =>
      real(
        conn,
        signal as never,
        // No `completed` any more.
        (req, info) =>
          (handler as ServeHandler)(req, {
            remoteAddr: info.remoteAddr,
          } as never),
        onError as never,
        onListen as never,
      )
    ),
  });
  assertEquals(result.ok, false);
  assertMatch(
    (result as { reason: string }).reason,
    /^unexpected answer to the probe request: "HTTP\/1\.1 500 /,
  );
});

Deno.test("native engine close() falls back to a graceful close when the runtime takes no signal", async () => {
  const real = runtimeEntryPoint();
  const engine = createNativeEngine({
    denoNs: fakeDeno((conn, _signal, handler, onError, onListen) =>
      real(
        conn,
        undefined,
        handler as never,
        onError as never,
        onListen as never,
      )
    ),
  });
  await using s = await setup(() => new Response("hi"), undefined, engine);
  assert((await request(s.client)).endsWith("hi"));
  s.connection.close("idle");
  assertEquals(await readEof(s.client), "eof");
  await s.connection.finished;
  assertEquals(s.hooks.closedReason, "idle");
});

Deno.test('native engine reports "client" when the runtime ends HTTP/1.0 and malformed requests', async () => {
  for (
    const [raw, status] of [
      ["GET / HTTP/1.0\r\n\r\n", "200"],
      ["BAD\0REQUEST\r\n\r\n", "400"],
    ]
  ) {
    await using s = await setup(() => new Response("hi"));
    const response = await request(s.client, raw);
    assertMatch(response, new RegExp(`^HTTP/1\\.[01] ${status} `));
    assertEquals(await readEof(s.client), "eof");
    await s.connection.finished;
    assertEquals(s.hooks.closedReason, "client");
  }
});

/**
 * An echo handler that upgrades to a WebSocket: synchronously, or after
 * `delay` ms from an async handler.
 */
function echoSocket(delay = -1): ServeHandler {
  const upgrade = (request: Request): Response => {
    const { socket, response } = Deno.upgradeWebSocket(request);
    socket.onmessage = (event) => socket.send(`echo:${event.data}`);
    return response;
  };
  if (delay < 0) return upgrade;
  return async (request) => {
    const response = upgrade(request);
    await new Promise((resolve) => setTimeout(resolve, delay));
    return response;
  };
}

/** Sends `text` and resolves to the next message; rejects if the socket closes. */
function echoOn(socket: WebSocket, text: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const done = (): void => {
      socket.removeEventListener("message", onMessage);
      socket.removeEventListener("close", onClose);
    };
    const onMessage = (event: MessageEvent): void => {
      done();
      resolve(String(event.data));
    };
    const onClose = (): void => {
      done();
      reject(new Error("the WebSocket closed"));
    };
    socket.addEventListener("message", onMessage);
    socket.addEventListener("close", onClose);
    socket.send(text);
  });
}

/** Served WebSocket connections with a Deno `WebSocket` client. */
async function setupSocket(handler: ServeHandler): Promise<{
  socket: WebSocket;
  hooks: Recorder;
  connection: EngineConnection;
  closed: Promise<CloseEvent>;
  echo(text: string): Promise<string>;
}> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const socket = new WebSocket(
    `ws://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/`,
  );
  const closed = new Promise<CloseEvent>((resolve) => {
    socket.addEventListener("close", resolve);
  });
  const conn = await accepted;
  listener.close();
  const hooks = recorder(conn.remoteAddr as Deno.NetAddr);
  hooks.keepAlive = "timeout=5";
  const connection = createNativeEngine().serve(
    conn,
    hooks,
    handler,
    () => new Response("handled", { status: 500 }),
  );
  await new Promise((resolve, reject) => {
    socket.addEventListener("open", resolve);
    socket.addEventListener("close", () => reject(new Error("closed")));
  });
  const echo = (text: string) => echoOn(socket, text);
  return { socket, hooks, connection, closed, echo };
}

for (const delay of [-1, 20]) {
  const kind = delay < 0 ? "sync" : "async";
  Deno.test(`native engine keeps an upgraded WebSocket open (${kind} handler)`, async () => {
    const { socket, hooks, connection, closed, echo } = await setupSocket(
      echoSocket(delay),
    );
    assertEquals(await echo("a"), "echo:a");
    // The runtime's per-connection server ends soon after the upgrade (no
    // event tells when): the socket must outlive it.
    await new Promise((resolve) => setTimeout(resolve, 50));
    assertEquals(await echo("b"), "echo:b");
    assertEquals(hooks.events, ["requestStart", "responseStart"]);
    assertEquals(hooks.timeouts, [0]);
    socket.close(1000);
    assertEquals((await closed).code, 1000);
    await connection.finished;
    assertEquals(hooks.events, [
      "requestStart",
      "responseStart",
      "closed:client",
    ]);
  });
}

Deno.test("native engine close() closes an upgraded WebSocket at once", async () => {
  const { hooks, connection, closed, echo } = await setupSocket(echoSocket());
  assertEquals(await echo("a"), "echo:a");
  connection.close("idle");
  await closed;
  await connection.finished;
  assertEquals(hooks.closedReason, "idle");
});

Deno.test("native engine closeIdle() says goodbye to an upgraded WebSocket", async () => {
  const { hooks, connection, closed, echo } = await setupSocket(echoSocket());
  assertEquals(await echo("a"), "echo:a");
  connection.closeIdle();
  assertEquals((await closed).code, 1001);
  await connection.finished;
  assertEquals(hooks.closedReason, "done");
});

Deno.test("native engine keeps a WebSocket past idleTimeout through serve()", async () => {
  const events: string[] = [];
  const clientClosed = Promise.withResolvers<void>();
  const server = serve({
    port: 0,
    hostname: "127.0.0.1",
    engine: "native",
    idleTimeout: 150,
    tickInterval: 25,
    signals: false,
    onListen() {},
    onConnectionState(event) {
      events.push(
        event.reason ? `${event.state}:${event.reason}` : event.state,
      );
      if (event.reason === "client") clientClosed.resolve();
    },
  }, echoSocket());
  try {
    assertEquals(await server.engine, "native");
    const socket = new WebSocket(`ws://127.0.0.1:${server.addr.port}/`);
    const closed = new Promise<CloseEvent>((resolve) => {
      socket.addEventListener("close", resolve);
    });
    await new Promise((resolve) => socket.addEventListener("open", resolve));
    const echo = (text: string) => echoOn(socket, text);
    assertEquals(await echo("a"), "echo:a");
    // Silent for twice the idle timeout.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assertEquals(await echo("b"), "echo:b");
    assert(!events.some((e) => e.startsWith("closed")), events.join(", "));
    assertEquals(server.stats().open.total, 1);
    socket.close(1000);
    assertEquals((await closed).code, 1000);
    await clientClosed.promise;
    assert(events.includes("closed:client"), events.join(", "));
    assertEquals(server.stats().open.total, 0);
    assertEquals(server.stats().closed.client, 1);
  } finally {
    await server.close();
  }
});
