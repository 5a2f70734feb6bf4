// Copyright 2026 the Reaper authors. MIT license.
/**
 * The contract between the lifetime layer (`server.ts`, `_lifetime.ts`) and
 * an HTTP engine, and the parts of it that every engine shares.
 *
 * The lifetime layer accepts a connection, creates a {@linkcode ConnectionHooks}
 * for it and hands both to {@linkcode Engine.serve}. The engine speaks HTTP on
 * the connection, calls the user's handler and reports what happens through
 * the hooks. The lifetime layer keeps the timers, decides when a connection
 * must go and tells the engine through the returned
 * {@linkcode EngineConnection}. Nothing above this interface knows which
 * engine serves a connection.
 *
 * Hook calls are cheap (a clock read and a few field writes) and do not
 * throw (an `onConnectionState` callback that throws is caught and logged):
 * an engine may call `touch()` on every read and write.
 *
 * What both engines share lives here, so that they cannot drift apart:
 *
 * - {@linkcode callHandler}: runs the handler with one error policy (a
 *   throw, a rejection or a value that is not a `Response` goes to
 *   `onError`; an `onError` that fails is logged and answered `500`);
 * - {@linkcode RequestInfo}: the base of the `info` a handler gets, with
 *   `info.setTimeout()` validated once;
 * - {@linkcode internalServerError}, {@linkcode defaultOnError};
 * - {@linkcode formatHost}: an address as it stands in a URL or `Host`;
 *   {@linkcode formatAddr}: an address as logs and the dashboard print it;
 *   {@linkcode listeningAt}: where a server says it listens.
 *
 * @module
 */

import type { CloseReason, ServeHandler, ServeHandlerInfo } from "./types.ts";

/**
 * What the lifetime layer learns from one request on a connection: on
 * HTTP/1.1 the connection's current request, on HTTP/2 one stream. Returned
 * by {@linkcode ConnectionHooks.requestStart}.
 */
export interface RequestHooks {
  /** The handler returned a response; it is being sent. */
  responseStart(): void;
  /** The response has been sent completely, or the request failed. */
  requestEnd(): void;
  /**
   * Overrides the stall and request timeouts for this request
   * (`info.setTimeout()`); `0` disables them. {@linkcode RequestInfo}
   * validates `ms` before it calls this.
   */
  setRequestTimeout(ms: number): void;
}

/**
 * What the lifetime layer learns from, and tells, one served connection.
 *
 * A connection may carry several requests at once (HTTP/2 streams): each
 * `requestStart()` returns the hooks of that request. While no other
 * request is open, those are the connection hooks themselves, so an engine
 * that serves one request at a time (HTTP/1.1) may call `responseStart()`,
 * `requestEnd()` and `setRequestTimeout()` on the connection hooks.
 */
export interface ConnectionHooks extends RequestHooks {
  /**
   * The client's address; on a Unix domain socket
   * `{ transport: "unix", path }` with the listener's path.
   */
  readonly remoteAddr: Deno.NetAddr | Deno.UnixAddr;
  /**
   * Bytes were read from or written to the connection. The portable engine
   * calls it on every read and write; the native engine cannot see bytes.
   */
  touch(): void;
  /** The first byte of a request head arrived (state `reading`). */
  headStart(): void;
  /**
   * A request head is complete and the handler is about to run (state
   * `active`). Counts the request. While any request is open the
   * connection is never idle.
   *
   * @param immediate `true` when the engine awaited nothing and ran no user
   * code since `headStart()` (the head came in one read): the time it
   * stamped still stands, and the clock is not read again.
   * @returns The hooks of this request.
   */
  requestStart(immediate?: boolean): RequestHooks;
  /**
   * The engine waits on the peer (`true`): for request body bytes, or for a
   * write of the response that the peer has not drained; or it has stopped
   * waiting (`false`). Only while it waits does `idleTimeout` apply in
   * states `active` and `writing`: a handler computing, or a response
   * stream slow to produce its next chunk, is never idle.
   */
  peerWait(waiting: boolean): void;
  /**
   * Whether the response being prepared must end the connection: the server
   * shuts down, or `maxRequestsPerConnection` was reached. The engine then
   * sends `Connection: close` (HTTP/2: `GOAWAY`) and closes the connection
   * after the response. Read it when the response head is written.
   */
  readonly mustClose: boolean;
  /**
   * The value of the `Keep-Alive` response header (for example
   * `"timeout=64"`), or `""` to send none.
   */
  readonly keepAlive: string;
  /**
   * The request was upgraded (a WebSocket): the connection serves no more
   * requests and never becomes idle. A graceful shutdown then calls
   * {@linkcode EngineConnection.closeIdle} at once, which says goodbye
   * (close code `1001`), instead of waiting for the connection to be idle.
   * Optional, so that a test double may leave it out.
   */
  upgraded?(): void;
  /**
   * The connection ended, for the given reason (state `closed`). A call
   * after the lifetime layer closed the connection itself (through
   * {@linkcode EngineConnection.close}) changes nothing.
   */
  closed(reason: CloseReason): void;
}

/** The handle on one served connection that the lifetime layer drives. */
export interface EngineConnection {
  /**
   * Settles when the connection is closed and the engine holds nothing of
   * it any more (no read, write or timer of it is pending). Never rejects.
   */
  readonly finished: Promise<void>;
  /**
   * Closes the connection now, aborting a request in flight. With reason
   * `"headerTimeout"` an engine that can answers `408` first when no byte of
   * a response has been written. Idempotent.
   */
  close(reason: CloseReason): void;
  /**
   * Closes the connection as soon as it is between requests: at once if it
   * is idle now, else after the response in flight (which then carries
   * `Connection: close`). Idempotent.
   */
  closeIdle(): void;
}

/** Turns an error of the handler into a response (`ServeOptions.onError`). */
export type ErrorHandler = (error: unknown) => Response | Promise<Response>;

/** Serves HTTP on connections that the lifetime layer owns. */
export interface Engine {
  /** The engine's name, reported in stats and logs. */
  readonly name: "portable" | "native";
  /**
   * Whether the engine reports every read and write through `touch()`.
   * When it does not (the native engine), the stall timeout cannot run
   * while a request is in flight: `idleTimeout` then applies only between
   * requests, and `requestTimeout` bounds slow bodies and slow readers.
   */
  readonly tracksBytes: boolean;
  /**
   * Starts serving HTTP on `conn`. Must not throw; errors end the connection
   * through `hooks.closed("error")`.
   *
   * @param conn The accepted connection; the engine owns it from now on.
   * @param hooks The lifetime layer's hooks for this connection.
   * @param handler The user's handler.
   * @param onError Turns an error thrown by the handler into a response.
   * @returns The handle the lifetime layer drives the connection with.
   */
  serve(
    conn: Deno.Conn,
    hooks: ConnectionHooks,
    handler: ServeHandler,
    onError: ErrorHandler,
  ): EngineConnection;
}

/**
 * The message of the `TypeError` that `onError` gets when a handler returns
 * (or resolves to) something that is not a `Response`; the runtime's own
 * wording.
 */
export const NOT_A_RESPONSE =
  "Return value from serve handler must be a response or a promise resolving to a response";

/** The same, for an `onError` that returns something else. */
const ON_ERROR_NOT_A_RESPONSE =
  "Return value from onError handler must be a response or a promise resolving to a response";

/**
 * The plain `500 Internal Server Error` response.
 *
 * @returns A new response.
 */
export function internalServerError(): Response {
  return new Response("Internal Server Error", {
    status: 500,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

/**
 * The `onError` used when the options give none: logs the error and answers
 * {@linkcode internalServerError}.
 *
 * @param error What the handler threw.
 * @returns The 500 response.
 */
export function defaultOnError(error: unknown): Response {
  console.error("Request handler failed:", error);
  return internalServerError();
}

/** An `onError` failed too: log it, answer 500. */
function onErrorFailed(error: unknown): Response {
  console.error("Exception in onError while handling exception", error);
  return internalServerError();
}

/**
 * Whether `value` is a promise-like (has a `then` method).
 *
 * @param value Anything.
 * @returns Whether it can be awaited as a promise.
 */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null &&
    (typeof value === "object" || typeof value === "function") &&
    typeof (value as { then?: unknown }).then === "function";
}

/** Runs `onError`; whatever it does, the result is a `Response`. */
function recover(
  error: unknown,
  onError: ErrorHandler,
): Response | Promise<Response> {
  let result: unknown;
  try {
    result = onError(error);
  } catch (failure) {
    return onErrorFailed(failure);
  }
  if (result instanceof Response) return result;
  if (!isThenable(result)) {
    return onErrorFailed(new TypeError(ON_ERROR_NOT_A_RESPONSE));
  }
  return Promise.resolve(result).then(
    (res) =>
      res instanceof Response
        ? res
        : onErrorFailed(new TypeError(ON_ERROR_NOT_A_RESPONSE)),
    onErrorFailed,
  );
}

/**
 * Calls the handler with the one error policy of every engine: a handler
 * that throws, rejects, or returns (or resolves to) something that is not a
 * `Response` gets `onError` (with a `TypeError` saying
 * {@linkcode NOT_A_RESPONSE} in the last case); an `onError` that throws,
 * rejects or returns no `Response` is logged and answered
 * {@linkcode internalServerError}.
 *
 * The engines take every handler as a `ServeHandler` and pass it an
 * `info` whose address is of either kind: the server pairs each handler
 * with the listener whose addresses it takes (a handler of
 * `serve({ path })` gets Unix addresses, any other TCP ones), so the
 * address is always of the kind the handler declares.
 *
 * @param handler The user's handler.
 * @param request The request.
 * @param info The handler's `info`.
 * @param onError The error handler.
 * @returns The response, synchronously when the handler returned one (an
 * engine can then skip a microtask); otherwise a promise that never rejects.
 */
export function callHandler(
  handler: ServeHandler,
  request: Request,
  info: ServeHandlerInfo<Deno.NetAddr | Deno.UnixAddr>,
  onError: ErrorHandler,
): Response | Promise<Response> {
  let result: unknown;
  try {
    result = handler(request, info as ServeHandlerInfo);
  } catch (error) {
    return recover(error, onError);
  }
  if (result instanceof Response) return result;
  if (!isThenable(result)) {
    return recover(new TypeError(NOT_A_RESPONSE), onError);
  }
  return Promise.resolve(result).then(
    (res) =>
      res instanceof Response
        ? res
        : recover(new TypeError(NOT_A_RESPONSE), onError),
    (error) => recover(error, onError),
  );
}

/**
 * Checks the argument of `info.setTimeout()`.
 *
 * @param ms The value given.
 * @returns `ms`.
 * @throws {RangeError} If `ms` is not a finite number >= 0 (a `TypeError`
 * if it is not a number at all).
 */
function checkRequestTimeout(ms: unknown): number {
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0) {
    const kind = typeof ms === "number" ? RangeError : TypeError;
    throw new kind(
      `Cannot set timeout: value must be a finite number >= 0, received ${
        typeof ms === "string" ? JSON.stringify(ms) : String(ms)
      }`,
    );
  }
  return ms;
}

/**
 * The base of the `info` that every engine gives a handler: the client's
 * address and `setTimeout()`, validated here once. An engine adds
 * `completed`.
 */
export abstract class RequestInfo
  implements ServeHandlerInfo<Deno.NetAddr | Deno.UnixAddr> {
  readonly #hooks: ConnectionHooks;
  readonly #request: RequestHooks;

  /**
   * @param hooks The connection's hooks.
   * @param request The request's hooks (`hooks.requestStart()`); by
   * default the connection's own request.
   */
  constructor(hooks: ConnectionHooks, request: RequestHooks = hooks) {
    this.#hooks = hooks;
    this.#request = request;
  }

  /** The address of the client. */
  get remoteAddr(): Deno.NetAddr | Deno.UnixAddr {
    return this.#hooks.remoteAddr;
  }

  /** Settles when the response has been sent, or the request failed. */
  abstract readonly completed: Promise<void>;

  /**
   * Overrides the stall and request timeouts of this request.
   *
   * @param ms Milliseconds; `0` for none.
   * @throws {RangeError} If `ms` is negative or not finite.
   * @throws {TypeError} If `ms` is not a number.
   */
  setTimeout(ms: number): void {
    this.#request.setRequestTimeout(checkRequestTimeout(ms));
  }
}

/**
 * A host name as it stands in a URL or a `Host` field: an IPv6 address in
 * brackets, anything else as it is.
 *
 * @param hostname A host name or an IP address.
 * @returns The host, bracketed when it is an IPv6 address.
 */
export function formatHost(hostname: string): string {
  return hostname.includes(":") ? `[${hostname}]` : hostname;
}

/**
 * An address as logs and the dashboard print it: `host:port` (an IPv6 host
 * in brackets) for TCP, the socket path for a Unix domain socket.
 *
 * @param addr The address.
 * @returns For example `127.0.0.1:8000`, `[::1]:8000` or `/run/app.sock`.
 */
export function formatAddr(addr: Deno.NetAddr | Deno.UnixAddr): string {
  return "path" in addr
    ? addr.path
    : `${formatHost(addr.hostname)}:${addr.port}`;
}

/**
 * Where a server says it listens, as `Deno.serve` says it: the URL of a TCP
 * listener, the path of a Unix domain socket.
 *
 * @param addr The address the server listens on (with the real port).
 * @param tls Whether the server speaks HTTPS.
 * @returns For example `http://0.0.0.0:8000/` or `/run/app.sock`.
 */
export function listeningAt(
  addr: Deno.NetAddr | Deno.UnixAddr,
  tls: boolean,
): string {
  return "path" in addr
    ? addr.path
    : `${tls ? "https" : "http"}://${formatAddr(addr)}/`;
}
