// Copyright 2026 the Reaper authors. MIT license.
/**
 * The engine conformance suite: one table of cases, each run against both
 * engines over a real loopback connection, so that a difference between
 * the engines fails a test instead of going unnoticed.
 *
 * The native engine sees requests, not bytes: it never calls `touch()`,
 * `headStart()` or `peerWait()`. Hook sequences are therefore compared on
 * the events both engines report ({@linkcode shared}).
 */
import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertStrictEquals,
} from "@std/assert";
import { type Engine, NOT_A_RESPONSE } from "./_engine.ts";
import { createNativeEngine } from "./_native.ts";
import { createPortableEngine } from "./_portable.ts";
import type { ServeHandler } from "./types.ts";
import { BufferedConn } from "./testdata/buffered_conn.ts";
import {
  type Harness,
  type HarnessOptions,
  serveLoopback,
} from "./testdata/hooks.ts";

type EngineName = "native" | "portable";

/** Creates the engine under test: the one place that knows how. */
function createEngine(name: EngineName): Engine {
  return name === "native" ? createNativeEngine() : createPortableEngine();
}

const encoder = new TextEncoder();
const latin1 = new TextDecoder("latin1");

/** The events that both engines report. */
function shared(events: readonly string[]): string[] {
  return events.filter((e) =>
    e === "requestStart" || e === "responseStart" || e === "requestEnd" ||
    e.startsWith("closed:")
  );
}

/** The shared events of one complete request. */
const EXCHANGE = ["requestStart", "responseStart", "requestEnd"];

function get(path = "/", method = "GET"): string {
  return `${method} ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`;
}

/** One parsed response. */
interface Parsed {
  status: number;
  /** Field names in lower case. */
  headers: Record<string, string>;
  body: Uint8Array;
  text: string;
}

function indexOfCrlf(buf: Uint8Array, from: number, double: boolean): number {
  for (let i = from; i + (double ? 3 : 1) < buf.length; i++) {
    if (
      buf[i] === 13 && buf[i + 1] === 10 &&
      (!double || (buf[i + 2] === 13 && buf[i + 3] === 10))
    ) return i;
  }
  return -1;
}

/** A raw HTTP/1.1 client on one TCP connection. */
class Client extends BufferedConn {
  async send(data: string | Uint8Array): Promise<void> {
    await this.write(typeof data === "string" ? encoder.encode(data) : data);
  }

  /** Waits until the unread bytes contain `text` (consumes nothing). */
  async readUntil(text: string): Promise<void> {
    while (!latin1.decode(this.buf).includes(text)) {
      if (!await this.more()) throw new Error(`EOF before ${text}`);
    }
  }

  async #need(n: number): Promise<void> {
    while (this.buf.length < n) {
      if (!await this.more()) throw new Error("EOF inside a response");
    }
  }

  /** Reads one response; `head`: the answer to a HEAD request. */
  async response(head = false): Promise<Parsed> {
    let end: number;
    while ((end = indexOfCrlf(this.buf, 0, true)) === -1) {
      if (!await this.more()) throw new Error("EOF before a response head");
    }
    const lines = latin1.decode(this.take(end + 4)).slice(0, -4).split(
      "\r\n",
    );
    const status = Number(lines[0].split(" ")[1]);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const i = line.indexOf(":");
      headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
    }
    const parts: Uint8Array[] = [];
    if (head || status === 204 || status === 304) {
      // No body.
    } else if (headers["transfer-encoding"] === "chunked") {
      for (;;) {
        let lf: number;
        while ((lf = indexOfCrlf(this.buf, 0, false)) === -1) {
          if (!await this.more()) throw new Error("EOF inside a chunk");
        }
        const size = parseInt(latin1.decode(this.buf.subarray(0, lf)), 16);
        this.take(lf + 2);
        if (size === 0) {
          await this.#need(2);
          this.take(2); // No trailers.
          break;
        }
        await this.#need(size + 2);
        parts.push(this.take(size));
        this.take(2);
      }
    } else if (headers["content-length"] !== undefined) {
      const n = Number(headers["content-length"]);
      await this.#need(n);
      parts.push(this.take(n));
    } else {
      while (await this.more());
      parts.push(this.take(this.buf.length));
    }
    const body = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let offset = 0;
    for (const part of parts) {
      body.set(part, offset);
      offset += part.length;
    }
    return { status, headers, body, text: latin1.decode(body) };
  }

  /** Sends a request and reads its response. */
  async request(raw: string, head = false): Promise<Parsed> {
    await this.send(raw);
    return await this.response(head);
  }

  /** Reads to the end of the stream; resolves to what came (`""`: nothing). */
  async rest(): Promise<string> {
    while (await this.more());
    return latin1.decode(this.take(this.buf.length));
  }
}

/** A harness serving `handler` with `engine`, and a client connected to it. */
async function open(
  engine: Engine,
  handler: ServeHandler,
  options?: HarnessOptions,
): Promise<{ server: Harness; client: Client } & AsyncDisposable> {
  const server = serveLoopback(engine, handler, options);
  const client = new Client(await server.connect());
  return {
    server,
    client,
    [Symbol.asyncDispose]: () => server[Symbol.asyncDispose](),
  };
}

/** Replaces `console.error` while `fn` runs; resolves to its calls. */
async function capturingConsoleError(
  fn: () => Promise<void>,
): Promise<unknown[][]> {
  const calls: unknown[][] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => {
    calls.push(args);
  };
  try {
    await fn();
  } finally {
    console.error = original;
  }
  return calls;
}

/** One conformance case. */
interface Case {
  name: string;
  run(engine: Engine): Promise<void>;
}

/** A handler whose `onError` path is checked by the error cases. */
function failing(result: () => unknown): ServeHandler {
  return () => result() as Response;
}

const cases: Case[] = [
  // ------------------------------------------------------ hook sequences
  {
    name:
      "a GET reports requestStart, responseStart, requestEnd, closed:client",
    async run(engine) {
      await using t = await open(engine, () => new Response("hello"));
      const res = await t.client.request(get());
      assertEquals([res.status, res.text], [200, "hello"]);
      const { hooks } = await t.server.next();
      await hooks.waitFor("requestEnd");
      t.client.close();
      assertEquals(await hooks.reason, "client");
      assertEquals(shared(hooks.events), [...EXCHANGE, "closed:client"]);
    },
  },
  {
    name: "a POST with a content-length body reports the same sequence",
    async run(engine) {
      await using t = await open(
        engine,
        async (req) => new Response(`got ${await req.text()}`),
      );
      const res = await t.client.request(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
      );
      assertEquals([res.status, res.text], [200, "got hello"]);
      const { hooks } = await t.server.next();
      await hooks.waitFor("requestEnd");
      t.client.close();
      assertEquals(await hooks.reason, "client");
      assertEquals(shared(hooks.events), [...EXCHANGE, "closed:client"]);
    },
  },
  {
    name: "two keep-alive requests report two exchanges on one connection",
    async run(engine) {
      let n = 0;
      await using t = await open(engine, () => new Response(`r${++n}`));
      const { hooks } = await t.server.next();
      const first = await t.client.request(get("/a"));
      await hooks.waitFor("requestEnd");
      const second = await t.client.request(get("/b"));
      await hooks.waitFor("requestEnd", 2);
      assertEquals([first.text, second.text], ["r1", "r2"]);
      assertEquals(first.headers["connection"], undefined);
      assertEquals(second.headers["connection"], undefined);
      t.client.close();
      assertEquals(await hooks.reason, "client");
      assertEquals(t.server.accepted.length, 1);
      assertEquals(shared(hooks.events), [
        ...EXCHANGE,
        ...EXCHANGE,
        "closed:client",
      ]);
    },
  },
  {
    name: "a streamed response reports requestEnd only after its last chunk",
    async run(engine) {
      const gate = Promise.withResolvers<void>();
      await using t = await open(engine, () =>
        new Response(
          new ReadableStream<Uint8Array>({
            async start(controller) {
              controller.enqueue(encoder.encode("part1 "));
              await gate.promise;
              controller.enqueue(encoder.encode("part2"));
              controller.close();
            },
          }),
        ));
      const { hooks } = await t.server.next();
      await t.client.send(get());
      // The first chunk is on the wire while the stream is still open.
      await t.client.readUntil("part1 ");
      assertEquals(shared(hooks.events), ["requestStart", "responseStart"]);
      gate.resolve();
      const res = await t.client.response();
      assertEquals(res.text, "part1 part2");
      assertEquals(res.headers["transfer-encoding"], "chunked");
      await hooks.waitFor("requestEnd");
      t.client.close();
      assertEquals(await hooks.reason, "client");
      assertEquals(shared(hooks.events), [...EXCHANGE, "closed:client"]);
    },
  },
  {
    name:
      "a client that leaves in the middle of a large response is reported as closed:client",
    async run(engine) {
      await using t = await open(
        engine,
        () => new Response(new Uint8Array(8 << 20)),
      );
      await t.client.send(get());
      await t.client.readUntil("\r\n\r\n");
      const { hooks } = await t.server.next();
      t.client.close();
      assertEquals(await hooks.reason, "client");
    },
  },
  {
    name: "a client that closes before any request reports only closed:client",
    async run(engine) {
      await using t = await open(engine, () => new Response("never"));
      const { hooks } = await t.server.next();
      t.client.close();
      assertEquals(await hooks.reason, "client");
      assertEquals(shared(hooks.events), ["closed:client"]);
    },
  },

  // ------------------------------------------------------ handler errors
  {
    name: "a handler that throws gets onError",
    async run(engine) {
      const boom = new Error("boom");
      await using t = await open(
        engine,
        failing(() => {
          throw boom;
        }),
      );
      const res = await t.client.request(get());
      assertEquals([res.status, res.text], [500, "onError: Error: boom"]);
      assertEquals(t.server.errors.length, 1);
      assertStrictEquals(t.server.errors[0], boom);
      const { hooks } = await t.server.next();
      await hooks.waitFor("requestEnd");
      assertEquals(shared(hooks.events), EXCHANGE);
    },
  },
  {
    name: "a handler that rejects gets onError",
    async run(engine) {
      const boom = new Error("boom");
      await using t = await open(engine, () => Promise.reject(boom));
      const res = await t.client.request(get());
      assertEquals([res.status, res.text], [500, "onError: Error: boom"]);
      assertEquals(t.server.errors.length, 1);
      assertStrictEquals(t.server.errors[0], boom);
    },
  },
  {
    name: "a handler that returns no Response gets onError with a TypeError",
    async run(engine) {
      await using t = await open(engine, failing(() => "not a response"));
      const res = await t.client.request(get());
      assertEquals(res.status, 500);
      assertEquals(t.server.errors.length, 1);
      assertInstanceOf(t.server.errors[0], TypeError);
      assertEquals((t.server.errors[0] as TypeError).message, NOT_A_RESPONSE);
      assertEquals(res.text, `onError: TypeError: ${NOT_A_RESPONSE}`);
    },
  },
  {
    name:
      "a handler that resolves to no Response gets onError with a TypeError",
    async run(engine) {
      await using t = await open(
        engine,
        failing(() => Promise.resolve({ status: 200 })),
      );
      const res = await t.client.request(get());
      assertEquals(res.status, 500);
      assertInstanceOf(t.server.errors[0], TypeError);
      assertEquals((t.server.errors[0] as TypeError).message, NOT_A_RESPONSE);
    },
  },
  {
    name: "an onError that throws is logged and answered 500",
    async run(engine) {
      const again = new Error("again");
      let res: Parsed | undefined;
      const logged = await capturingConsoleError(async () => {
        await using t = await open(
          engine,
          failing(() => {
            throw new Error("boom");
          }),
          {
            onError: () => {
              throw again;
            },
          },
        );
        res = await t.client.request(get());
      });
      assertEquals(res!.status, 500);
      assertEquals(res!.text, "Internal Server Error");
      assertEquals(res!.headers["content-type"], "text/plain; charset=utf-8");
      assertEquals(logged, [[
        "Exception in onError while handling exception",
        again,
      ]]);
    },
  },
  {
    name: "an onError that returns no Response is logged and answered 500",
    async run(engine) {
      let res: Parsed | undefined;
      const logged = await capturingConsoleError(async () => {
        await using t = await open(
          engine,
          failing(() => {
            throw new Error("boom");
          }),
          { onError: () => "nope" as unknown as Response },
        );
        res = await t.client.request(get());
      });
      assertEquals([res!.status, res!.text], [500, "Internal Server Error"]);
      assertEquals(logged.length, 1);
      assertEquals(
        logged[0][0],
        "Exception in onError while handling exception",
      );
      assertInstanceOf(logged[0][1], TypeError);
    },
  },

  // ---------------------------------------------------- info.setTimeout()
  {
    name: "info.setTimeout() validates its argument and reports the timeout",
    async run(engine) {
      const thrown: unknown[] = [];
      let remotePort = -1;
      await using t = await open(engine, (_req, info) => {
        for (const bad of [-1, NaN, Infinity, "5" as unknown as number]) {
          try {
            info.setTimeout(bad);
          } catch (error) {
            thrown.push(error);
          }
        }
        info.setTimeout(0);
        info.setTimeout(250);
        remotePort = info.remoteAddr.port;
        return new Response("ok");
      });
      const res = await t.client.request(get());
      assertEquals(res.text, "ok");
      const prefix = "Cannot set timeout: value must be a finite number >= 0";
      assertEquals(
        thrown.map((e) => [(e as Error).constructor, (e as Error).message]),
        [
          [RangeError, `${prefix}, received -1`],
          [RangeError, `${prefix}, received NaN`],
          [RangeError, `${prefix}, received Infinity`],
          [TypeError, `${prefix}, received "5"`],
        ],
      );
      const { hooks } = await t.server.next();
      assertEquals(hooks.timeouts, [0, 250]);
      assertEquals(remotePort, (t.client.conn.localAddr as Deno.NetAddr).port);
    },
  },

  // -------------------------------------------------------------- bodies
  {
    name: "a chunked request body is read as text",
    async run(engine) {
      await using t = await open(
        engine,
        async (req) => new Response(`got ${await req.text()}`),
      );
      const res = await t.client.request(
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
          "5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n",
      );
      assertEquals([res.status, res.text], [200, "got hello, world"]);
      // The connection serves the next request.
      assertEquals((await t.client.request(get())).text, "got ");
    },
  },
  {
    name: "a request body the handler leaves unread does not disturb the next",
    async run(engine) {
      await using t = await open(engine, (req) => new Response(req.method));
      await t.client.send(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" +
          get("/next"),
      );
      const first = await t.client.response();
      const second = await t.client.response();
      assertEquals([first.text, second.text], ["POST", "GET"]);
      const { hooks } = await t.server.next();
      await hooks.waitFor("requestEnd", 2);
      assertEquals(hooks.closedReason, undefined);
    },
  },
  {
    name: "Expect: 100-continue is answered when the handler reads the body",
    async run(engine) {
      await using t = await open(
        engine,
        async (req) => new Response(`got ${await req.text()}`),
      );
      await t.client.send(
        "PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n" +
          "Content-Length: 4\r\n\r\n",
      );
      const interim = await t.client.response(true);
      assertEquals(interim.status, 100);
      await t.client.send("data");
      const res = await t.client.response();
      assertEquals([res.status, res.text], [200, "got data"]);
    },
  },
  {
    name: "request fields reach the handler, repeated ones joined",
    async run(engine) {
      await using t = await open(
        engine,
        (req) => Response.json({ url: req.url, headers: [...req.headers] }),
      );
      const res = await t.client.request(
        "GET /p?q=1 HTTP/1.1\r\nHost: example.com:81\r\nX-A: one\r\n" +
          "x-a: two\r\n\r\n",
      );
      assertEquals(JSON.parse(res.text), {
        url: "http://example.com:81/p?q=1",
        headers: [["host", "example.com:81"], ["x-a", "one, two"]],
      });
    },
  },
  {
    name: "a response from a string has its content-length",
    async run(engine) {
      await using t = await open(engine, () => new Response("hello"));
      const res = await t.client.request(get());
      assertEquals(res.text, "hello");
      assertEquals(res.headers["content-length"], "5");
      assertEquals(res.headers["content-type"], "text/plain;charset=UTF-8");
    },
  },
  {
    name: "a response from bytes is sent exactly",
    async run(engine) {
      const bytes = new Uint8Array([0, 1, 2, 13, 10, 255]);
      await using t = await open(engine, () => new Response(bytes));
      const res = await t.client.request(get());
      assertEquals(res.body, bytes);
      assertEquals(res.headers["content-length"], "6");
    },
  },
  {
    name: "a response from a ReadableStream is sent chunked",
    async run(engine) {
      await using t = await open(engine, () =>
        new Response(
          ReadableStream.from([encoder.encode("ab"), encoder.encode("cd")]),
        ));
      const res = await t.client.request(get());
      assertEquals(res.text, "abcd");
      assertEquals(res.headers["transfer-encoding"], "chunked");
      assertEquals((await t.client.request(get())).text, "abcd");
    },
  },
  {
    name: "an empty body has content-length 0 and a 204 has none",
    async run(engine) {
      await using t = await open(
        engine,
        (req) =>
          new Response(null, { status: req.url.endsWith("/204") ? 204 : 200 }),
      );
      const empty = await t.client.request(get());
      assertEquals([empty.status, empty.text], [200, ""]);
      assertEquals(empty.headers["content-length"], "0");
      const none = await t.client.request(get("/204"));
      assertEquals(none.status, 204);
      assertEquals(none.headers["content-length"], undefined);
      assertEquals(none.headers["transfer-encoding"], undefined);
      assertEquals((await t.client.request(get())).status, 200);
    },
  },
  {
    name: "a HEAD response carries no body",
    async run(engine) {
      let method = "";
      await using t = await open(engine, (req) => {
        method = req.method;
        return new Response("hello");
      });
      const head = await t.client.request(get("/", "HEAD"), true);
      assertEquals(head.status, 200);
      assertEquals(method, "HEAD");
      // Had a body been sent, it would be read as the next response.
      const res = await t.client.request(get());
      assertEquals([res.status, res.text], [200, "hello"]);
    },
  },

  // -------------------------------------------- completed and req.signal
  {
    name: "info.completed resolves after the response was sent",
    async run(engine) {
      const completed = Promise.withResolvers<Promise<void>>();
      await using t = await open(engine, (_req, info) => {
        completed.resolve(info.completed);
        return new Response("done");
      });
      const res = await t.client.request(get());
      assertEquals(res.text, "done");
      const { hooks } = await t.server.next();
      await (await completed.promise);
      assert(hooks.events.includes("requestEnd"), hooks.events.join(", "));
    },
  },
  {
    name: "req.signal aborts when the client goes away mid-request",
    async run(engine) {
      const entered = Promise.withResolvers<void>();
      const aborted = Promise.withResolvers<boolean>();
      await using t = await open(engine, async (req) => {
        entered.resolve();
        if (!req.signal.aborted) {
          await new Promise((resolve) =>
            req.signal.addEventListener("abort", resolve)
          );
        }
        aborted.resolve(req.signal.aborted);
        return new Response("nobody listens");
      });
      await t.client.send(get());
      await entered.promise;
      t.client.close();
      assertEquals(await aborted.promise, true);
      const { hooks } = await t.server.next();
      assertEquals(await hooks.reason, "client");
    },
  },
  {
    name: "close() aborts a request in flight and its req.signal",
    async run(engine) {
      const entered = Promise.withResolvers<AbortSignal>();
      const release = Promise.withResolvers<void>();
      await using t = await open(engine, async (req) => {
        entered.resolve(req.signal);
        await release.promise;
        return new Response("late");
      });
      await t.client.send(get());
      const signal = await entered.promise;
      const { hooks, connection } = await t.server.next();
      connection.close("requestTimeout");
      connection.close("shutdown"); // Idempotent: the first reason stays.
      assertEquals(await t.client.rest(), "");
      await connection.finished;
      assertEquals(signal.aborted, true);
      release.resolve();
      assertEquals(shared(hooks.events), [
        "requestStart",
        "closed:requestTimeout",
      ]);
    },
  },

  {
    name:
      "req.signal aborts with the runtime's AbortError when the client goes away",
    async run(engine) {
      const reason = Promise.withResolvers<unknown>();
      await using t = await open(engine, async (req) => {
        await new Promise((resolve) =>
          req.signal.addEventListener("abort", resolve)
        );
        reason.resolve(req.signal.reason);
        return new Response("nobody listens");
      });
      await t.client.send(get());
      const { hooks } = await t.server.next();
      await hooks.waitFor("requestStart");
      t.client.close();
      const got = await reason.promise as DOMException;
      assertInstanceOf(got, DOMException);
      assertEquals(
        [got.name, got.message],
        ["AbortError", "The request has been cancelled."],
      );
      assertEquals(await hooks.reason, "client");
    },
  },
  {
    name:
      "close() aborts req.signal with the same AbortError and info.completed resolves",
    async run(engine) {
      const entered = Promise.withResolvers<
        { signal: AbortSignal; completed: Promise<void> }
      >();
      const release = Promise.withResolvers<void>();
      await using t = await open(engine, async (req, info) => {
        entered.resolve({ signal: req.signal, completed: info.completed });
        await release.promise;
        return new Response("late");
      });
      await t.client.send(get());
      const { signal, completed } = await entered.promise;
      const { hooks, connection } = await t.server.next();
      connection.close("shutdown");
      await connection.finished;
      assertInstanceOf(signal.reason, DOMException);
      assertEquals(
        [signal.reason.name, signal.reason.message],
        ["AbortError", "The request has been cancelled."],
      );
      release.resolve();
      await completed;
      assertEquals(shared(hooks.events), ["requestStart", "closed:shutdown"]);
    },
  },
  {
    name:
      "a cut upload fails req.text() with BadResource, as the runtime reads it",
    async run(engine) {
      const failure = Promise.withResolvers<unknown>();
      await using t = await open(engine, async (req) => {
        try {
          await req.text();
          failure.resolve(undefined);
        } catch (error) {
          failure.resolve(error);
        }
        return new Response("cut");
      });
      await t.client.send(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc",
      );
      const { hooks } = await t.server.next();
      await hooks.waitFor("requestStart");
      t.client.close();
      const error = await failure.promise as Error;
      assertInstanceOf(error, Deno.errors.BadResource);
      assertEquals(
        error.message,
        "Cannot read body as underlying resource unavailable",
      );
      assertEquals(await hooks.reason, "client");
    },
  },
  {
    name:
      "a client that leaves mid-response cancels the stream, ends the request and resolves info.completed",
    async run(engine) {
      const cancelled = Promise.withResolvers<void>();
      const completed = Promise.withResolvers<Promise<void>>();
      await using t = await open(engine, (_req, info) => {
        completed.resolve(info.completed);
        return new Response(
          new ReadableStream<Uint8Array>({
            pull(controller) {
              controller.enqueue(new Uint8Array(65536));
            },
            cancel() {
              cancelled.resolve();
            },
          }),
        );
      });
      await t.client.send(get());
      await t.client.readUntil("\r\n\r\n");
      const { hooks } = await t.server.next();
      t.client.close();
      await cancelled.promise;
      await (await completed.promise);
      assertEquals(await hooks.reason, "client");
      assertEquals(shared(hooks.events), [...EXCHANGE, "closed:client"]);
    },
  },
  {
    name:
      "a response stream that errors ends the request first, resolves info.completed and closes with error",
    async run(engine) {
      const completed = Promise.withResolvers<Promise<void>>();
      await using t = await open(engine, (_req, info) => {
        completed.resolve(info.completed);
        let n = 0;
        return new Response(
          new ReadableStream<Uint8Array>({
            async pull(controller) {
              await new Promise((resolve) => setTimeout(resolve, 1));
              if (n++ === 0) controller.enqueue(encoder.encode("part"));
              else controller.error(new Error("stream broke"));
            },
          }),
        );
      });
      await t.client.send(get());
      const { hooks } = await t.server.next();
      assertEquals(await hooks.reason, "error");
      await (await completed.promise);
      assertEquals(shared(hooks.events), [...EXCHANGE, "closed:error"]);
    },
  },
  {
    name:
      "a half-closed client that sent a whole request gets its response, then the connection closes",
    async run(engine) {
      await using t = await open(engine, () => new Response("hello"));
      await t.client.send(get());
      await t.client.conn.closeWrite();
      const res = await t.client.response();
      assertEquals([res.status, res.text], [200, "hello"]);
      assertEquals(await t.client.rest(), "");
      const { hooks } = await t.server.next();
      assertEquals(await hooks.reason, "client");
      assertEquals(shared(hooks.events), [...EXCHANGE, "closed:client"]);
    },
  },

  // ------------------------------------------------------ content-length
  {
    name: "a HEAD answer carries the content-length a GET would",
    async run(engine) {
      await using t = await open(
        engine,
        (req) =>
          new URL(req.url).pathname === "/empty"
            ? new Response(null)
            : new Response("hello"),
      );
      const head = await t.client.request(get("/", "HEAD"), true);
      assertEquals(head.headers["content-length"], "5");
      const empty = await t.client.request(get("/empty", "HEAD"), true);
      assertEquals(empty.headers["content-length"], "0");
      const res = await t.client.request(get());
      assertEquals([res.text, res.headers["content-length"]], ["hello", "5"]);
    },
  },
  {
    name:
      "a streamed body keeps the handler's content-length, on HTTP/1.1 and HTTP/1.0",
    async run(engine) {
      await using t = await open(engine, () =>
        new Response(
          ReadableStream.from([encoder.encode("hel"), encoder.encode("lo")]),
          { headers: { "content-length": "5" } },
        ));
      const res = await t.client.request(get());
      assertEquals([res.text, res.headers["content-length"]], ["hello", "5"]);
      assertEquals(res.headers["transfer-encoding"], undefined);
      const head = await t.client.request(get("/", "HEAD"), true);
      assertEquals(head.headers["content-length"], "5");
      // Last: the native engine ends an HTTP/1.0 connection after it.
      const old = await t.client.request(
        "GET / HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n",
      );
      assertEquals([old.text, old.headers["content-length"]], ["hello", "5"]);
    },
  },
  {
    name: "a streamed body shorter than its content-length ends the connection",
    async run(engine) {
      await using t = await open(
        engine,
        () =>
          new Response(ReadableStream.from([encoder.encode("hel")]), {
            headers: { "content-length": "5" },
          }),
      );
      await t.client.send(get());
      const text = await t.client.rest();
      assert(text.endsWith("\r\n\r\nhel"), text);
      assert(/\r\ncontent-length: 5\r\n/i.test(text), text);
      const { connection } = await t.server.next();
      await connection.finished;
    },
  },

  // ------------------------------------------------------- close reasons
  {
    name: "mustClose sends Connection: close and ends with closed:done",
    async run(engine) {
      await using t = await open(engine, () => new Response("bye"), {
        setup: (hooks) => hooks.mustClose = true,
      });
      const res = await t.client.request(get());
      assertEquals(res.text, "bye");
      assertEquals(res.headers["connection"], "close");
      assertEquals(await t.client.rest(), "");
      const { hooks, connection } = await t.server.next();
      await connection.finished;
      assertEquals(shared(hooks.events), [...EXCHANGE, "closed:done"]);
    },
  },
  {
    name: "keepAlive is sent as a Keep-Alive header and the connection stays",
    async run(engine) {
      await using t = await open(engine, () => new Response("hi"), {
        setup: (hooks) => hooks.keepAlive = "timeout=5",
      });
      const res = await t.client.request(get());
      assertEquals(res.headers["keep-alive"], "timeout=5");
      assertEquals(res.headers["connection"], undefined);
      assertEquals((await t.client.request(get())).text, "hi");
    },
  },
  {
    name: 'close("shutdown") on an idle connection ends with closed:shutdown',
    async run(engine) {
      await using t = await open(engine, () => new Response("hi"));
      await t.client.request(get());
      const { hooks, connection } = await t.server.next();
      await hooks.waitFor("requestEnd");
      connection.close("shutdown");
      connection.close("idle"); // Idempotent: the first reason stays.
      assertEquals(await t.client.rest(), "");
      await connection.finished;
      assertEquals(shared(hooks.events), [...EXCHANGE, "closed:shutdown"]);
    },
  },
  {
    name: "closeIdle() closes an idle connection at once, for the shutdown",
    async run(engine) {
      await using t = await open(engine, () => new Response("hi"));
      await t.client.request(get());
      const { hooks, connection } = await t.server.next();
      await hooks.waitFor("requestEnd");
      connection.closeIdle();
      assertEquals(await t.client.rest(), "");
      await connection.finished;
      assertEquals(shared(hooks.events), [...EXCHANGE, "closed:shutdown"]);
    },
  },
  {
    name: "closeIdle() on a busy connection closes after the response",
    async run(engine) {
      const entered = Promise.withResolvers<void>();
      const release = Promise.withResolvers<void>();
      await using t = await open(engine, async () => {
        entered.resolve();
        await release.promise;
        return new Response("last");
      });
      await t.client.send(get());
      await entered.promise;
      const { hooks, connection } = await t.server.next();
      connection.closeIdle();
      release.resolve();
      const res = await t.client.response();
      assertEquals(res.text, "last");
      assertEquals(res.headers["connection"], "close");
      assertEquals(await t.client.rest(), "");
      await connection.finished;
      assertEquals(shared(hooks.events), [...EXCHANGE, "closed:done"]);
    },
  },
];

for (const name of ["native", "portable"] as const) {
  for (const { name: behaviour, run } of cases) {
    Deno.test(
      `engine conformance (${name}): ${behaviour}`,
      () => run(createEngine(name)),
    );
  }
}
