// Copyright 2026 the Reaper authors. MIT license.
/**
 * The native engine: Deno's own HTTP code (hyper, with its HTTP/1.1 parser,
 * compression and streaming) on connections that Reaper accepts and owns,
 * at the speed of `Deno.serve`.
 *
 * It drives the runtime's internal
 * `Deno[Deno.internal].serveHttpOnConnection(conn, signal, handler, onError,
 * onListen)`, which serves one connection and returns
 * `{ finished, shutdown() }`. That entry point is private: it can change or
 * vanish in any Deno release. {@linkcode findServeHttpOnConnection} checks its
 * shape and {@linkcode probeNativeEngine} also serves one real request over
 * loopback, so that `engine: "auto"` can fall back to the portable engine.
 *
 * ## How the native engine differs from the portable engine
 *
 * The runtime reads and writes the bytes, so the engine sees requests, not
 * bytes. Activity is request-level:
 *
 * - It never calls `hooks.touch()`, `hooks.headStart()` or
 *   `hooks.peerWait()`. A connection stays in state `new` or `idle` until
 *   the handler is entered, however many bytes of a head have arrived: so
 *   `headerTimeout` runs from accept (first request) and `idleTimeout` from
 *   the end of the previous response until the next handler entry, and a
 *   slowloris head is caught by them, not by a per-byte stall timer.
 * - Handler entry (the head is complete) → `hooks.requestStart()`. The
 *   handler gets `info = { remoteAddr, completed, setTimeout(ms) }`;
 *   `info.setTimeout(ms)` validates `ms` (finite and `>= 0`, else a
 *   `RangeError`) and calls `hooks.setRequestTimeout(ms)`.
 * - A slow request body or a slow reader of the response cannot be told
 *   apart from a busy handler: only `requestTimeout` bounds them.
 * - The handler's response (or its promise) settles → `hooks.responseStart()`.
 *   A handler that throws, rejects or returns something that is not a
 *   `Response` gets the given `onError`, as `Deno.serve` does (a failing
 *   `onError` gives a `500`).
 * - The runtime's `completed` settles → `hooks.requestEnd()`. For a body
 *   given whole (string, bytes) that is when the runtime takes the
 *   response, before all bytes are on the wire; for a stream, when its last
 *   chunk was handed over; on failure, when the request failed. A slow
 *   reader of a large body given whole is therefore already under
 *   `idleTimeout`.
 * - `hooks.mustClose` is read when the response is returned: if set, the
 *   response gets `Connection: close` and the connection is shut down
 *   gracefully at once, so it closes after that response (the runtime
 *   itself ignores a `Connection: close` set by a handler; measured on Deno
 *   2.9.6; the engine does not look for one either, as reading the headers
 *   of every response would cost speed). Otherwise a non-empty
 *   `hooks.keepAlive` is sent as a `Keep-Alive` header. Immutable response
 *   headers (`fetch()`, `Response.redirect()`) are handled by wrapping the
 *   same body, status and headers in a new `Response` without reading the
 *   body. A `101` upgrade response is passed through untouched.
 * - `close(reason)` aborts the connection at once (a request in flight is
 *   lost; no `408` is sent). `closeIdle()` shuts it down gracefully: at once
 *   if it is idle, else after the response in flight, which then carries
 *   `Connection: close`.
 * - `hooks.closed(reason)` is called exactly once, when the runtime is done
 *   with the connection: with the reason given to `close()`, else `"done"`
 *   if the engine ended it (`mustClose`, `closeIdle()`), else `"error"` if
 *   the runtime reported an error, else `"client"` (the client closed it,
 *   or the runtime ended it, for example after a malformed request or an
 *   HTTP/1.0 request without keep-alive). No hook is called after it.
 * - WebSocket upgrades (`Deno.upgradeWebSocket()`): once a connection is
 *   upgraded, the runtime's per-connection server ends, and ending a server
 *   force-closes the WebSockets upgraded from it (as `server.shutdown()` of
 *   `Deno.serve` does; measured on Deno 2.9.6). The engine closes that
 *   server's resource first (its id is known from when the connection was
 *   served: the one resource `serveHttpOnConnection` creates, bracketed by
 *   two throw-away cancel handles of `Deno[Deno.internal].core`), so the
 *   runtime's own close finds nothing. When the handler returns the `101`
 *   response synchronously (a non-`async` handler), that happens inside the
 *   runtime's call of the handler and is reliable (300 of 300 simultaneous
 *   upgrades kept). When it returns a promise, the resource can only be
 *   closed once the WebSocket opens, which races the runtime's own close:
 *   measured, none of 100 sequential upgrades lost, but about 29% of 300
 *   simultaneous ones closed right after opening. Serve upgrades from a
 *   synchronous handler (or branch to one before any `await`). Without
 *   those internals the runtime closes every upgraded socket. Hooks of an
 *   upgrade: `requestStart()`, `setRequestTimeout(0)` (no stall or request
 *   timeout applies), `responseStart()`, no `requestEnd()`, and
 *   `closed(reason)` when the WebSocket closes: `close(reason)` closes it
 *   at once without a closing handshake, `closeIdle()` starts one with code
 *   `1001` (then `"done"`), else the reason is `"client"`.
 *
 * Memory (`bench/native_memory.ts`, 2000 idle keep-alive connections, Deno
 * 2.9.6): the runtime's per-connection server costs about 10.6 KiB RSS more
 * per idle connection than `Deno.serve` (28.3 against 17.7 KiB): 2.2 KiB of
 * live JavaScript (its context, an `AbortController` of its own, closures,
 * the pending `finished`), about 4 KiB of V8 heap committed around it, and
 * the rest native (the per-connection server resource, its channel, cancel
 * handles and pending wait). None of that can be cut from here. The engine
 * adds about 0.9 KiB of live heap per connection (with the smallest
 * possible hooks; about 30.7 KiB RSS in all, 1.74× `Deno.serve`): it acts
 * as the `AbortSignal` itself (an `AbortController` would add 1.1 KiB) and
 * keeps only the runtime's `shutdown` function, not the object it comes in
 * (0.55 KiB).
 *
 * @module
 */

import {
  callHandler,
  type ConnectionHooks,
  type Engine,
  type EngineConnection,
  type ErrorHandler,
  internalServerError,
  isThenable,
  type RequestHooks,
  RequestInfo,
} from "./_engine.ts";
import {
  compressResponse,
  decodedByFetch,
  dropEncodedFields,
} from "./_compression.ts";
import type { CloseReason, ServeHandler } from "./types.ts";

/**
 * What the runtime passes as `info` to a handler served by
 * `serveHttpOnConnection`.
 */
export interface RuntimeHandlerInfo {
  /** The client's address. */
  readonly remoteAddr: Deno.Addr;
  /** Settles when the response has been sent, or the request failed. */
  readonly completed: Promise<void>;
}

/** What `serveHttpOnConnection` returns for one connection. */
export interface RuntimeConnectionServer {
  /** Settles when the connection is closed. May reject on an HTTP error. */
  readonly finished: Promise<void>;
  /** Closes the connection gracefully: at once if idle, else after the response in flight. */
  shutdown(): Promise<void>;
}

/**
 * The part of an `AbortSignal` that `serveHttpOnConnection` uses: it
 * registers one `"abort"` listener, which closes the connection.
 */
export interface AbortSignalLike {
  /** Registers the listener that closes the connection. */
  addEventListener(type: string, listener: () => void, options?: unknown): void;
}

/**
 * The shape of the runtime's internal
 * `Deno[Deno.internal].serveHttpOnConnection`.
 */
export type ServeOnConn = (
  conn: Deno.Conn,
  signal: AbortSignalLike | undefined,
  handler: (
    request: Request,
    info: RuntimeHandlerInfo,
  ) => Response | Promise<Response>,
  onError: ErrorHandler,
  onListen: (scheme: string) => void,
) => RuntimeConnectionServer;

/** Options of {@linkcode createNativeEngine} and {@linkcode probeNativeEngine}. */
export interface NativeEngineOptions {
  /**
   * The `Deno` namespace to take the internal entry point from; for tests.
   *
   * @default {globalThis.Deno}
   */
  denoNs?: unknown;
  /**
   * Whether responses are compressed as `Deno.serve` does it
   * (`_compression.ts`).
   *
   * @default {false}
   */
  automaticCompression?: boolean;
}

/** Options of {@linkcode probeNativeEngine}. */
export interface ProbeOptions extends NativeEngineOptions {
  /**
   * How long the probe request may take, in milliseconds.
   *
   * @default {2000}
   */
  timeout?: number;
}

/** How long {@linkcode probeNativeEngine} waits for its request, in milliseconds. */
const PROBE_TIMEOUT_MS = 2_000;

/**
 * Finds the runtime's internal `serveHttpOnConnection`, or says why it is
 * unusable. A pure shape check: nothing is called.
 *
 * @param denoNs The `Deno` namespace to look in.
 * @returns The entry point, or the reason it is unusable.
 *
 * @example Usage
 * ```ts
 * import { findServeHttpOnConnection } from "./_native.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(findServeHttpOnConnection({}), "Deno.internal is missing");
 * ```
 */
export function findServeHttpOnConnection(
  denoNs: unknown = (globalThis as { Deno?: unknown }).Deno,
): ServeOnConn | string {
  try {
    if (typeof denoNs !== "object" || denoNs === null) {
      return "the Deno namespace is missing";
    }
    const key = (denoNs as { internal?: unknown }).internal;
    if (typeof key !== "symbol" && typeof key !== "string") {
      return "Deno.internal is missing";
    }
    const internals = (denoNs as Record<PropertyKey, unknown>)[key];
    if (typeof internals !== "object" || internals === null) {
      return "Deno[Deno.internal] is missing";
    }
    const fn = (internals as { serveHttpOnConnection?: unknown })
      .serveHttpOnConnection;
    if (typeof fn !== "function") {
      return "Deno[Deno.internal].serveHttpOnConnection is missing";
    }
    if (fn.length !== 5) {
      return `Deno[Deno.internal].serveHttpOnConnection takes ${fn.length} parameters, expected 5`;
    }
    return fn as ServeOnConn;
  } catch (error) {
    // A getter that throws, a revoked proxy, ...
    return `looking up Deno[Deno.internal].serveHttpOnConnection threw: ${
      describe(error)
    }`;
  }
}

/**
 * The functions of the runtime's internal `Deno[Deno.internal].core` that
 * keep an upgraded connection open (see {@linkcode NativeConnection}).
 */
interface RuntimeCore {
  /** Creates a cancel handle resource; its id tells the next resource id. */
  createCancelHandle(): number;
  /** Closes a resource. */
  close(rid: number): void;
  /** Closes a resource if it still exists. */
  tryClose(rid: number): void;
}

/**
 * Finds the runtime's internal resource functions, or `undefined`: then
 * upgrades are left to the runtime, which closes them. A pure shape check.
 */
function findRuntimeCore(denoNs: unknown): RuntimeCore | undefined {
  try {
    const key = (denoNs as { internal?: unknown }).internal;
    const core = ((denoNs as Record<PropertyKey, unknown>)[
      key as PropertyKey
    ] as { core?: unknown }).core as Partial<RuntimeCore> | undefined;
    if (
      typeof core?.createCancelHandle === "function" &&
      typeof core.close === "function" &&
      typeof core.tryClose === "function"
    ) {
      return core as RuntimeCore;
    }
  } catch {
    // A getter that throws, a revoked proxy, ...
  }
  return undefined;
}

/**
 * Creates the native engine.
 *
 * @param options The options.
 * @returns The engine, named `"native"`.
 * @throws {TypeError} If the runtime's internal entry point is missing or
 * has the wrong shape.
 *
 * @example Usage
 * ```ts ignore
 * import { createNativeEngine } from "./_native.ts";
 * const engine = createNativeEngine();
 * console.log(engine.name); // "native"
 * ```
 */
export function createNativeEngine(options: NativeEngineOptions = {}): Engine {
  const found = "denoNs" in options
    ? findServeHttpOnConnection(options.denoNs)
    : findServeHttpOnConnection();
  if (typeof found === "string") {
    throw new TypeError(`Cannot create the native engine: ${found}`);
  }
  return new NativeEngine(
    found,
    runtimeCore(options),
    options.automaticCompression ?? false,
  );
}

/** Whether this process may listen on and connect to any port of 127.0.0.1. */
function loopbackAllowed(): boolean {
  try {
    return Deno.permissions.querySync({ name: "net", host: "127.0.0.1" })
      .state === "granted";
  } catch {
    return false;
  }
}

/**
 * Checks that the native engine works on this runtime: the shape check of
 * {@linkcode findServeHttpOnConnection}, then two real requests over
 * loopback through the engine (listen on `127.0.0.1:0`, connect, `GET`,
 * expect `200` with body `"ok"` and the hook events in order), one
 * connection ended by `hooks.mustClose` (the runtime's graceful shutdown),
 * one by `close()` (the abort), all within 2 seconds (`options.timeout`).
 * Without net permission for every port of 127.0.0.1 it fails at once,
 * never prompting for it. Everything it opens is closed before it returns.
 * Never throws.
 *
 * @param options The options.
 * @returns `{ ok: true }`, or `{ ok: false, reason }` saying what failed.
 *
 * @example Usage
 * ```ts ignore
 * import { probeNativeEngine } from "./_native.ts";
 * const probe = await probeNativeEngine();
 * console.log(probe.ok ? "native" : `portable: ${probe.reason}`);
 * ```
 */
export async function probeNativeEngine(
  options: ProbeOptions = {},
): Promise<{ ok: true } | { ok: false; reason: string }> {
  const found = "denoNs" in options
    ? findServeHttpOnConnection(options.denoNs)
    : findServeHttpOnConnection();
  if (typeof found === "string") return { ok: false, reason: found };
  // Asked first: without the permission, listening would make Deno prompt
  // on a terminal, for a port the user never asked for.
  if (!loopbackAllowed()) {
    return {
      ok: false,
      reason:
        "the self-check needs net access to 127.0.0.1 (any port), which was not granted",
    };
  }
  const engine = new NativeEngine(found, runtimeCore(options), false);
  const timeoutMs = options.timeout ?? PROBE_TIMEOUT_MS;
  let listener: Deno.Listener | undefined;
  const resources: Deno.Conn[] = [];
  const connections: EngineConnection[] = [];
  const pending: Promise<unknown>[] = [];
  const track = <T>(promise: Promise<T>): Promise<T> => {
    pending.push(promise.catch(() => {}));
    return promise;
  };
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const probeOne = async (mustClose: boolean): Promise<string | undefined> => {
    if (stopped) return "stopped";
    const { port } = listener!.addr as Deno.NetAddr;
    const accepted = track(listener!.accept());
    const client = await track(Deno.connect({ hostname: "127.0.0.1", port }));
    const served = await accepted;
    if (stopped) {
      // Timed out meanwhile: the cleanup has run already.
      client.close();
      served.close();
      return "stopped";
    }
    resources.push(client, served);
    const events: string[] = [];
    const connection = engine.serve(
      served,
      probeHooks(mustClose, events),
      () => new Response("ok"),
      internalServerError,
    );
    connections.push(connection);
    await track(client.write(
      new TextEncoder().encode(
        "GET /reaper-probe HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
      ),
    ));
    const text = await track(readResponse(client));
    if (!/^HTTP\/1\.1 200 /.test(text) || !text.endsWith("\r\n\r\nok")) {
      return `unexpected answer to the probe request: ${
        JSON.stringify(text.slice(0, 80))
      }`;
    }
    const expected: CloseReason = mustClose ? "done" : "shutdown";
    if (mustClose) {
      if (!/\r\nconnection: close\r\n/i.test(text)) {
        return "the probe response lacks Connection: close";
      }
    } else {
      connection.close("shutdown");
    }
    await connection.finished;
    const seen = events.join(", ");
    if (
      seen !== `requestStart, responseStart, requestEnd, closed:${expected}`
    ) {
      return `unexpected events on the probe connection: ${seen}`;
    }
    const eof = await track(client.read(new Uint8Array(16)));
    if (eof !== null) return "the probe connection did not close";
    return undefined;
  };
  const work = async (): Promise<string | undefined> => {
    listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    return await probeOne(true) ?? await probeOne(false);
  };
  try {
    const timeout = new Promise<string>((resolve) => {
      timer = setTimeout(
        () => resolve(`no answer within ${timeoutMs} ms`),
        timeoutMs,
      );
    });
    const failure = await Promise.race([work(), timeout]);
    return failure === undefined
      ? { ok: true }
      : { ok: false, reason: failure };
  } catch (error) {
    return { ok: false, reason: `the probe failed: ${describe(error)}` };
  } finally {
    stopped = true;
    clearTimeout(timer);
    for (const connection of connections) connection.close("shutdown");
    for (const resource of [...resources, listener]) {
      try {
        resource?.close();
      } catch {
        // Already closed, or taken over by the runtime.
      }
    }
    // Let every operation started above settle, so that nothing leaks.
    await Promise.all(pending);
  }
}

/** Hooks for a probe connection, recording the events. */
function probeHooks(mustClose: boolean, events: string[]): ConnectionHooks {
  const hooks: ConnectionHooks = {
    remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 0 },
    touch: noop,
    headStart: noop,
    requestStart: () => (events.push("requestStart"), hooks),
    peerWait: noop,
    responseStart: () => events.push("responseStart"),
    requestEnd: () => events.push("requestEnd"),
    mustClose,
    keepAlive: "",
    setRequestTimeout: noop,
    closed: (reason) => events.push(`closed:${reason}`),
  };
  return hooks;
}

/** Reads one response with a `content-length` (or until EOF), as text. */
async function readResponse(conn: Deno.Conn): Promise<string> {
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(4096);
  let text = "";
  while (text.length < 64 * 1024) {
    const n = await conn.read(buffer);
    if (n === null) break;
    text += decoder.decode(buffer.subarray(0, n), { stream: true });
    const end = text.indexOf("\r\n\r\n");
    if (end !== -1) {
      const length = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end));
      if (length && text.length >= end + 4 + Number(length[1])) break;
    }
  }
  return text;
}

function runtimeCore(options: NativeEngineOptions): RuntimeCore | undefined {
  return findRuntimeCore(
    "denoNs" in options
      ? options.denoNs
      : (globalThis as { Deno?: unknown }).Deno,
  );
}

function describe(error: unknown): string {
  return error instanceof Error
    ? `${error.name}: ${error.message}`
    : String(error);
}

function noop(): void {}

/** Sets a response header, wrapping the response when its headers are immutable. */
function withHeader(res: Response, name: string, value: string): Response {
  try {
    res.headers.set(name, value);
    return res;
  } catch {
    // Immutable headers (`fetch()`, `Response.redirect()`): same body,
    // status and headers in a new response; the body is not read.
    const copy = new Response(res.body, {
      status: res.status,
      statusText: res.statusText,
      headers: res.headers,
    });
    // The copy no longer tells the runtime that fetch() decoded the body:
    // drop the fields that describe the encoded bytes, as it would.
    if (decodedByFetch(res)) dropEncodedFields(copy.headers);
    copy.headers.set(name, value);
    return copy;
  }
}

class NativeEngine implements Engine {
  readonly name = "native" as const;
  /** The runtime reads and writes the bytes: the engine sees requests only. */
  readonly tracksBytes = false;
  readonly #serveOn: ServeOnConn;
  readonly #core: RuntimeCore | undefined;
  readonly #compress: boolean;

  constructor(
    serveOn: ServeOnConn,
    core: RuntimeCore | undefined,
    compress: boolean,
  ) {
    this.#serveOn = serveOn;
    this.#core = core;
    this.#compress = compress;
  }

  serve(
    conn: Deno.Conn,
    hooks: ConnectionHooks,
    handler: ServeHandler,
    onError: ErrorHandler,
  ): EngineConnection {
    return new NativeConnection(
      this.#serveOn,
      this.#core,
      conn,
      hooks,
      handler,
      onError,
      this.#compress,
    );
  }
}

/** Per-request flag: the handler's response was seen. */
const RESPONDED = 1;
/** Per-request flag: the request was upgraded (`101`). */
const UPGRADED = 2;
let requestFlags: (info: NativeInfo) => number;
let addRequestFlags: (info: NativeInfo, flags: number) => void;

/** What a handler gets as `info` from the native engine. */
class NativeInfo extends RequestInfo {
  readonly completed: Promise<void>;
  #flags = 0;

  static {
    requestFlags = (info) => info.#flags;
    addRequestFlags = (info, flags) => {
      info.#flags |= flags;
    };
  }

  constructor(
    hooks: ConnectionHooks,
    request: RequestHooks,
    completed: Promise<void>,
  ) {
    super(hooks, request);
    this.completed = completed;
  }
}

/** The `WebSocket` an upgrade response carries, if any. */
function upgradeSocket(res: Response): WebSocket | undefined {
  const WebSocketClass = (globalThis as { WebSocket?: typeof WebSocket })
    .WebSocket;
  if (WebSocketClass === undefined) return undefined;
  for (const key of Object.getOwnPropertySymbols(res)) {
    const value = (res as unknown as Record<symbol, unknown>)[key];
    if (value instanceof WebSocketClass) return value;
  }
  return undefined;
}

/** The resource id of a server `WebSocket`, once it is open. */
function socketRid(socket: WebSocket): number | undefined {
  for (const key of Object.getOwnPropertySymbols(socket)) {
    if (key.description === "[[rid]]") {
      const rid = (socket as unknown as Record<symbol, unknown>)[key];
      return typeof rid === "number" ? rid : undefined;
    }
  }
  return undefined;
}

/**
 * An upgraded connection (`Deno.upgradeWebSocket()`): the runtime is done
 * with HTTP on it and a `WebSocket` owns the socket.
 *
 * When the connection is upgraded, the runtime's per-connection server
 * ends, and ending it closes every WebSocket upgraded from it (it
 * force-closes them as a server shutdown would; measured on Deno 2.9.6).
 * Closing that server's resource first, when the WebSocket opens, makes
 * the runtime's own close fail harmlessly, and the WebSocket lives on.
 */
class Upgrade {
  /** Settles when the WebSocket is closed, or never came to be. */
  readonly ended: Promise<void>;
  #resolve!: () => void;
  readonly #core: RuntimeCore | undefined;
  /** The resource id of the runtime's per-connection server, or -1. */
  #serverRid: number;
  #socket: WebSocket | undefined;
  /** How to close the socket once it opens: `"force"`, `"goAway"`, or none. */
  #pending: "force" | "goAway" | undefined;

  constructor(core: RuntimeCore | undefined, serverRid: number) {
    this.#core = core;
    this.#serverRid = serverRid;
    this.ended = new Promise((resolve) => this.#resolve = resolve);
  }

  /** Watches the WebSocket of the upgrade response; `undefined`: none. */
  watch(socket: WebSocket | undefined): void {
    if (this.#socket !== undefined) return;
    if (socket === undefined || socket.readyState === WebSocket.CLOSED) {
      this.#resolve();
      return;
    }
    this.#socket = socket;
    socket.addEventListener("close", () => this.#resolve());
    socket.addEventListener("error", () => {
      // A failed upgrade stays CONNECTING and fires "error" only.
      if (socket.readyState === WebSocket.CONNECTING) this.#resolve();
    });
    socket.addEventListener("open", () => {
      this.detach();
      this.#closePending();
    });
    if (socket.readyState === WebSocket.OPEN) this.#closePending();
  }

  /**
   * Closes the runtime's per-connection server resource, so that ending
   * the server cannot close the socket. Safe while the runtime is inside
   * its call of the handler (the connection completes the upgrade before
   * it sees the close); later, only once the socket is open, and then it
   * races the runtime's own close.
   */
  detach(): void {
    const rid = this.#serverRid;
    if (rid === -1) return;
    this.#serverRid = -1;
    try {
      this.#core!.tryClose(rid);
    } catch {
      // Already gone.
    }
  }

  /**
   * Closes the socket now, without a closing handshake. Before the handler
   * returned the socket, there is nothing to wait for: the caller aborts
   * the connection.
   */
  force(): void {
    this.#pending = "force";
    if (this.#socket === undefined) this.#resolve();
    else this.#closePending();
  }

  /** Starts a closing handshake with `1001` (going away), once open. */
  goAway(): void {
    this.#pending ??= "goAway";
    this.#closePending();
  }

  #closePending(): void {
    const socket = this.#socket;
    if (socket?.readyState !== WebSocket.OPEN || !this.#pending) return;
    const rid = this.#pending === "force" ? socketRid(socket) : undefined;
    try {
      if (rid !== undefined && this.#core !== undefined) {
        // Closing the resource closes the socket and fires "close".
        this.#core.tryClose(rid);
      } else {
        socket.close(1001, "");
      }
    } catch {
      // Already closing.
    }
  }
}

/**
 * One connection served by the runtime. It is also the `signal` handed to
 * the runtime (it only calls `addEventListener("abort", …)`), which saves an
 * `AbortController` and its `AbortSignal` per connection.
 */
class NativeConnection implements EngineConnection {
  readonly finished: Promise<void>;
  readonly #hooks: ConnectionHooks;
  readonly #handler: ServeHandler;
  readonly #onError: ErrorHandler;
  readonly #core: RuntimeCore | undefined;
  /**
   * The resource id of the runtime's per-connection server, or -1 when it
   * is not known; {@linkcode Upgrade} closes it when a WebSocket opens.
   */
  #serverRid = -1;
  /**
   * The runtime's `shutdown()`, kept without the object it came in: the
   * rest of that object (its `addr`, `ref()`, `unref()`, ...) is not needed
   * and holding it would cost about 0.5 KiB per connection.
   */
  #shutdownFn: (() => Promise<void>) | undefined;
  #abort: (() => void) | undefined;
  /** The reason given to `close()`. */
  #reason: CloseReason | undefined;
  /** Whether the engine ended, or is ending, the connection. */
  #ending = false;
  /** Whether `hooks.closed()` was called. */
  #done = false;
  /** Set when the connection was upgraded. */
  #upgraded: Upgrade | undefined;
  /** Requests in flight (HTTP/2: open streams). */
  #open = 0;
  /** Whether `closeIdle()` found no request in flight. */
  #idleClose = false;
  /** Whether responses are compressed (`automaticCompression`). */
  readonly #compress: boolean;

  constructor(
    serveOn: ServeOnConn,
    core: RuntimeCore | undefined,
    conn: Deno.Conn,
    hooks: ConnectionHooks,
    handler: ServeHandler,
    onError: ErrorHandler,
    compress: boolean,
  ) {
    this.#hooks = hooks;
    this.#handler = handler;
    this.#onError = onError;
    this.#core = core;
    this.#compress = compress;
    let server: RuntimeConnectionServer;
    try {
      const before = nextRid(core);
      server = serveOn(
        conn,
        this,
        (request, info) => this.#request(request, info),
        onError,
        noop,
      );
      if (
        !isThenable(server?.finished) || typeof server.shutdown !== "function"
      ) {
        throw new TypeError("Unexpected result of serveHttpOnConnection");
      }
      // Resource ids are handed out in order and never reused: when the
      // call created exactly one resource, that is its server.
      if (before !== -1 && nextRid(core) === before + 2) {
        this.#serverRid = before;
      }
    } catch {
      try {
        // If the runtime took the connection, close it through the signal.
        this.#abort?.();
        this.#abort = undefined;
        conn.close();
      } catch {
        // Already closed, or taken over by the runtime.
      }
      this.finished = Promise.resolve().then(() => this.#end("error"));
      return;
    }
    this.#shutdownFn = server.shutdown;
    this.finished = Promise.resolve(server.finished).then(
      () => this.#runtimeDone(undefined),
      (error) => this.#runtimeDone(clientGone(error) ? undefined : "error"),
    );
  }

  /**
   * Called by the runtime to register the listener that closes the
   * connection (the `AbortSignal` contract).
   */
  addEventListener(type: string, listener: () => void): void {
    if (type === "abort") this.#abort = listener;
  }

  /** The `AbortSignal` contract: forgets the listener. */
  removeEventListener(type: string, listener: () => void): void {
    if (type === "abort" && this.#abort === listener) this.#abort = undefined;
  }

  /** The `AbortSignal` contract: whether `close()` was called. */
  get aborted(): boolean {
    return this.#reason !== undefined;
  }

  close(reason: CloseReason): void {
    if (this.#done || this.#reason !== undefined) return;
    this.#reason = reason;
    // Before the runtime sent the `101` the abort below still closes the
    // connection; after, it finds its server gone.
    this.#upgraded?.force();
    const abort = this.#abort;
    this.#abort = undefined;
    if (abort === undefined) {
      // The runtime took no listener (it changed): close when idle at least.
      this.#shutdown();
      return;
    }
    try {
      abort();
    } catch {
      // The runtime already closed it.
    }
  }

  closeIdle(): void {
    if (this.#done || this.#ending) return;
    if (this.#upgraded !== undefined) {
      // Never between requests again: say goodbye as Deno.serve does.
      this.#ending = true;
      this.#upgraded.goAway();
      return;
    }
    // Between requests: a close of the shutdown, as on the portable engine.
    if (this.#open === 0) this.#idleClose = true;
    this.#shutdown();
  }

  #shutdown(): void {
    this.#ending = true;
    const shutdown = this.#shutdownFn;
    this.#shutdownFn = undefined;
    if (shutdown === undefined) return;
    try {
      // Called without its object: it uses its closure, not `this`; the
      // probe checks that this still works.
      shutdown().catch(noop);
    } catch {
      // The runtime already closed it.
    }
  }

  /** The runtime is done with the connection; an upgrade may live on. */
  #runtimeDone(error: "error" | undefined): void | Promise<void> {
    const upgraded = this.#upgraded;
    if (upgraded === undefined) return this.#end(error);
    return upgraded.ended.then(() => this.#end(undefined));
  }

  #end(error: "error" | undefined): void {
    if (this.#done) return;
    this.#done = true;
    this.#shutdownFn = undefined;
    this.#abort = undefined;
    try {
      this.#hooks.closed(
        this.#reason ??
          (this.#ending
            ? (this.#idleClose ? "shutdown" : "done")
            : error ?? "client"),
      );
    } catch {
      // Hooks do not throw; if one does, `finished` must still resolve.
    }
  }

  /**
   * The request behind `info` was upgraded: the runtime sends the `101`
   * when the handler returns it (`completed` settles earlier, when the
   * handler calls `Deno.upgradeWebSocket()`). The connection leaves the
   * timers until the WebSocket closes.
   */
  #upgrade(info: NativeInfo, stream: RequestHooks): void {
    if (requestFlags(info) & UPGRADED) return;
    addRequestFlags(info, UPGRADED);
    if (this.#upgraded !== undefined) return;
    this.#upgraded = new Upgrade(this.#core, this.#serverRid);
    stream.setRequestTimeout(0);
    this.#hooks.upgraded?.();
  }

  #request(
    request: Request,
    runtimeInfo: RuntimeHandlerInfo,
  ): Response | Promise<Response> {
    const hooks = this.#hooks;
    const completed = runtimeInfo.completed;
    this.#open++;
    // HTTP/2: one handle per stream, several open at once.
    const stream = hooks.requestStart();
    const info = new NativeInfo(hooks, stream, completed);
    const end = (failure: unknown): void => {
      if (this.#done) return;
      const flags = requestFlags(info);
      if (flags & UPGRADED) return;
      if (failure === undefined && !(flags & RESPONDED)) {
        // Only an upgrade completes a request before its response.
        this.#upgrade(info, stream);
        return;
      }
      this.#open--;
      stream.requestEnd();
    };
    completed.then(end, end);
    // Read only when compressing: the runtime builds headers lazily.
    const accept = this.#compress
      ? request.headers.get("accept-encoding")
      : undefined;
    const result = callHandler(this.#handler, request, info, this.#onError);
    if (result instanceof Response) {
      return this.#respond(result, info, stream, accept, true);
    }
    return result.then((res) => this.#respond(res, info, stream, accept));
  }

  /**
   * Hands a response to the runtime, with the headers the hooks ask for.
   * `accept`: the request's `Accept-Encoding` when compressing, else
   * `undefined`. `sync`: the runtime is inside its call of the handler.
   */
  #respond(
    res: Response,
    info: NativeInfo,
    stream: RequestHooks,
    accept: string | null | undefined,
    sync = false,
  ): Response {
    if (this.#done) return res;
    addRequestFlags(info, RESPONDED);
    const hooks = this.#hooks;
    if (res.status === 101 || requestFlags(info) & UPGRADED) {
      // An upgrade response must reach the runtime untouched.
      this.#upgrade(info, stream);
      stream.responseStart();
      const upgraded = this.#upgraded!;
      if (sync && res.status === 101) upgraded.detach();
      upgraded.watch(res.status === 101 ? upgradeSocket(res) : undefined);
      return res;
    }
    stream.responseStart();
    if (accept !== undefined) res = compressResponse(accept, res);
    const closing = this.#ending || hooks.mustClose;
    const keepAlive = closing ? "" : hooks.keepAlive;
    // Nothing to add: the response keeps the runtime's fastest path.
    if (!closing && keepAlive === "") return res;
    try {
      if (closing) {
        if (!this.#ending) this.#shutdown();
        return withHeader(res, "connection", "close");
      }
      return withHeader(res, "keep-alive", keepAlive);
    } catch {
      // The body was already used: let the runtime report it.
      return res;
    }
  }
}

/**
 * Whether an error of the runtime's connection means the client went away
 * (reset, broken pipe, cut short) rather than a protocol or I/O fault: the
 * runtime wraps it in a `Deno.errors.Http` whose message starts with the
 * underlying error's name.
 */
function clientGone(error: unknown): boolean {
  return error instanceof Error &&
    /^(ConnectionReset|BrokenPipe|ConnectionAborted|UnexpectedEof|NotConnected)\b/
      .test(error.message);
}

/**
 * The id the runtime gives the next resource, or -1 when unknown: a cancel
 * handle is created and closed at once (about 0.1 µs).
 */
function nextRid(core: RuntimeCore | undefined): number {
  if (core === undefined) return -1;
  try {
    const rid = core.createCancelHandle();
    core.close(rid);
    return typeof rid === "number" ? rid + 1 : -1;
  } catch {
    return -1;
  }
}
