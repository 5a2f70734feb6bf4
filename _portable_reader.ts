// Copyright 2026 the Reaper authors. MIT license.
/**
 * The read side of a portable connection: the read buffer and its window of
 * unconsumed bytes, {@linkcode Reader.fill} (at most one read pending, one
 * pair of read callbacks a connection, not a promise a read), the growing
 * and shrinking of the buffer, and the peer-gone watch, which keeps a read
 * pending while a handler runs or a response streams so that a client going
 * away is noticed.
 *
 * A clean end of stream (EOF) while a request is open means "no more
 * requests", not "client gone": a client that half-closed its side (Node's
 * `socket.end(bytes)`, `nc -N`) still reads the response, which is sent
 * with `Connection: close`, and the connection closes after it. EOF of a
 * half-close and of a full close are the same bytes on the wire, so the
 * request's `signal` aborts on it, as on the native engine and
 * `Deno.serve`; a response stream to a client that is really gone ends
 * when a write fails. A failed read (a reset) ends the connection at once.
 *
 * The request loop parses heads and the request body parses its framing
 * straight from `buf[start, end)`; the reader only fills it.
 *
 * @module
 */

import {
  BadBody,
  CLOSING,
  type Connection,
  IDLE,
  noop,
} from "./_portable_internals.ts";
import { abortExchange } from "./_portable_request.ts";

/** The size of a connection's read buffer until a head or line outgrows it. */
export const INITIAL_BUFFER = 1024;

/** The read buffer of one connection and the one read it may have pending. */
export class Reader {
  /** The buffer; `buf[start, end)` holds the bytes read and not consumed. */
  buf: Uint8Array = new Uint8Array(INITIAL_BUFFER);
  /** Where the unconsumed bytes start; the parts advance it. */
  start = 0;
  /** Where the unconsumed bytes end. */
  end = 0;
  /**
   * The client sent EOF, or a read failed: no read starts again. Not a
   * phase: a client may half-close in any phase, and the connection still
   * answers what it has buffered.
   */
  eof = false;
  readonly #c: Connection;
  #reading: Promise<number | null> | null = null;
  /** The pending read was started by {@linkcode Reader.watch}. */
  #watching = false;

  /** @param c The connection this reader belongs to. */
  constructor(c: Connection) {
    this.#c = c;
  }

  /** The pending read, or `null`. */
  get reading(): Promise<number | null> | null {
    return this.#reading;
  }

  /**
   * Reads more bytes into the buffer (at most one read is pending), after
   * sending the batched responses of pipelined requests: the client may
   * wait for them before it sends more.
   *
   * @returns The count read, or `null` at end of stream, on a read error or
   * when the connection has ended. Rejects with a `BadBody` when the buffer
   * is full and may grow no more.
   */
  fill(): Promise<number | null> {
    if (this.#reading !== null) return this.#reading;
    if (this.eof || this.#c.phase >= CLOSING) return Promise.resolve(null);
    this.#c.writer.flush();
    if (this.start === this.end) this.start = this.end = 0;
    if (this.end === this.buf.length) {
      if (this.start > 0) {
        this.buf.copyWithin(0, this.start, this.end);
        this.end -= this.start;
        this.start = 0;
      } else {
        const size = Math.min(
          this.buf.length * 2,
          this.#c.context.bufferLimit,
        );
        if (size <= this.buf.length) {
          return Promise.reject(new BadBody("Read buffer limit exceeded"));
        }
        const grown = new Uint8Array(size);
        grown.set(this.buf.subarray(0, this.end));
        this.buf = grown;
      }
    }
    const p = this.#c.conn.read(
      this.end === 0 ? this.buf : this.buf.subarray(this.end),
    ).then(this.#onRead, this.#onReadError);
    this.#reading = p;
    return p;
  }

  // Made once a connection, not once a read.
  #onRead = (n: number | null): number | null => {
    this.#reading = null;
    if (n === null) this.eof = true;
    else {
      this.end += n;
      // Between requests, headStart() follows at once and stamps the time.
      if (this.#c.phase !== IDLE) this.#c.hooks.touch();
    }
    if (this.#watching) {
      this.#watching = false;
      watched(this.#c, n, false);
    }
    return n;
  };

  #onReadError = (): null => {
    this.#reading = null;
    this.eof = true;
    if (this.#watching) {
      this.#watching = false;
      watched(this.#c, null, true);
    }
    return null;
  };

  /**
   * Reads from the socket straight into `chunk`, past the buffer: for a
   * large request body, which then needs no copy. Only while the buffer is
   * empty and no read is pending.
   *
   * @param chunk Where to read to.
   * @returns The count read, or `null` at end of stream.
   */
  readDirect(chunk: Uint8Array): Promise<number | null> {
    return this.#c.conn.read(chunk);
  }

  /**
   * Grows the buffer to at least `size` bytes, keeping what it holds (for a
   * chunked request body, read in large pieces). Only while no read is
   * pending; {@linkcode Reader.shrink} undoes it between requests.
   *
   * @param size The size wanted, in bytes.
   */
  reserve(size: number): void {
    if (this.buf.length >= size || this.#reading !== null) return;
    const grown = new Uint8Array(size);
    grown.set(this.buf.subarray(this.start, this.end));
    this.end -= this.start;
    this.start = 0;
    this.buf = grown;
  }

  /** Shrinks a grown buffer back when nothing is buffered. */
  shrink(): void {
    if (
      this.#reading === null && this.start === this.end &&
      this.buf.length > INITIAL_BUFFER
    ) {
      this.buf = new Uint8Array(INITIAL_BUFFER);
      this.start = this.end = 0;
    }
  }

  /**
   * While a handler runs or a response streams, keeps one read pending so
   * that a client going away is noticed (its bytes stay buffered). Does
   * nothing while a request body is unread: its reads are the body's.
   */
  watch(): void {
    const body = this.#c.body;
    if (
      this.#reading !== null || this.#c.phase >= CLOSING || this.eof ||
      (body !== null && !body.done) ||
      this.end - this.start >= INITIAL_BUFFER / 2 ||
      (this.end === this.buf.length && this.start === 0)
    ) return;
    // The read's own callback goes on watching (no promise a watch); it runs
    // before anything else that awaits this read.
    this.#watching = true;
    const read = this.fill();
    if (this.#reading === null) {
      // No read started after all.
      this.#watching = false;
      read.catch(noop);
    }
  }

  /**
   * The client sent EOF or reset the connection while a request was open:
   * aborts the request's signal; a reset also ends the connection (nothing
   * can be sent on it any more), while after EOF the response is still
   * sent.
   *
   * @param reset Whether the read failed (else it was a clean EOF).
   */
  peerGone(reset: boolean): void {
    const ex = this.#c.ex;
    if (ex === null) return;
    abortExchange(ex);
    if (reset) this.#c.terminate("client");
  }
}

/**
 * A read started by {@linkcode Reader.watch} ended with `n` (`reset`: it
 * failed): watch on while the request is open, or report the client gone.
 */
function watched(c: Connection, n: number | null, reset: boolean): void {
  if (c.ex === null || c.phase >= CLOSING) return;
  if (n === null) c.reader.peerGone(reset);
  else c.reader.watch();
}
