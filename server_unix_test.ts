// Copyright 2026 the Reaper authors. MIT license.
// Serving on a Unix domain socket (option `path`) on both engines, against
// `Deno.serve({ path })` with the same handler; the timeouts and the drain
// there; and where the listener's options (`path`, `tcpBacklog`) go. Every
// socket lives in a temporary directory that the test removes.
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertThrows,
} from "@std/assert";
import {
  createServer,
  serve,
  type Server,
  type ServeUnixOptions,
} from "./server.ts";
import type { ServeHandler, ServerStats } from "./types.ts";
import { createDashboard } from "./dashboard.ts";
import { formatAccessLog, formatListening, formatTimeoutLog } from "./_cli.ts";
import { hasCommand } from "./testdata/tools.ts";
import { StateLog } from "./testdata/state_log.ts";
import { readResponse, readToEnd } from "./testdata/http_client.ts";

const ENGINES = ["portable", "native"] as const;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A temporary directory for socket files, removed with what it holds. */
interface SocketDir extends AsyncDisposable {
  /** The path of a socket file `name` in the directory. */
  path(name: string): string;
}

async function socketDir(): Promise<SocketDir> {
  const dir = await Deno.makeTempDir({ prefix: "reaper_unix_" });
  return {
    path: (name) => `${dir}/${name}`,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

function start(
  engine: "portable" | "native",
  options: ServeUnixOptions,
  handler: ServeHandler<Deno.UnixAddr> = () => new Response("ok"),
): Server<Deno.UnixAddr> {
  return serve({ engine, signals: false, onListen() {}, ...options }, handler);
}

function connect(path: string): Promise<Deno.UnixConn> {
  return Deno.connect({ transport: "unix", path });
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Sends `request` on a new connection and reads the answer to EOF. */
async function exchange(path: string, request: string): Promise<string> {
  const conn = await connect(path);
  try {
    await conn.write(encoder.encode(request));
    return (await readToEnd(conn)).text;
  } finally {
    conn.close();
  }
}

/** The status code and body of a response read whole. */
function parse(text: string): { status: number; body: string } {
  const end = text.indexOf("\r\n\r\n");
  assert(end !== -1, `no response head in ${JSON.stringify(text)}`);
  return {
    status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1]),
    body: text.slice(end + 4),
  };
}

/**
 * Records the options of every `Deno.listen` and `Deno.listenTls` call
 * until disposed, and makes them as asked.
 */
function spyListen(): Disposable & { calls: unknown[] } {
  const listen = Deno.listen;
  const listenTls = Deno.listenTls;
  const calls: unknown[] = [];
  Deno.listen = ((options: Deno.ListenOptions) => {
    calls.push(options);
    return listen(options);
  }) as typeof Deno.listen;
  Deno.listenTls = ((options: Parameters<typeof Deno.listenTls>[0]) => {
    calls.push(options);
    return listenTls(options);
  }) as typeof Deno.listenTls;
  return {
    calls,
    [Symbol.dispose]() {
      Deno.listen = listen;
      Deno.listenTls = listenTls;
    },
  };
}

/**
 * Answers with what the handler saw, as JSON, to compare servers; it fits
 * both Reaper's and `Deno.serve`'s handler type.
 */
const echo = async (
  req: Request,
  info: { readonly remoteAddr: Deno.UnixAddr },
): Promise<Response> =>
  new Response(
    JSON.stringify({
      method: req.method,
      url: req.url,
      host: req.headers.get("host"),
      body: await req.text(),
      remoteAddr: info.remoteAddr,
    }),
    { status: 201, headers: { "x-echo": "1" } },
  );

const REQUESTS = [
  "GET /a?b=1 HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n",
  // No Host: the URL's host comes from the socket.
  "GET /no-host HTTP/1.0\r\n\r\n",
  "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
];

for (const engine of ENGINES) {
  Deno.test(`[${engine}] a request on a Unix socket gets what Deno.serve({ path }) gives`, async () => {
    await using dir = await socketDir();
    // Same directory, names of the same shape: "/d.sock" and "/r.sock".
    const denoPath = dir.path("d.sock");
    const reaperPath = dir.path("r.sock");
    const deno = Deno.serve({ path: denoPath, onListen() {} }, echo);
    const reaper = start(engine, { path: reaperPath }, echo);
    try {
      for (const request of REQUESTS) {
        const expected = parse(await exchange(denoPath, request));
        const got = parse(await exchange(reaperPath, request));
        const body = expected.body.replaceAll("%2Fd%2Esock", "%2Fr%2Esock")
          .replaceAll("/d.sock", "/r.sock");
        assertEquals(got, { status: expected.status, body }, request);
        assertEquals(
          JSON.parse(got.body).remoteAddr,
          { transport: "unix", path: reaperPath },
        );
      }
      // Without a Host, the URL names the socket, as Deno.serve's does.
      const noHost = JSON.parse(
        parse(await exchange(reaperPath, REQUESTS[1])).body,
      );
      assertMatch(noHost.url, /^http\+unix:\/\/%2F.*%2Fr%2Esock\/no-host$/);
      assertEquals(reaper.stats().requests, REQUESTS.length + 1);
    } finally {
      await reaper.shutdown();
      await deno.shutdown();
    }
  });

  Deno.test({
    name:
      `[${engine}] curl --unix-socket gets the same answers from Reaper and Deno.serve`,
    ignore: !hasCommand("curl"),
  }, async () => {
    await using dir = await socketDir();
    const denoPath = dir.path("d.sock");
    const reaperPath = dir.path("r.sock");
    const deno = Deno.serve({ path: denoPath, onListen() {} }, echo);
    const reaper = start(engine, { path: reaperPath }, echo);
    const curl = async (path: string, args: string[]) => {
      const { code, stdout, stderr } = await new Deno.Command("curl", {
        args: ["-sS", "--unix-socket", path, "-w", "\n%{http_code}", ...args],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      assertEquals(code, 0, decoder.decode(stderr));
      return decoder.decode(stdout).replaceAll(path, "SOCKET");
    };
    try {
      for (
        const args of [
          ["http://localhost/c?d"],
          ["--http1.0", "http://localhost/old"],
          ["-d", "posted", "http://localhost/form"],
        ]
      ) {
        assertEquals(await curl(reaperPath, args), await curl(denoPath, args));
      }
      assertEquals(reaper.stats().accepted, 3);
    } finally {
      await reaper.shutdown();
      await deno.shutdown();
    }
  });

  Deno.test(`[${engine}] addr and onListen report the Unix socket, and the socket file goes with the server`, async () => {
    await using dir = await socketDir();
    const path = dir.path("app.sock");
    let listened: Deno.UnixAddr | undefined;
    const server = start(engine, {
      path,
      onListen(addr) {
        listened = addr;
      },
    });
    assertEquals(server.addr, { transport: "unix", path });
    assertEquals(listened, { transport: "unix", path });
    assert(await exists(path));
    await server.shutdown();
    assertEquals(await exists(path), false);
    await assertRejects(() => connect(path));
  });

  Deno.test(`[${engine}] without onListen the server logs "Listening on PATH", as Deno.serve does`, async () => {
    await using dir = await socketDir();
    const path = dir.path("app.sock");
    const lines: string[] = [];
    const log = console.log;
    console.log = (...args: unknown[]) => lines.push(args.join(" "));
    try {
      const server = serve(
        { path, engine, signals: false },
        () => new Response("ok"),
      );
      await server.engine;
      await server.shutdown();
    } finally {
      console.log = log;
    }
    assertEquals(lines[0], `Listening on ${path}`);
  });

  Deno.test(`[${engine}] serve({ path }) opens no TCP listener`, async () => {
    await using dir = await socketDir();
    const path = dir.path("app.sock");
    let server: Server<Deno.UnixAddr>;
    {
      using spy = spyListen();
      server = start(engine, { path });
      await server.engine;
      assertEquals(spy.calls, [{ transport: "unix", path }]);
    }
    assertEquals(server.addr.transport, "unix");
    await server.shutdown();
  });

  Deno.test(`[${engine}] an idle keep-alive connection on a Unix socket is closed by idleTimeout`, async () => {
    await using dir = await socketDir();
    const path = dir.path("app.sock");
    const log = new StateLog();
    const server = start(engine, {
      path,
      idleTimeout: 150,
      tickInterval: 20,
      onConnectionState: log.hook,
    });
    const conn = await connect(path);
    const closed = log.closed(await log.opened(0));
    await conn.write(encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    assertMatch(await readResponse(conn), /^HTTP\/1\.1 200/);
    assertEquals(server.connections()[0].remoteAddr, {
      transport: "unix",
      path,
    });
    // The server ends the connection: EOF, nothing more.
    assertEquals((await readToEnd(conn)).text, "");
    conn.close();
    const event = await closed;
    assertEquals(event.reason, "idle");
    assertEquals(event.remoteAddr, { transport: "unix", path });
    assertEquals(server.stats().closed.idle, 1);
    await server.shutdown();
  });

  Deno.test(`[${engine}] a silent connection on a Unix socket is closed by headerTimeout`, async () => {
    await using dir = await socketDir();
    const path = dir.path("app.sock");
    const log = new StateLog();
    const server = start(engine, {
      path,
      idleTimeout: 0,
      headerTimeout: 100,
      tickInterval: 20,
      onConnectionState: log.hook,
    });
    const conn = await connect(path);
    const closed = log.closed(await log.opened(0));
    (await readToEnd(conn)).text;
    conn.close();
    assertEquals((await closed).reason, "headerTimeout");
    assertEquals(server.stats().closed.headerTimeout, 1);
    await server.shutdown();
  });

  Deno.test(`[${engine}] shutdown() drains a Unix socket: the request in flight gets Connection: close`, async () => {
    await using dir = await socketDir();
    const path = dir.path("app.sock");
    const log = new StateLog();
    const { promise: inHandler, resolve: entered } = Promise.withResolvers<
      void
    >();
    const { promise: finish, resolve: release } = Promise.withResolvers<
      void
    >();
    const server = start(
      engine,
      {
        path,
        shutdownGrace: 50,
        tickInterval: 20,
        onConnectionState: log.hook,
      },
      async (req) => {
        if (new URL(req.url).pathname !== "/slow") return new Response("ok");
        entered();
        await finish;
        return new Response("slow");
      },
    );
    // An idle connection: its close after the grace shows the drain began.
    const idle = await connect(path);
    const idleClosed = log.closed(await log.opened(0));
    await idle.write(encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    await readResponse(idle);
    const conn = await connect(path);
    await conn.write(encoder.encode("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"));
    await inHandler;
    const stopped = server.shutdown();
    assertEquals((await idleClosed).reason, "shutdown");
    (await readToEnd(idle)).text;
    idle.close();
    release();
    const text = (await readToEnd(conn)).text;
    conn.close();
    assertMatch(text, /^HTTP\/1\.1 200/);
    assertMatch(text, /\r\nconnection: close\r\n/i);
    assertMatch(text, /slow$/);
    await stopped;
    // Stopped: the socket is gone, nothing answers on it.
    assertEquals(await exists(path), false);
    await assertRejects(() => connect(path));
  });
}

Deno.test("serve({ path }) refuses a path that exists, as Deno.serve does, and leaves the file", async () => {
  await using dir = await socketDir();
  const path = dir.path("taken.sock");
  await Deno.writeTextFile(path, "");
  assertThrows(
    () =>
      serve(
        { path, engine: "portable", signals: false, onListen() {} },
        () => new Response("ok"),
      ),
    Deno.errors.AddrInUse,
  );
  assert(await exists(path));
});

Deno.test("serve() rejects a TCP option with path before it listens", async () => {
  await using dir = await socketDir();
  const path = dir.path("app.sock");
  for (
    const [name, value] of [
      ["port", 8080],
      ["hostname", "127.0.0.1"],
      ["reusePort", true],
      ["tcpBacklog", 16],
    ] as const
  ) {
    assertThrows(
      () =>
        serve(
          { path, [name]: value, signals: false, onListen() {} } as never,
          () => new Response("ok"),
        ),
      TypeError,
      `Cannot set ${name}: it does not apply to a Unix socket`,
    );
  }
  assertEquals(await exists(path), false);
});

Deno.test("createServer() hands tcpBacklog to the listener", async () => {
  let got: unknown;
  const server = createServer(
    {
      port: 0,
      hostname: "127.0.0.1",
      tcpBacklog: 64,
      engine: "portable",
      signals: false,
      onListen() {},
    },
    () => new Response("ok"),
    {
      listen(options) {
        got = options;
        return Deno.listen({ hostname: "127.0.0.1", port: 0 });
      },
    },
  );
  await server.shutdown();
  assertEquals(got, {
    transport: "tcp",
    port: 0,
    hostname: "127.0.0.1",
    reusePort: false,
    tcpBacklog: 64,
    tls: undefined,
  });
});

Deno.test("serve() passes tcpBacklog, 511 by default, to Deno.listen", async () => {
  for (const [tcpBacklog, expected] of [[undefined, 511], [32, 32]]) {
    let server: Server;
    {
      using spy = spyListen();
      server = serve({
        port: 0,
        hostname: "127.0.0.1",
        tcpBacklog,
        engine: "portable",
        signals: false,
        onListen() {},
      }, () => new Response("ok"));
      assertEquals(spy.calls, [{
        port: 0,
        hostname: "127.0.0.1",
        reusePort: false,
        tcpBacklog: expected,
      }]);
    }
    await server.shutdown();
  }
});

Deno.test("the log lines print a Unix socket address as its path", () => {
  const remoteAddr: Deno.UnixAddr = { transport: "unix", path: "/run/a.sock" };
  assertEquals(formatListening(remoteAddr, false), "Listening on /run/a.sock");
  assertEquals(
    formatAccessLog({
      method: "GET",
      path: "/",
      status: 200,
      bytes: 2,
      ms: 1,
      remoteAddr,
    }),
    "GET / 200 2B 1.00ms /run/a.sock",
  );
  assertEquals(
    formatTimeoutLog({ id: 4, remoteAddr, reason: "idle", idleMs: 2_000 }),
    "closed /run/a.sock #4: idle timeout after 2.00s idle",
  );
});

Deno.test("createDashboard() counts a client on a Unix socket as loopback", async () => {
  const source = {
    stats: () => ({ requests: 7 }) as unknown as ServerStats,
    connections: () => [],
  };
  const dashboard = createDashboard(source, { allow: "loopback" });
  const res = dashboard(new Request("http+unix://localhost/_reaper/stats"), {
    remoteAddr: { transport: "unix", path: "/run/a.sock" },
    completed: Promise.resolve(),
    setTimeout() {},
  });
  assertEquals(res?.status, 200);
  assertEquals((await res?.json()).stats.requests, 7);
});

Deno.test("[auto] without net permission for 127.0.0.1, a Unix-socket server falls back to portable without asking for loopback access", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/no-net.sock`;
  try {
    // stdin "null": a prompt would fail the permission instead of waiting.
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        `--allow-write=${dir}`,
        // Deno 2.9 asks net permission for a Unix socket too: this one only.
        `--allow-net=unix:${path}`,
        "testdata/unix_no_net_server.ts",
        path,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(stdout);
    const err = new TextDecoder().decode(stderr);
    assertEquals(code, 0, err);
    assertMatch(out, /^engine portable$/m);
    assertMatch(
      out,
      /^why the native engine is unavailable: the self-check needs net access to 127\.0\.0\.1 \(any port\), which was not granted$/m,
    );
    assertMatch(out, /^answer HTTP\/1\.1 200 OK true$/m);
    assert(!err.includes("NotCapable"), err);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
