// Copyright 2026 the Reaper authors. MIT license.
/**
 * The body of a request on a portable connection: its framing
 * (`Content-Length` or chunked, RFC 9112 §6–§7, trailers checked and
 * dropped), the stream the handler reads it from, `100 Continue`, and
 * discarding what the handler left unread so that the connection can serve
 * its next request.
 *
 * A {@linkcode RequestBody} exists only for a request that has a body; it
 * reads from the connection's {@linkcode Reader}. After the response, the
 * unread rest is read and discarded, up to {@linkcode MAX_DISCARD} bytes; a
 * longer rest, or one whose client still waits for `100 Continue`, is not
 * worth reading: the response says `Connection: close` and the connection
 * ends.
 *
 * @module
 */

import { isValidTrailerLine, parseChunkSize } from "./_http1.ts";
import {
  BadBody,
  bodyUnavailable,
  ClientGone,
  Closed,
  CLOSING,
  type Connection,
  DISCARD,
  DISCARD_HEAD,
  EXCHANGE,
  noop,
} from "./_portable_internals.ts";
import { INITIAL_BUFFER, type Reader } from "./_portable_reader.ts";
import type { RequestHead } from "./_http1.ts";

/** The longest chunk-size line accepted, in bytes. */
export const MAX_CHUNK_LINE = 4096;
/**
 * How many bytes of a request body the handler left unread are read and
 * discarded after the response (64 KiB). A longer rest closes the
 * connection.
 */
const MAX_DISCARD = 65536;
/** The largest chunk a large body is read into directly, in bytes. */
const MAX_DIRECT_READ = 65536;
/**
 * The read buffer of a connection while it reads a chunked body, in bytes:
 * chunk-size lines and small chunks come with the data, which a read of
 * the 1 KiB head buffer would cut into a syscall a KiB. The buffer shrinks
 * back between requests.
 */
const CHUNKED_BUFFER = 65536;
const CONTINUE = new TextEncoder().encode("HTTP/1.1 100 Continue\r\n\r\n");

// What is left of the body.
const DONE = 0;
const LENGTH = 1;
const CHUNKED = 2;

// Where the chunked parser is.
const CHUNK_SIZE = 0;
const CHUNK_DATA = 1;
const CHUNK_DATA_END = 2;
const CHUNK_TRAILER = 3;

/** The body of one request, from its head to its last byte. */
export class RequestBody {
  readonly #c: Connection;
  readonly #reader: Reader;
  #kind: number;
  /** Bytes left: of the body (`LENGTH`) or of the chunk (`CHUNKED`). */
  #remaining = 0;
  #chunkPhase = CHUNK_SIZE;
  #trailerBytes = 0;
  /** The pull in flight. */
  #busy: Promise<void> | null = null;
  #controller: ReadableStreamDefaultController<Uint8Array> | null = null;
  /** The client waits for `100 Continue` before it sends the body. */
  #continue: boolean;

  /**
   * @param c The connection.
   * @param head A head that announces a body (chunked, or a
   * `Content-Length` above 0).
   */
  constructor(c: Connection, head: RequestHead) {
    this.#c = c;
    this.#reader = c.reader;
    if (head.chunked) this.#kind = CHUNKED;
    else {
      this.#kind = LENGTH;
      this.#remaining = head.contentLength;
    }
    this.#continue = head.expectContinue;
  }

  /** Whether the body has been read to its end. */
  get done(): boolean {
    return this.#kind === DONE;
  }

  /** The pull of the handler's stream in flight, or `null`. */
  get busy(): Promise<void> | null {
    return this.#busy;
  }

  /**
   * Whether what is left of the body may be discarded to keep the
   * connection: the client does not wait for `100 Continue`, and no more
   * than {@linkcode MAX_DISCARD} bytes of it are still to come.
   */
  get discardable(): boolean {
    if (this.#continue) return false;
    const r = this.#reader;
    return !(this.#kind === LENGTH &&
      this.#remaining - (r.end - r.start) > MAX_DISCARD);
  }

  /**
   * The stream the handler reads the body from.
   *
   * @returns A new stream without a queue: each read pulls from the socket.
   */
  stream(): ReadableStream<Uint8Array> {
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.#controller = controller;
      },
      pull: (controller) => {
        const p = this.#pull(controller);
        this.#busy = p;
        return p;
      },
      cancel: () => {
        this.#controller = null;
      },
    }, { highWaterMark: 0 });
  }

  /**
   * Fails the handler's stream, if it is open.
   *
   * @param error The error its reader gets.
   */
  endStream(error: Error): void {
    const controller = this.#controller;
    if (controller === null) return;
    this.#controller = null;
    try {
      controller.error(error);
    } catch {
      // Already closed.
    }
  }

  /**
   * Reads and discards the rest of the body, up to {@linkcode MAX_DISCARD}
   * bytes, once the response has been sent (phase `DISCARD`).
   *
   * @returns Whether the body was discarded; `false` when it is longer (the
   * connection must close). Rejects when the body is malformed or cut short.
   */
  async discard(): Promise<boolean> {
    if (this.#busy !== null) await this.#busy.catch(noop);
    this.endStream(new TypeError("The response was sent already"));
    if (!this.discardable) return false;
    const c = this.#c;
    if (c.phase === EXCHANGE) c.phase = DISCARD;
    let left = MAX_DISCARD;
    while (this.#kind !== DONE) {
      const chunk = await this.#read(false);
      if (chunk === null) break;
      if ((left -= chunk.length) < 0) return false;
    }
    return true;
  }

  async #pull(
    controller: ReadableStreamDefaultController<Uint8Array>,
  ): Promise<void> {
    const c = this.#c;
    try {
      if (this.#continue) {
        this.#continue = false;
        const r = this.#reader;
        if (r.start === r.end) await c.writer.write(CONTINUE);
      }
      const chunk = await this.#read(true);
      if (this.#controller !== controller) return;
      if (chunk === null) {
        this.#controller = null;
        controller.close();
        if (c.ex !== null && !c.ex.responding) this.#reader.watch();
      } else {
        controller.enqueue(chunk);
      }
    } catch (error) {
      if (this.#controller === controller) {
        this.#controller = null;
        // A cut body reads as on the native engine: a `BadResource`.
        controller.error(
          error instanceof BadBody
            ? new TypeError("Invalid request body framing")
            : bodyUnavailable(),
        );
      }
      if (error instanceof BadBody) c.terminate("error", 400);
      else if (c.phase < CLOSING) {
        this.#reader.eof = true;
        this.#reader.peerGone(!(error instanceof ClientGone));
      }
    } finally {
      this.#busy = null;
    }
  }

  /** Waits for more body bytes from the client. */
  async #fill(): Promise<void> {
    const c = this.#c;
    const phase = c.phase;
    // A discard runs after requestEnd(): the connection is idle then.
    const report = phase !== DISCARD && phase !== DISCARD_HEAD;
    if (this.#kind === CHUNKED) this.#reader.reserve(CHUNKED_BUFFER);
    if (report) c.peerWait(true);
    else if (phase === DISCARD) {
      // The connection is idle, and a body trickled 1 byte per idle
      // timeout would hold it forever: bytes of the discard count as the
      // next head's, so that headerTimeout bounds the discard.
      c.phase = DISCARD_HEAD;
      c.hooks.headStart();
    }
    let n: number | null;
    try {
      n = await this.#reader.fill();
    } finally {
      if (report) c.peerWait(false);
    }
    if (c.phase >= CLOSING) throw new Closed("The connection was closed");
    if (n === null) throw new ClientGone("The request body was cut short");
  }

  /**
   * Reads up to `remaining` (at most {@linkcode MAX_DIRECT_READ}) bytes of
   * the body from the socket into a new chunk, past the read buffer (which
   * must be empty, with no read pending).
   */
  async #readDirect(remaining: number): Promise<Uint8Array> {
    const c = this.#c;
    const r = this.#reader;
    const chunk = new Uint8Array(Math.min(remaining, MAX_DIRECT_READ));
    c.peerWait(true);
    let n: number | null;
    try {
      n = await r.readDirect(chunk);
    } catch (error) {
      throw c.phase >= CLOSING ? new Closed("Closed") : error;
    } finally {
      c.peerWait(false);
    }
    if (c.phase >= CLOSING) throw new Closed("The connection was closed");
    if (n === null) {
      r.eof = true;
      throw new ClientGone("The request body was cut short");
    }
    return n === chunk.length ? chunk : chunk.subarray(0, n);
  }

  /**
   * Returns the next piece of the body (a copy when `copy`, else a view
   * valid until the next read), or `null` at its end.
   */
  /**
   * Takes the buffered bytes of the current length or chunk (a copy when
   * `copy`, else a view), at most `#remaining`; some must be buffered.
   */
  #takeBuffered(copy: boolean): Uint8Array {
    const r = this.#reader;
    const n = Math.min(r.end - r.start, this.#remaining);
    const s = r.start;
    r.start += n;
    this.#remaining -= n;
    return copy ? r.buf.slice(s, s + n) : r.buf.subarray(s, s + n);
  }

  /**
   * With nothing buffered: reads a large remainder of the current length or
   * chunk straight into its own buffer (when a copy is wanted and no read
   * is pending), or else waits for more bytes and returns `null`.
   */
  async #takeUnbuffered(copy: boolean): Promise<Uint8Array | null> {
    const r = this.#reader;
    if (copy && r.reading === null && this.#remaining > INITIAL_BUFFER) {
      const data = await this.#readDirect(this.#remaining);
      this.#remaining -= data.length;
      return data;
    }
    await this.#fill();
    return null;
  }

  async #read(copy: boolean): Promise<Uint8Array | null> {
    const c = this.#c;
    const r = this.#reader;
    for (;;) {
      if (this.#kind === DONE) return null;
      const available = r.end - r.start;
      if (this.#kind === LENGTH) {
        const data = available > 0
          ? this.#takeBuffered(copy)
          : await this.#takeUnbuffered(copy);
        if (data === null) continue;
        if (this.#remaining === 0) this.#kind = DONE;
        return data;
      }
      // Chunked.
      const buf = r.buf;
      switch (this.#chunkPhase) {
        case CHUNK_SIZE: {
          const lf = buf.indexOf(10, r.start);
          if (lf === -1 || lf >= r.end) {
            if (available > MAX_CHUNK_LINE) throw new BadBody("Chunk line");
            await this.#fill();
            continue;
          }
          if (lf - r.start > MAX_CHUNK_LINE) throw new BadBody("Chunk");
          const size = parseChunkSize(buf, r.start, lf);
          if (size < 0) throw new BadBody("Invalid chunk size");
          r.start = lf + 1;
          if (size === 0) this.#chunkPhase = CHUNK_TRAILER;
          else {
            this.#chunkPhase = CHUNK_DATA;
            this.#remaining = size;
          }
          continue;
        }
        case CHUNK_DATA: {
          const data = available > 0
            ? this.#takeBuffered(copy)
            : await this.#takeUnbuffered(copy);
          if (data === null) continue;
          if (this.#remaining === 0) this.#chunkPhase = CHUNK_DATA_END;
          return data;
        }
        case CHUNK_DATA_END: {
          if (available < 2) {
            await this.#fill();
            continue;
          }
          if (buf[r.start] !== 13 || buf[r.start + 1] !== 10) {
            throw new BadBody("Missing CRLF after chunk data");
          }
          r.start += 2;
          this.#chunkPhase = CHUNK_SIZE;
          continue;
        }
        default: { // CHUNK_TRAILER
          const lf = buf.indexOf(10, r.start);
          const max = c.context.maxHeaderSize;
          if (lf === -1 || lf >= r.end) {
            if (this.#trailerBytes + available > max) {
              throw new BadBody("Trailers too large");
            }
            await this.#fill();
            continue;
          }
          const length = lf + 1 - r.start;
          if ((this.#trailerBytes += length) > max) {
            throw new BadBody("Trailers too large");
          }
          if (length === 2 && buf[r.start] === 13) {
            r.start = lf + 1;
            this.#kind = DONE;
            return null;
          }
          if (!isValidTrailerLine(buf, r.start, lf)) {
            throw new BadBody("Invalid trailer");
          }
          r.start = lf + 1;
          continue;
        }
      }
    }
  }
}
