// Copyright 2026 the Reaper authors. MIT license.
// End-to-end lifetime tests over real sockets with short real timeouts,
// run against both engines.
import { assert, assertEquals, assertMatch, assertRejects } from "@std/assert";
import { serve, type ServeOptions, type Server } from "./server.ts";
import type { ServeHandler } from "./types.ts";
import { selfSigned } from "./testdata/tls.ts";
import { StateLog } from "./testdata/state_log.ts";
import {
  readResponse,
  type ReadToEnd,
  readToEnd,
} from "./testdata/http_client.ts";
import { commandPath, hasCommand, settlesWithin } from "./testdata/tools.ts";
import { LOOPBACK } from "./testdata/serve.ts";

const ENGINES = ["portable", "native"] as const;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function start(
  engine: "portable" | "native",
  options: ServeOptions,
  handler: ServeHandler = () => new Response("ok"),
): Server {
  return serve({ ...LOOPBACK, engine, ...options }, handler);
}

/** Reads from `conn` until EOF (or a reset), and notes the time of the end. */
async function readToEndAt(
  conn: Deno.Conn,
): Promise<ReadToEnd & { at: number }> {
  const read = await readToEnd(conn);
  return { ...read, at: performance.now() };
}

function connect(server: Server): Promise<Deno.TcpConn> {
  return Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
}

const GET = encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
/** Node.js, if it is installed (not Deno's `node` shim). */
const node = commandPath("node");

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

  // How soon after its deadline a timer closes is server_clock_test.ts's
  // to prove, with a fake clock; here real sockets show that it does, and
  // not before the deadline.
  Deno.test(`[${engine}] an idle keep-alive connection is closed by idleTimeout, not before it`, async () => {
    const log = new StateLog();
    const server = start(engine, {
      idleTimeout: 200,
      tickInterval: 25,
      onConnectionState: log.hook,
    });
    const conn = await connect(server);
    const closed = log.closed(conn);
    await conn.write(GET);
    const res = await readResponse(conn);
    assertMatch(res, /^HTTP\/1\.1 200/);
    const idleFrom = performance.now();
    const { at } = await readToEndAt(conn);
    const waited = at - idleFrom;
    conn.close();
    assertEquals((await closed).reason, "idle");
    assert(waited >= 190, `closed early, after ${waited.toFixed(0)} ms`);
    assertEquals(server.stats().closed.idle, 1);
    await server.shutdown();
  });

  Deno.test(`[${engine}] a silent connection is closed by headerTimeout`, async () => {
    const log = new StateLog();
    const server = start(engine, {
      idleTimeout: 0,
      headerTimeout: 150,
      tickInterval: 25,
      onConnectionState: log.hook,
    });
    const opened = performance.now();
    const conn = await connect(server);
    const closed = log.closed(conn);
    const { at } = await readToEndAt(conn);
    conn.close();
    const waited = at - opened;
    assertEquals((await closed).reason, "headerTimeout");
    assert(waited >= 140, `closed early, after ${waited.toFixed(0)} ms`);
    assertEquals(server.stats().closed.headerTimeout, 1);
    await server.shutdown();
  });

  Deno.test(`[${engine}] a connection that keeps sending requests outlives idleTimeout`, async () => {
    const log = new StateLog();
    const server = start(engine, {
      idleTimeout: 300,
      tickInterval: 20,
      onConnectionState: log.hook,
    });
    const conn = await connect(server);
    const begin = performance.now();
    // Pauses far below idleTimeout, for longer than idleTimeout in all.
    while (performance.now() - begin < 450) {
      await conn.write(GET);
      assertMatch(await readResponse(conn), /^HTTP\/1\.1 200/);
      await new Promise((r) => setTimeout(r, 25));
    }
    assertEquals(log.reasons(), []);
    assertEquals(server.stats().open.total, 1);
    conn.close();
    await server.shutdown();
  });

  Deno.test(`[${engine}] a slow but steady response stream is not cut by idleTimeout`, async () => {
    const log = new StateLog();
    const server = start(
      engine,
      { idleTimeout: 300, tickInterval: 20, onConnectionState: log.hook },
      () => {
        // Chunks far more often than idleTimeout, for longer in all.
        let n = 0;
        const body = new ReadableStream<Uint8Array>({
          async pull(controller) {
            await new Promise((r) => setTimeout(r, 25));
            if (n++ === 16) controller.close();
            else controller.enqueue(encoder.encode(`tick ${n}\n`));
          },
        });
        return new Response(body);
      },
    );
    const res = await fetch(`http://127.0.0.1:${server.addr.port}/`);
    const text = await res.text();
    assertEquals(text.split("\n").filter(Boolean).length, 16);
    assertEquals(log.reasons(), []);
    await server.shutdown();
  });

  Deno.test(`[${engine}] info.setTimeout(0) exempts a stalling stream from idleTimeout`, async () => {
    const log = new StateLog();
    const { promise: resume, resolve: release } = Promise.withResolvers<
      void
    >();
    const server = start(
      engine,
      { idleTimeout: 100, tickInterval: 20, onConnectionState: log.hook },
      (req, info) => {
        if (new URL(req.url).pathname !== "/stream") return new Response("ok");
        info.setTimeout(0);
        const body = new ReadableStream<Uint8Array>({
          async start(controller) {
            controller.enqueue(encoder.encode("first\n"));
            await resume;
            controller.enqueue(encoder.encode("second\n"));
            controller.close();
          },
        });
        return new Response(body);
      },
    );
    const res = await fetch(`http://127.0.0.1:${server.addr.port}/stream`);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("\n")) text += (await reader.read()).value ?? "";
    // The stream stalls until a connection that fell idle after it did has
    // been closed by idleTimeout: the stream has then been silent longer.
    const control = await connect(server);
    const controlClosed = log.closed(control);
    await control.write(GET);
    await readResponse(control);
    assertEquals((await controlClosed).reason, "idle");
    control.close();
    release();
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      text += value;
    }
    assertEquals(text, "first\nsecond\n");
    assertEquals(log.reasons(), ["idle"]);
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
    const { at } = await readToEndAt(conn);
    conn.close();
    assert(
      at - begin >= 140,
      `closed early, after ${(at - begin).toFixed(0)} ms`,
    );
    assertEquals(server.stats().closed.requestTimeout, 1);
    release();
    await server.shutdown();
  });

  Deno.test(`[${engine}] maxConnections refuses a connection with 503 when every open one is busy`, async () => {
    const { promise: inHandler, resolve: entered } = Promise.withResolvers<
      void
    >();
    const { promise: finish, resolve: release } = Promise.withResolvers<
      void
    >();
    const server = start(engine, { maxConnections: 1 }, async (req) => {
      if (new URL(req.url).pathname === "/slow") {
        entered();
        await finish;
      }
      return new Response("ok");
    });
    const first = await connect(server);
    await first.write(encoder.encode("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"));
    await inHandler; // busy: a request in flight is never evicted
    const second = await connect(server);
    const { text } = await readToEndAt(second);
    second.close();
    assertMatch(text, /^HTTP\/1\.1 503/);
    // The first connection still gets its answer, and works on.
    release();
    assertMatch(await readResponse(first), /^HTTP\/1\.1 200/);
    await first.write(GET);
    assertMatch(await readResponse(first), /^HTTP\/1\.1 200/);
    first.close();
    assertEquals(server.stats().closed.maxConnections, 1);
    assertEquals(server.stats().closed.evicted, 0);
    await server.shutdown();
  });

  Deno.test(`[${engine}] shutdown() lets an in-flight request finish with Connection: close`, async () => {
    const log = new StateLog();
    const { promise: inHandler, resolve: entered } = Promise.withResolvers<
      void
    >();
    const { promise: finish, resolve: release } = Promise.withResolvers<
      void
    >();
    const server = start(
      engine,
      { shutdownGrace: 50, onConnectionState: log.hook },
      async (req) => {
        if (new URL(req.url).pathname !== "/slow") return new Response("ok");
        entered();
        await finish;
        return new Response("slow");
      },
    );
    // An idle connection, to see the grace run out.
    const idle = await connect(server);
    const idleClosed = log.closed(idle);
    await idle.write(GET);
    await readResponse(idle);
    const conn = await connect(server);
    await conn.write(encoder.encode("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"));
    await inHandler;
    const stopped = server.shutdown();
    // New connections are refused at once.
    await assertRejects(() => connect(server));
    // The grace is over, the request still in flight: it may finish now.
    await idleClosed;
    await readToEndAt(idle);
    idle.close();
    release();
    const { text } = await readToEndAt(conn);
    conn.close();
    assertMatch(text, /^HTTP\/1\.1 200/);
    assertMatch(text, /connection: close/i);
    assertMatch(text, /slow$/);
    await stopped;
  });

  Deno.test(`[${engine}] a request sent on an idle connection during the drain grace is answered`, async () => {
    // The grace is long, and the server ends as soon as the answered
    // connection closes: the pause below is far inside it.
    const server = start(engine, { shutdownGrace: 2_000, tickInterval: 20 });
    const conn = await connect(server);
    await conn.write(GET);
    await readResponse(conn);
    const stopped = server.shutdown();
    // The request comes a few grace checks into the drain.
    await new Promise((r) => setTimeout(r, 100));
    await conn.write(GET);
    const { text } = await readToEndAt(conn);
    conn.close();
    assertMatch(text, /^HTTP\/1\.1 200/);
    assertMatch(text, /connection: close/i);
    await stopped;
    assertEquals(server.stats().shuttingDown, true);
  });

  // That the grace is checked more often than once a tick is proven with a
  // fake clock in server_clock_test.ts.
  Deno.test(`[${engine}] shutdown() closes an idle connection after the grace`, async () => {
    const log = new StateLog();
    const server = start(engine, {
      shutdownGrace: 100,
      tickInterval: 1000,
      onConnectionState: log.hook,
    });
    const conn = await connect(server);
    await conn.write(GET);
    await readResponse(conn);
    const begin = performance.now();
    await server.shutdown();
    const { at } = await readToEndAt(conn);
    conn.close();
    assertEquals(log.reasons().length, 1);
    assert(at - begin >= 90, `closed before the grace: ${at - begin} ms`);
  });

  Deno.test(`[${engine}] shutdownTimeout closes a request that would not finish`, async () => {
    const log = new StateLog();
    const { promise: inHandler, resolve: entered } = Promise.withResolvers<
      void
    >();
    const { promise: hang, resolve: release } = Promise.withResolvers<void>();
    const server = start(
      engine,
      { shutdownTimeout: 150, onConnectionState: log.hook },
      async () => {
        entered();
        await hang;
        return new Response("never");
      },
    );
    const conn = await connect(server);
    await conn.write(GET);
    await inHandler;
    const begin = performance.now();
    await server.shutdown();
    const waited = performance.now() - begin;
    assert(waited >= 140, `took ${waited.toFixed(0)} ms`);
    assertEquals((await log.closed(conn)).reason, "shutdown");
    await readToEndAt(conn);
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
    await readToEndAt(conn);
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
  Deno.test({
    name:
      `[${engine}] real clients: curl reuses a keep-alive connection, speaks HTTP/1.0 and uploads chunked`,
    ignore: !hasCommand("curl"),
  }, async () => {
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

  Deno.test({
    name: `[${engine}] real clients: Node's fetch gets correct answers`,
    // By its path: the `node` first on the PATH of `deno test` is Deno.
    ignore: node === undefined,
  }, async () => {
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
    const { code, stdout, stderr } = await new Deno.Command(node!, {
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
  Deno.test({
    name:
      `[${engine}] serves HTTPS with cert and key, and reaps idle TLS connections`,
    // The certificate is made with openssl.
    ignore: !hasCommand("openssl"),
  }, async () => {
    const { cert, key } = await selfSigned();
    const log = new StateLog();
    const server = start(
      engine,
      {
        cert,
        key,
        idleTimeout: 150,
        tickInterval: 25,
        onConnectionState: log.hook,
      },
      (req) => new Response(new URL(req.url).protocol),
    );
    const client = Deno.createHttpClient({ caCerts: [cert] });
    const res = await fetch(`https://localhost:${server.addr.port}/`, {
      client,
    });
    assertEquals(await res.text(), "https:");
    // The client keeps the connection; the server reaps it when idle.
    const closed = await log.next((e) => e.state === "closed");
    assertEquals(closed.reason, "idle");
    assertEquals(server.stats().closed.idle, 1);
    client.close();
    await server.shutdown();
  });
}

/**
 * Runs `testdata/otel_server.ts` with Deno's console exporter until its
 * output (stdout and stderr together) matches `until`, then closes its
 * standard input so that it shuts down, and returns its exit code and
 * output. If it exits first, returns what it printed.
 */
async function runOtelServer(
  args: string[],
  until: RegExp,
): Promise<{ code: number; out: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...args],
    env: {
      OTEL_DENO: "true",
      OTEL_EXPORTER_OTLP_PROTOCOL: "console",
      OTEL_METRIC_EXPORT_INTERVAL: "100",
      NO_COLOR: "1",
    },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let out = "";
  let stdinOpen = true;
  const read = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      out += chunk;
      if (stdinOpen && until.test(out)) {
        stdinOpen = false;
        await child.stdin.close();
      }
    }
  };
  const reading = Promise.all([read(child.stdout), read(child.stderr)]);
  // A guard, not a timing: the metrics come within a few exports (100 ms
  // each); without it a missing metric would hang the suite.
  if (!await settlesWithin(reading, 30_000)) {
    child.kill();
    await reading;
  }
  if (stdinOpen) await child.stdin.close().catch(() => {});
  const { code } = await child.status;
  return { code, out };
}

Deno.test("server counters are exported as OpenTelemetry metrics under OTEL_DENO", async () => {
  // The fetch client's kept-alive connection is reaped by idleTimeout.
  const idleClosed = /reason=idle[^\n]*value=1|value=1[^\n]*reason=idle/;
  const { code, out } = await runOtelServer(
    ["--allow-net", "testdata/otel_server.ts"],
    idleClosed,
  );
  assertEquals(code, 0, out);
  assertMatch(out, /METRIC reaper\.connections\.open/);
  assertMatch(out, /METRIC reaper\.connections\.accepted/);
  assertMatch(out, /METRIC reaper\.requests/);
  assertMatch(out, idleClosed);
  assertMatch(out, /server\.port=\d+/);
});

Deno.test("on a Unix socket, the OpenTelemetry metrics carry its path, not a port", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/otel.sock`;
  try {
    const { code, out } = await runOtelServer(
      [
        "--allow-net",
        "--allow-read",
        "--allow-write",
        "testdata/otel_server.ts",
        path,
      ],
      /METRIC reaper\.requests[^]*value=1/,
    );
    assertEquals(code, 0, out);
    assert(out.includes(`server.address=${path}`), out);
    assertMatch(out, /network\.transport=unix/);
    assert(!/server\.port=/.test(out), out);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
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

/**
 * Connects to the child's server and waits for an answer on the connection,
 * so that the server has accepted it before a signal closes its listener.
 */
async function connectServed(port: number): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(GET);
  assertMatch(await readResponse(conn), /^HTTP\/1\.1 200/);
  return conn;
}

/** Waits until the child's listener refuses connections. */
async function untilRefused(port: number): Promise<void> {
  while (true) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
    } catch {
      return;
    }
    // Not yet: the signal is still on its way.
    await new Promise((r) => setTimeout(r, 10));
  }
}

Deno.test("a SIGTERM drains: the in-flight request gets 200, then the process exits 0", async () => {
  const { child, port, stop } = await startSignalServer();
  const conn = await connectServed(port);
  // The child's handler takes 400 ms. Whether the request is read before
  // the signal or after it, within the 100 ms grace, it is answered.
  await conn.write(encoder.encode("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"));
  child.kill("SIGTERM");
  const { text } = await readToEndAt(conn);
  conn.close();
  assertMatch(text, /^HTTP\/1\.1 200/);
  assertMatch(text, /connection: close/i);
  assertMatch(text, /done$/);
  await assertRejects(() => Deno.connect({ hostname: "127.0.0.1", port }));
  assertEquals(await stop(), 0);
});

Deno.test("a second SIGTERM closes everything at once", async () => {
  const { child, port, stop } = await startSignalServer();
  const conn = await connectServed(port);
  await conn.write(encoder.encode("GET /hang HTTP/1.1\r\nHost: x\r\n\r\n"));
  let ended = false;
  const read = readToEndAt(conn).finally(() => ended = true);
  child.kill("SIGTERM");
  // The first signal has been handled once the listener is closed; the
  // request hangs on.
  await untilRefused(port);
  assert(!ended, "the first signal closed the hanging request");
  child.kill("SIGTERM");
  // The child's shutdownTimeout is 10 s: only a second signal that was
  // ignored would let it run that long.
  assert(
    await settlesWithin(read, 8_000),
    "the second signal did not close the request",
  );
  conn.close();
  assertEquals(await stop(), 0);
});

// A named engine, not "auto": the native self-check of "auto" would run on
// after serve() threw, with nothing to await it by.
for (const engine of ENGINES) {
  Deno.test(`[${engine}] serve() closes its listener when onListen throws`, async () => {
    let port = 0;
    try {
      serve({
        port: 0,
        hostname: "127.0.0.1",
        engine,
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
  });
}
