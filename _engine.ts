// Copyright 2026 the Reaper authors. MIT license.
/**
 * The interface between the lifetime layer (`server.ts`) and an HTTP engine.
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
 * @module
 */

import type { CloseReason, ServeHandler } from "./types.ts";

/** What the lifetime layer learns from, and tells, one served connection. */
export interface ConnectionHooks {
  /** The client's address. */
  readonly remoteAddr: Deno.NetAddr;
  /**
   * Bytes were read from or written to the connection. The portable engine
   * calls it on every read and write; the native engine cannot see bytes.
   */
  touch(): void;
  /** The first byte of a request head arrived (state `reading`). */
  headStart(): void;
  /**
   * A request head is complete and the handler is about to run (state
   * `active`). Counts the request.
   *
   * @param immediate `true` when the engine awaited nothing and ran no user
   * code since `headStart()` (the head came in one read): the time it
   * stamped still stands, and the clock is not read again.
   */
  requestStart(immediate?: boolean): void;
  /**
   * The engine waits for request body bytes from the client (`true`) or has
   * stopped waiting (`false`). While it waits, `idleTimeout` applies in state
   * `active`; a handler computing without reading is never idle.
   */
  bodyWait(waiting: boolean): void;
  /** The handler returned a response; it is being sent (state `writing`). */
  responseStart(): void;
  /** The response has been sent completely (state `idle`). */
  requestEnd(): void;
  /**
   * Whether the response being prepared must end the connection: the server
   * drains, or `maxRequestsPerConnection` was reached. The engine then sends
   * `Connection: close` and closes the connection after the response.
   * Read it when the response head is written.
   */
  readonly mustClose: boolean;
  /**
   * The value of the `Keep-Alive` response header (for example
   * `"timeout=64"`), or `""` to send none.
   */
  readonly keepAlive: string;
  /**
   * Overrides the stall and request timeouts for the current request
   * (`info.setTimeout()`); `0` disables them. Validated by the caller.
   */
  setRequestTimeout(ms: number): void;
  /** The connection ended, for the given reason (state `closed`). */
  closed(reason: CloseReason): void;
}

/** The handle on one served connection that the lifetime layer drives. */
export interface EngineConnection {
  /**
   * Settles when the connection is closed and the engine holds nothing of
   * it any more. Never rejects.
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

/** Serves HTTP on connections that the lifetime layer owns. */
export interface Engine {
  /** The engine's name, reported in stats and logs. */
  readonly name: "portable" | "native";
  /**
   * Whether the engine reports every read and write through `touch()`.
   * When it does not (the native engine), the stall timeout cannot run
   * while a request is in flight: `idleTimeout` then applies only between
   * requests, and `requestTimeout` bounds slow bodies and slow readers.
   * Default `true`.
   */
  readonly tracksBytes?: boolean;
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
    onError: (error: unknown) => Response | Promise<Response>,
  ): EngineConnection;
}
