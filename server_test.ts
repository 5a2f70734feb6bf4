// Copyright 2026 the Reaper authors. MIT license.
// End-to-end lifetime tests over real sockets with short real timeouts,
// run against both engines.
import { assert, assertEquals, assertMatch, assertRejects } from "@std/assert";
import { serve, type ServeOptions, type Server } from "./server.ts";
import type { ServeHandler } from "./types.ts";
import { selfSigned } from "./testdata/tls.ts";

const ENGINES = ["portable", "native"] as const;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function start(
  engine: "portable" | "native",
  options: ServeOptions,
  handler: ServeHandler = () => new Response("ok"),
): Server {
  return serve({
    port: 0,
    hostname: "127.0.0.1",
    engine,
    signals: false,
    onListen() {},
    ...options,
  }, handler);
}

/** Reads from `conn` until EOF; returns the bytes read and the time of EOF. */
async function readToEnd(
  conn: Deno.Conn,
): Promise<{ text: string; at: number; reset: boolean }> {
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(4096);
  let reset = false;
  while (true) {
    let n: number | null;
    try {
      n = await conn.read(buf);
    } catch {
      reset = true;
      break;
    }
    if (n === null) break;
    chunks.push(buf.slice(0, n));
  }
  const at = performance.now();
  return {
    text: decoder.decode(
      chunks.reduce((a, b) => new Uint8Array([...a, ...b]), new Uint8Array()),
    ),
    at,
    reset,
  };
}

/** Reads one HTTP response with a Content-Length body. */
async function readResponse(conn: Deno.Conn): Promise<string> {
  let text = "";
  const buf = new Uint8Array(4096);
  while (true) {
    const end = text.indexOf("\r\n\r\n");
    if (end !== -1) {
      const length = Number(/content-length: *(\d+)/i.exec(text)?.[1] ?? 0);
      if (text.length >= end + 4 + length) return text;
    }
    const n = await conn.read(buf);
    if (n === null) return text;
    text += decoder.decode(buf.subarray(0, n));
  }
}

function connect(server: Server): Promise<Deno.TcpConn> {
  return Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
}

const GET = encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n");

for (const engine of ENGINES) {
  Deno.test(`[${engine}] serve() answers fetch with the Deno.serve handler shape`, async () => {
    let remote = "";
    const server = start(engine, {}, (req, info) => {
      remote = info.remoteAddr.hostname;
      return new Response(`${req.method} ${new URL(req.url).pathname}`);
    });
    assertEquals(await server.engine, engine);
    assertEquals(await server.engineReason, "chosen by the engine option");
    const res = await fetch(`http://127.0.0.1:${server.addr.port}/hello`);
    assertEquals(await res.text(), "GET /hello");
    assertEquals(remote, "127.0.0.1");
    assertEquals(server.stats().requests, 1);
    await server.shutdown();
  });

  Deno.test(`[${engine}] an idle keep-alive connection is closed within a tick after idleTimeout`, async () => {
    const server = start(engine, { idleTimeout: 200, tickInterval: 25 });
    const conn = await connect(server);
    await conn.write(GET);
    const res = await readResponse(conn);
    assertMatch(res, /^HTTP\/1\.1 200/);
    const idleFrom = performance.now();
    const { at } = await readToEnd(conn);
    const waited = at - idleFrom;
    conn.close();
    assert(waited >= 190, `closed early, after ${waited.toFixed(0)} ms`);
    assert(
      waited < 200 + 25 + 150,
      `closed late, after ${waited.toFixed(0)} ms`,
    );
    assertEquals(server.stats().closed.idle, 1);
    await server.shutdown();
  });

  Deno.test(`[${engine}] a silent connection is closed by headerTimeout`, async () => {
    const server = start(engine, {
      idleTimeout: 0,
      headerTimeout: 150,
      tickInterval: 25,
    });
    const opened = performance.now();
    const conn = await connect(server);
    const { at } = await readToEnd(conn);
    conn.close();
    const waited = at - opened;
    assert(waited >= 140, `closed early, after ${waited.toFixed(0)} ms`);
    assert(
      waited < 150 + 25 + 150,
      `closed late, after ${waited.toFixed(0)} ms`,
    );
    assertEquals(server.stats().closed.headerTimeout, 1);
    await server.shutdown();
  });

  Deno.test(`[${engine}] a connection that keeps sending requests outlives idleTimeout`, async () => {
    const server = start(engine, { idleTimeout: 150, tickInterval: 20 });
    const conn = await connect(server);
    const begin = performance.now();
    while (performance.now() - begin < 400) {
      await conn.write(GET);
      assertMatch(await readResponse(conn), /^HTTP\/1\.1 200/);
      await new Promise((r) => setTimeout(r, 50));
    }
    assertEquals(server.stats().open.total, 1);
    conn.close();
    await server.shutdown();
  });

  Deno.test(`[${engine}] a slow but steady response stream is not cut by idleTimeout`, async () => {
    const server = start(
      engine,
      { idleTimeout: 150, tickInterval: 20 },
      () => {
        let n = 0;
        const body = new ReadableStream<Uint8Array>({
          async pull(controller) {
            await new Promise((r) => setTimeout(r, 50));
            if (n++ === 8) controller.close();
            else controller.enqueue(encoder.encode(`tick ${n}\n`));
          },
        });
        return new Response(body);
      },
    );
    const res = await fetch(`http://127.0.0.1:${server.addr.port}/`);
    const text = await res.text();
    assertEquals(text.split("\n").filter(Boolean).length, 8);
    await server.shutdown();
  });

  Deno.test(`[${engine}] info.setTimeout(0) exempts a stalling stream from idleTimeout`, async () => {
    const server = start(
      engine,
      { idleTimeout: 100, tickInterval: 20 },
      (_req, info) => {
        info.setTimeout(0);
        const body = new ReadableStream<Uint8Array>({
          async start(controller) {
            controller.enqueue(encoder.encode("first\n"));
            await new Promise((r) => setTimeout(r, 300));
            controller.enqueue(encoder.encode("second\n"));
            controller.close();
          },
        });
        return new Response(body);
      },
    );
    const res = await fetch(`http://127.0.0.1:${server.addr.port}/`);
    assertEquals(await res.text(), "first\nsecond\n");
    await server.shutdown();
  });

  Deno.test(`[${engine}] requestTimeout closes a connection whose handler hangs`, async () => {
    let release!: () => void;
    const hang = new Promise<void>((r) => release = r);
    const server = start(
      engine,
      { requestTimeout: 150, tickInterval: 25 },
      async () => {
        await hang;
        return new Response("late");
      },
    );
    const conn = await connect(server);
    await conn.write(GET);
    const begin = performance.now();
    const { at } = await readToEnd(conn);
    conn.close();
    assert(
      at - begin >= 140,
      `closed early, after ${(at - begin).toFixed(0)} ms`,
    );
    assertEquals(server.stats().closed.requestTimeout, 1);
    release();
    await server.shutdown();
  });

  Deno.test(`[${engine}] maxConnections refuses the connection beyond the limit with 503`, async () => {
    const server = start(engine, { maxConnections: 1 });
    const first = await connect(server);
    await first.write(GET);
    await readResponse(first);
    const second = await connect(server);
    const { text } = await readToEnd(second);
    second.close();
    assertMatch(text, /^HTTP\/1\.1 503/);
    // The first connection still works.
    await first.write(GET);
    assertMatch(await readResponse(first), /^HTTP\/1\.1 200/);
    first.close();
    assertEquals(server.stats().closed.maxConnections, 1);
    await server.shutdown();
  });

  Deno.test(`[${engine}] shutdown() lets an in-flight request finish with Connection: close`, async () => {
    let entered!: () => void;
    const inHandler = new Promise<void>((r) => entered = r);
    const server = start(engine, { shutdownGrace: 50 }, async () => {
      entered();
      await new Promise((r) => setTimeout(r, 200));
      return new Response("slow");
    });
    const conn = await connect(server);
    await conn.write(GET);
    await inHandler;
    const stopped = server.shutdown();
    // New connections are refused at once.
    await assertRejects(() => connect(server));
    const { text } = await readToEnd(conn);
    conn.close();
    assertMatch(text, /^HTTP\/1\.1 200/);
    assertMatch(text, /connection: close/i);
    assertMatch(text, /slow$/);
    await stopped;
  });

  Deno.test(`[${engine}] a request sent on an idle connection during the drain grace is answered`, async () => {
    const server = start(engine, { shutdownGrace: 300, tickInterval: 20 });
    const conn = await connect(server);
    await conn.write(GET);
    await readResponse(conn);
    const stopped = server.shutdown();
    await new Promise((r) => setTimeout(r, 100));
    await conn.write(GET);
    const { text } = await readToEnd(conn);
    conn.close();
    assertMatch(text, /^HTTP\/1\.1 200/);
    assertMatch(text, /connection: close/i);
    await stopped;
    assertEquals(server.stats().shuttingDown, true);
  });

  Deno.test(`[${engine}] shutdown() closes an idle connection after the grace`, async () => {
    const server = start(engine, { shutdownGrace: 100, tickInterval: 1000 });
    const conn = await connect(server);
    await conn.write(GET);
    await readResponse(conn);
    const begin = performance.now();
    await server.shutdown();
    const { at } = await readToEnd(conn);
    conn.close();
    assert(at - begin >= 90, `closed before the grace: ${at - begin} ms`);
    assert(at - begin < 600, `closed late: ${at - begin} ms`);
  });

  Deno.test(`[${engine}] shutdownTimeout closes a request that would not finish`, async () => {
    let release!: () => void;
    const hang = new Promise<void>((r) => release = r);
    const server = start(engine, { shutdownTimeout: 150 }, async () => {
      await hang;
      return new Response("never");
    });
    const conn = await connect(server);
    await conn.write(GET);
    await new Promise((r) => setTimeout(r, 50));
    const begin = performance.now();
    await server.shutdown();
    const waited = performance.now() - begin;
    assert(waited >= 140 && waited < 600, `took ${waited.toFixed(0)} ms`);
    await readToEnd(conn);
    conn.close();
    release();
  });

  Deno.test(`[${engine}] aborting the signal closes everything at once`, async () => {
    const controller = new AbortController();
    const server = start(engine, { signal: controller.signal });
    const conn = await connect(server);
    await conn.write(GET);
    await readResponse(conn);
    controller.abort();
    await server.finished;
    await readToEnd(conn);
    conn.close();
    assertEquals(server.stats().closed.shutdown, 1);
  });

  Deno.test(`[${engine}] onConnectionState reports new, active, idle and closed`, async () => {
    const states: string[] = [];
    const server = start(engine, {
      onConnectionState: (e) =>
        states.push(e.reason ? `closed:${e.reason}` : e.state),
    });
    const conn = await connect(server);
    await conn.write(GET);
    await readResponse(conn);
    conn.close();
    await server.shutdown();
    assertEquals(states[0], "new");
    assert(states.includes("active"));
    assert(states.includes("idle"));
    assertEquals(states.at(-1), "closed:client");
  });
}

for (const engine of ENGINES) {
  Deno.test(`[${engine}] real clients: curl reuses a keep-alive connection, speaks HTTP/1.0 and uploads chunked`, async () => {
    const server = start(engine, {}, async (req) => {
      const body = req.body ? await req.text() : "";
      return new Response(`${req.method} ${new URL(req.url).pathname} ${body}`);
    });
    const base = `http://127.0.0.1:${server.addr.port}`;
    const curl = async (args: string[], stdin?: string) => {
      const child = new Deno.Command("curl", {
        args: ["-sS", ...args],
        stdin: stdin === undefined ? "null" : "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      if (stdin !== undefined) {
        const writer = child.stdin.getWriter();
        await writer.write(encoder.encode(stdin));
        await writer.close();
      }
      const { code, stdout, stderr } = await child.output();
      assertEquals(code, 0, decoder.decode(stderr));
      return { out: decoder.decode(stdout), err: decoder.decode(stderr) };
    };
    const twice = await curl(["-v", `${base}/a`, `${base}/b`]);
    assertEquals(twice.out, "GET /a GET /b ");
    assertMatch(twice.err, /Re-using existing connection|Reusing existing/i);
    assertEquals(server.stats().accepted, 1);
    const old = await curl(["--http1.0", `${base}/old`]);
    assertEquals(old.out, "GET /old ");
    const upload = await curl(["-T", "-", `${base}/up`], "streamed body");
    assertEquals(upload.out, "PUT /up streamed body");
    await server.shutdown();
  });

  Deno.test(`[${engine}] real clients: Node's fetch gets correct answers`, async () => {
    const server = start(
      engine,
      {},
      async (req) => new Response(`${req.method}:${await req.text()}`),
    );
    const script = `
      const base = "http://127.0.0.1:${server.addr.port}";
      const a = await (await fetch(base + "/")).text();
      const b = await (await fetch(base + "/", { method: "POST", body: "hi" })).text();
      console.log(JSON.stringify([a, b]));`;
    const { code, stdout, stderr } = await new Deno.Command("node", {
      args: ["--input-type=module", "-e", script],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(code, 0, decoder.decode(stderr));
    assertEquals(JSON.parse(decoder.decode(stdout)), ["GET:", "POST:hi"]);
    await server.shutdown();
  });
}

for (const engine of ENGINES) {
  Deno.test(`[${engine}] serves HTTPS with cert and key, and reaps idle TLS connections`, async () => {
    const { cert, key } = await selfSigned();
    const server = start(
      engine,
      { cert, key, idleTimeout: 150, tickInterval: 25 },
      (req) => new Response(new URL(req.url).protocol),
    );
    const client = Deno.createHttpClient({ caCerts: [cert] });
    const res = await fetch(`https://localhost:${server.addr.port}/`, {
      client,
    });
    assertEquals(await res.text(), "https:");
    // The client keeps the connection; the server reaps it when idle.
    const deadline = performance.now() + 2_000;
    while (server.stats().closed.idle === 0 && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 25));
    }
    assertEquals(server.stats().closed.idle, 1);
    client.close();
    await server.shutdown();
  });
}

Deno.test("server counters are exported as OpenTelemetry metrics under OTEL_DENO", async () => {
  const { code, stderr, stdout } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "testdata/otel_server.ts"],
    env: {
      OTEL_DENO: "true",
      OTEL_EXPORTER_OTLP_PROTOCOL: "console",
      OTEL_METRIC_EXPORT_INTERVAL: "100",
      NO_COLOR: "1",
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = decoder.decode(stderr) + decoder.decode(stdout);
  assertEquals(code, 0, out);
  assertMatch(out, /METRIC reaper\.connections\.open/);
  assertMatch(out, /METRIC reaper\.connections\.accepted/);
  assertMatch(out, /METRIC reaper\.requests/);
  // The fetch client's kept-alive connection is reaped by idleTimeout.
  assertMatch(out, /reason=idle[^\n]*value=1|value=1[^\n]*reason=idle/);
});

Deno.test("serve() rejects bad arguments with clear errors", () => {
  // deno-lint-ignore no-explicit-any
  const bad = serve as any;
  let error: unknown;
  try {
    bad({ port: 0, idleTimeout: -5, onListen() {} }, () => new Response());
  } catch (e) {
    error = e;
  }
  assert(error instanceof RangeError);
  assertMatch(String(error), /idleTimeout.*-5/);
  for (
    const [args, kind, text] of [
      [[42], TypeError, "received 42"],
      [[{ port: 0 }], TypeError, "handler must be a function"],
      [[{ port: 70000 }, () => new Response()], RangeError, "received 70000"],
      [
        [{ port: 0, engine: "fast" }, () => new Response()],
        TypeError,
        '"fast"',
      ],
    ] as const
  ) {
    try {
      bad(...args);
      throw new Error("did not throw");
    } catch (e) {
      assert(e instanceof kind, `${e}`);
      assertMatch(String(e), new RegExp(text));
    }
  }
});

Deno.test("serve() falls back to the portable engine when auto finds no native one", async () => {
  // A child process hides the runtime's entry point before Reaper loads.
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "testdata/hidden_native_server.ts"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = decoder.decode(stdout);
  const err = decoder.decode(stderr);
  assertEquals(code, 0, err);
  assertMatch(out, /^engine portable$/m);
  assertMatch(out, /^why the native engine is unavailable: .+$/m);
  assertMatch(out, /^answer ok$/m);
  assertMatch(
    err,
    /Reaper engine: portable \(the native engine is unavailable: /,
  );
});

/**
 * Starts `testdata/signal_server.ts` in a child process and waits until it
 * listens. `stop()` waits for its exit, releases its pipes and returns its
 * exit code.
 */
async function startSignalServer(): Promise<{
  child: Deno.ChildProcess;
  port: number;
  stop: () => Promise<number>;
}> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "testdata/signal_server.ts"],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("\n")) seen += (await lines.read()).value ?? "";
  const port = Number(/port (\d+)/.exec(seen)?.[1]);
  const stop = async () => {
    const status = await child.status;
    lines.releaseLock();
    await child.stdout.cancel().catch(() => {});
    await child.stderr.cancel();
    return status.code;
  };
  return { child, port, stop };
}

Deno.test("a SIGTERM drains: the in-flight request gets 200, then the process exits 0", async () => {
  const { child, port, stop } = await startSignalServer();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(encoder.encode("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"));
  await new Promise((r) => setTimeout(r, 100)); // the handler is running
  child.kill("SIGTERM");
  const { text } = await readToEnd(conn);
  conn.close();
  assertMatch(text, /^HTTP\/1\.1 200/);
  assertMatch(text, /connection: close/i);
  await assertRejects(() => Deno.connect({ hostname: "127.0.0.1", port }));
  assertEquals(await stop(), 0);
});

Deno.test("a second SIGTERM closes everything at once", async () => {
  const { child, port, stop } = await startSignalServer();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(encoder.encode("GET /hang HTTP/1.1\r\nHost: x\r\n\r\n"));
  await new Promise((r) => setTimeout(r, 100));
  const begin = performance.now();
  child.kill("SIGTERM");
  await new Promise((r) => setTimeout(r, 100));
  child.kill("SIGTERM");
  await readToEnd(conn);
  conn.close();
  assertEquals(await stop(), 0);
  // The shutdown timeout in the child is 10 s: the second signal cut it short.
  assert(performance.now() - begin < 3_000);
});

Deno.test("serve() closes its listener when onListen throws", async () => {
  let port = 0;
  try {
    serve({
      port: 0,
      hostname: "127.0.0.1",
      onListen(addr) {
        port = addr.port;
        throw new Error("onListen failed");
      },
    }, () => new Response());
    throw new Error("did not throw");
  } catch (error) {
    assertMatch(String(error), /onListen failed/);
  }
  assert(port > 0);
  await assertRejects(() => Deno.connect({ hostname: "127.0.0.1", port }));
  // Let the background engine probe finish.
  await new Promise((r) => setTimeout(r, 50));
});
