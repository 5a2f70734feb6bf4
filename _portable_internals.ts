// Copyright 2026 the Reaper authors. MIT license.
/**
 * What the parts of a portable connection share: the connection's phases,
 * the one typed view of the connection ({@linkcode Connection}) through
 * which the reader, the request body and the writer reach its state, what
 * all connections of an engine share ({@linkcode Context}), and the errors
 * the parts throw to each other.
 *
 * The phases and their transitions are tabled in `_portable.ts`.
 *
 * @module
 */

import type { ConnectionHooks, ErrorHandler } from "./_engine.ts";
import type { RequestBody } from "./_portable_body.ts";
import type { Reader } from "./_portable_reader.ts";
import type { Exchange } from "./_portable_request.ts";
import type { Writer } from "./_portable_writer.ts";
import type { CloseReason, ServeHandler } from "./types.ts";

/** Between requests: waits for the first byte of the next head. */
export const IDLE = 0;
/** As {@linkcode IDLE}, but a discard has reported `headStart()` already. */
export const IDLE_HEAD = 1;
/** Reads a request head (`headStart()` reported). */
export const HEAD = 2;
/** Runs the handler and sends its response. */
export const EXCHANGE = 3;
/** Discards the body the handler left unread (the response was sent). */
export const DISCARD = 4;
/** As {@linkcode DISCARD}, having reported `headStart()` to wait for bytes. */
export const DISCARD_HEAD = 5;
/** Ended; a last write may still be finishing. Every phase from here on is closed. */
export const CLOSING = 6;
/** The socket is closed and `closed()` reported; a read or write may still settle. */
export const CLOSED = 7;
/** Nothing of the connection is pending any more: `finished` settles. */
export const FINISHED = 8;

/**
 * The phase of a portable connection. Phases are ordered: `phase >=
 * CLOSING` means the connection has ended.
 */
export type Phase =
  | typeof IDLE
  | typeof IDLE_HEAD
  | typeof HEAD
  | typeof EXCHANGE
  | typeof DISCARD
  | typeof DISCARD_HEAD
  | typeof CLOSING
  | typeof CLOSED
  | typeof FINISHED;

/**
 * What every connection of one engine shares, made once and not once a
 * connection: the handler, its error handler and the engine's limits.
 */
export interface Context {
  /** The user's handler. */
  readonly handler: ServeHandler;
  /** Turns an error of the handler into a response. */
  readonly onError: ErrorHandler;
  /** The largest request head (and trailer section), in bytes. */
  readonly maxHeaderSize: number;
  /** The longest request-target, in bytes (below `maxHeaderSize`). */
  readonly targetLimit: number;
  /** The size the read buffer may grow to, in bytes. */
  readonly bufferLimit: number;
  /** Whether responses are compressed as `Deno.serve` does (`_compression.ts`). */
  readonly automaticCompression: boolean;
}

/**
 * The connection as its parts see it: the one object through which the
 * reader, the request body and the writer reach the request loop's state.
 * The connection implements it itself, so that it costs no memory.
 */
export interface Connection {
  /** Where the connection is (the table in `_portable.ts`). */
  phase: Phase;
  /** The socket. */
  readonly conn: Deno.Conn;
  /** The lifetime layer's hooks. */
  readonly hooks: ConnectionHooks;
  /** What the connection shares with the engine's other connections. */
  readonly context: Context;
  /** The read side. */
  readonly reader: Reader;
  /** The write side. */
  readonly writer: Writer;
  /** The request in flight, from its handler's call to its response's end. */
  readonly ex: Exchange | null;
  /** The body of the request in flight, or `null` when it has none. */
  readonly body: RequestBody | null;
  /**
   * The lifetime layer asked to close between requests (`closeIdle()`). An
   * order kept until the next idle point, not a phase: it can come in any.
   */
  readonly closeRequested: boolean;
  /**
   * Ends the connection once: aborts the request in flight, answers
   * `status` first when given and nothing of a response was sent, then
   * closes the socket and reports `reason`.
   *
   * @param reason Why the connection ends.
   * @param status The status of an error answer, if any.
   */
  terminate(reason: CloseReason, status?: number): void;
  /**
   * The connection starts (`true`) or stops (`false`) waiting on the peer:
   * for request body bytes, or for a write the peer has not drained. Waits
   * may overlap (a body read while a response chunk drains); the lifetime
   * layer hears `peerWait(true)` when the first begins and `peerWait(false)`
   * when the last ends, else `touch()`.
   *
   * @param waiting Whether a wait begins.
   * @param quiet When the last wait ends: report nothing, since
   * `requestEnd()` follows at once (the last write of a response).
   */
  peerWait(waiting: boolean, quiet?: boolean): void;
}

/** The client closed or reset the connection. */
export class ClientGone extends Error {}
/** The request body is malformed (its framing cannot be trusted). */
export class BadBody extends Error {}
/** The connection was closed by the engine or the lifetime layer. */
export class Closed extends Error {}
/** A streamed response body did not match its `Content-Length`. */
export class BadLength extends Error {}

/**
 * The error a handler's read of the request body fails with when the
 * client went away or the connection closed: the native engine's.
 *
 * @returns A new `Deno.errors.BadResource`.
 */
export function bodyUnavailable(): Error {
  return new Deno.errors.BadResource(
    "Cannot read body as underlying resource unavailable",
  );
}

/**
 * Whether `error` means that the client went away (rather than a fault of
 * the server).
 *
 * @param error What a read, a write or a part threw.
 * @returns Whether the close reason is `"client"`.
 */
export function isClientError(error: unknown): boolean {
  return error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.ConnectionAborted ||
    error instanceof Deno.errors.NotConnected ||
    error instanceof Deno.errors.UnexpectedEof ||
    error instanceof Deno.errors.BadResource ||
    error instanceof Deno.errors.Interrupted ||
    error instanceof ClientGone;
}

/**
 * Does nothing; the rejection handler of promises whose failure is handled
 * elsewhere.
 *
 * @param _ Ignored.
 */
// deno-lint-ignore no-explicit-any
export const noop = (_?: any): void => {};

/**
 * Runs `fn` once, when `wait` settles or after `ms` milliseconds, whichever
 * comes first: the bounded wait for a last write before a socket closes.
 *
 * @param wait What to wait for.
 * @param ms The most to wait, in milliseconds.
 * @param fn What to run then.
 */
export function whenSettledOrAfter(
  wait: Promise<unknown>,
  ms: number,
  fn: () => void,
): void {
  let done = false;
  const run = () => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    fn();
  };
  const timer = setTimeout(run, ms);
  wait.then(run, run);
}
