// Copyright 2026 the Reaper authors. MIT license.
/**
 * The write side of a portable connection: the write chain (writes never
 * interleave), the batching of the responses to pipelined requests into one
 * write, the encoding of a response head, and sending a body whole (from a
 * pooled buffer when small) or streamed (chunked for HTTP/1.1,
 * close-delimited for HTTP/1.0).
 *
 * @module
 */

import { decodedByFetch } from "./_compression.ts";
import { encodeHead, encodeHeadInto, httpDate, STATUS_TEXT } from "./_http1.ts";
import {
  BadLength,
  Closed,
  CLOSING,
  type Connection,
  isClientError,
  noop,
} from "./_portable_internals.ts";
import { type Exchange, settle } from "./_portable_request.ts";

/** The most bytes of pipelined responses sent in one write. */
const MAX_BATCH = 65536;
/** Size of the pooled buffers that small responses are encoded into. */
const POOL_BUFFER = 16384;
const POOL_SIZE = 64;
const pool: Uint8Array[] = [];

/**
 * Bodies (and body chunks) larger than this many bytes are written as they
 * are, after their head in a write of their own, rather than copied into
 * one buffer with it.
 */
const COPY_LIMIT = 65536;

const EMPTY = new Uint8Array(0);
const CRLF = "\r\n";
const CRLF_BYTES = new TextEncoder().encode(CRLF);
const LAST_CHUNK = new TextEncoder().encode("0\r\n\r\n");

/** Collects a response's fields into its head, minus framing fields. */
class HeadFields {
  head = "";
  close = false;
  hasDate = false;
  length: string | null = null;
  /** The response being encoded, for {@linkcode decodedByFetch}. */
  response: Response | null = null;
  reset(head: string, response: Response): void {
    this.head = head;
    this.close = false;
    this.hasDate = false;
    this.length = null;
    this.response = response;
  }
  add = (value: string, name: string): void => {
    switch (name) {
      case "connection":
        if (/\bclose\b/i.test(value)) this.close = true;
        return;
      case "keep-alive":
      case "transfer-encoding":
        return;
      case "content-encoding":
        // A body that fetch() decoded is sent as it is now.
        if (decodedByFetch(this.response!)) return;
        break;
      case "content-length":
        if (!decodedByFetch(this.response!)) this.length = value;
        return;
      case "date":
        this.hasDate = true;
    }
    this.head += name + ": " + value + CRLF;
  };
}

// Heads are built synchronously, so one collector serves every connection.
const headFields = new HeadFields();

function toBytes(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (ArrayBuffer.isView(chunk)) {
    return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  }
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  throw new TypeError(
    `Cannot send a response body chunk: expected a Uint8Array, received ${typeof chunk}`,
  );
}

/**
 * A `Content-Length` value as a number, or `-1` when it is not a plain
 * decimal integer (the stream is then framed as if it had none).
 */
function parseLength(value: string): number {
  if (!/^\d{1,15}$/.test(value)) return -1;
  return Number(value);
}

function frameChunk(chunk: Uint8Array): Uint8Array {
  const size = chunk.length.toString(16) + CRLF;
  const out = encodeHead(size, chunk, 2);
  out[out.length - 2] = 13;
  out[out.length - 1] = 10;
  return out;
}

/** The writes of one connection, and the responses it sends. */
export class Writer {
  readonly #c: Connection;
  // Writes are chained so that they never interleave.
  #tail: Promise<void> | null = null;
  #writes = 0;
  // Responses to pipelined requests, sent in one write (made on first use).
  #batch: Uint8Array[] | null = null;
  #batchBytes = 0;
  #batchDone: Exchange[] | null = null;

  /** @param c The connection this writer belongs to. */
  constructor(c: Connection) {
    this.#c = c;
  }

  /** The last write in the chain while one is pending, else `null`. */
  get tail(): Promise<void> | null {
    return this.#tail;
  }

  /**
   * Writes `bytes` after the writes before it.
   *
   * @param bytes What to write.
   * @param pooled The pool buffer that `bytes` lives in, if any; it goes
   * back to the pool afterwards.
   * @param last The last write of a response (whose `requestEnd()` stamps
   * the time, so that the write need not).
   * @returns Settles when the bytes are written.
   */
  write(
    bytes: Uint8Array,
    pooled: Uint8Array | null = null,
    last = false,
  ): Promise<void> {
    const prev = this.#tail;
    this.#writes++;
    const p = prev === null
      ? Writer.#writeAll(this, bytes, pooled, last)
      : prev.then(
        () => Writer.#writeAll(this, bytes, pooled, last),
        (error) => {
          if (--this.#writes === 0) this.#tail = null;
          throw error;
        },
      );
    this.#tail = p;
    return p;
  }

  // Static: a private instance method would cost every connection's writer
  // a brand slot.
  static async #writeAll(
    w: Writer,
    bytes: Uint8Array,
    pooled: Uint8Array | null,
    last: boolean,
  ): Promise<void> {
    const c = w.#c;
    // A write the client does not drain is a stall: the stall timer runs
    // while it is pending (and not while a stream makes its next chunk).
    c.peerWait(true);
    try {
      let offset = 0;
      while (offset < bytes.length) {
        offset += await c.conn.write(
          offset === 0 ? bytes : bytes.subarray(offset),
        );
        if (offset < bytes.length) c.hooks.touch();
      }
    } finally {
      // The end of the wait stamps the time; after the last write of a
      // response, requestEnd() does.
      c.peerWait(false, last);
      if (pooled !== null && pool.length < POOL_SIZE) pool.push(pooled);
      if (--w.#writes === 0) w.#tail = null;
    }
  }

  /** Sends the batched responses of pipelined requests. */
  flush(): void {
    const parts = this.#batch;
    const done = this.#batchDone;
    if (parts === null || done === null) return;
    let bytes: Uint8Array;
    if (parts.length === 1) bytes = parts[0];
    else {
      bytes = new Uint8Array(this.#batchBytes);
      let offset = 0;
      for (const part of parts) {
        bytes.set(part, offset);
        offset += part.length;
      }
    }
    this.#batch = null;
    this.#batchDone = null;
    this.#batchBytes = 0;
    this.write(bytes).then(() => {
      for (const ex of done) settle(ex);
    }, (error) => {
      for (const ex of done) settle(ex);
      this.#c.terminate(isClientError(error) ? "client" : "error");
    });
  }

  /**
   * Sends a response: the head (framing fields chosen here), then the body.
   * A response known whole goes in one write (two for a large body, which
   * is not copied), or joins the batch when the next pipelined request is
   * buffered already. A stream is sent with the handler's `Content-Length`
   * when it set one (a body that does not match it ends the connection),
   * else chunked (HTTP/1.1) or close-delimited (HTTP/1.0). A `HEAD` answer
   * carries the length a `GET` would when it is known at once.
   *
   * When a write fails, the body stream errors or the connection closes
   * meanwhile, the stream is cancelled and the returned promise rejects.
   *
   * @param ex The exchange.
   * @param response The handler's response.
   * @returns Whether the connection stays open.
   */
  async respond(ex: Exchange, response: Response): Promise<boolean> {
    const c = this.#c;
    const hooks = c.hooks;
    const input = c.reader;
    const requestBody = c.body;
    const status = response.status;
    // After EOF the client sends no more requests: close after this one,
    // unless pipelined requests are still buffered.
    let close = ex.close || c.closeRequested ||
      (input.eof && input.start === input.end);
    if (
      !close && requestBody !== null && !requestBody.done &&
      !requestBody.discardable
    ) close = true;
    let bytes: Uint8Array | null = null;
    const fields = headFields;
    // As Deno.serve: an HTTP/1.0 request gets an HTTP/1.0 status line (RFC
    // 9110 §6.2 would allow HTTP/1.1; parity decides). The error answers of
    // `errorResponse()` keep HTTP/1.1: most come before a version is known.
    fields.reset(
      (ex.minor === 0 ? "HTTP/1.0 " : "HTTP/1.1 ") + status + " " +
        (response.statusText || (STATUS_TEXT[status] ?? "")) + CRLF,
      response,
    );
    // forEach is several times cheaper than iterating Headers.
    response.headers.forEach(fields.add);
    let head = fields.head;
    fields.head = "";
    fields.response = null;
    if (fields.close) close = true;
    const length = fields.length;
    if (!fields.hasDate) head += "date: " + httpDate() + CRLF;
    const body = response.body;
    let reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
    let pending: Promise<ReadableStreamReadResult<Uint8Array>> | null = null;
    let first: Uint8Array | null = null;
    if (status === 204 || status === 304) {
      if (body !== null) body.cancel().catch(noop);
      if (ex.isHead && length !== null) {
        head += "content-length: " + length + CRLF;
      }
    } else if (ex.isHead) {
      // No body; the length a GET would carry, where it is known at once.
      let size: number | string | null = body === null ? 0 : null;
      if (body !== null) {
        reader = body.getReader();
        ex.reader = reader;
        size = await Writer.#lengthAtOnce(ex, reader);
        ex.reader = null;
        reader.cancel().catch(noop);
        reader = null;
      }
      size ??= length;
      if (size !== null) head += "content-length: " + size + CRLF;
      if (c.phase >= CLOSING) throw new Closed("The connection was closed");
    } else if (body === null) {
      bytes = EMPTY;
    } else {
      reader = body.getReader();
      ex.reader = reader;
      const r1 = await reader.read();
      if (r1.done) bytes = EMPTY;
      else {
        first = toBytes(r1.value);
        // Is the stream done already (a body made from a string or bytes)?
        // A read of a closed stream settles at once: its reaction runs
        // before this function resumes from `await undefined`. (Measured
        // ~1 µs cheaper a response than Promise.race.)
        const p2 = reader.read();
        ex.next = null;
        p2.then((r) => ex.next = r, noop);
        await undefined;
        const r2 = ex.next as ReadableStreamReadResult<Uint8Array> | null;
        ex.next = null;
        if (r2 !== null && r2.done) {
          bytes = first;
          ex.reader = null;
        } else pending = p2;
      }
      if (c.phase >= CLOSING) {
        reader.cancel().catch(noop);
        throw new Closed("The connection was closed");
      }
    }
    // A stream's framing: the handler's Content-Length, else chunked
    // (HTTP/1.1) or the end of the connection (HTTP/1.0).
    const sized = pending !== null && length !== null
      ? parseLength(length)
      : -1;
    const chunked = pending !== null && sized === -1 && ex.minor === 1;
    if (pending !== null && sized === -1 && ex.minor === 0) close = true;
    if (hooks.mustClose) close = true;
    if (c.closeRequested) close = true;
    if (close) head += "connection: close\r\n";
    else {
      if (ex.minor === 0) head += "connection: keep-alive\r\n";
      const keepAlive = hooks.keepAlive;
      if (keepAlive !== "") head += "keep-alive: " + keepAlive + CRLF;
    }
    ex.responding = true;

    if (pending === null) {
      // The whole response is known: one write (or a batch).
      if (bytes !== null) head += "content-length: " + bytes.length + CRLF;
      head += CRLF;
      // Heads are latin-1 strings: one byte a character.
      const size = head.length + (bytes === null ? 0 : bytes.length);
      if (
        !close && input.end > input.start &&
        (requestBody === null || requestBody.done) &&
        this.#batchBytes + size <= MAX_BATCH
      ) {
        const out = encodeHead(head, bytes);
        hooks.requestEnd();
        (this.#batch ??= []).push(out);
        this.#batchBytes += out.length;
        (this.#batchDone ??= []).push(ex);
        return true;
      }
      this.flush();
      if (size <= POOL_BUFFER) {
        const pooled = pool.pop() ?? new Uint8Array(POOL_BUFFER);
        encodeHeadInto(pooled, head, bytes);
        await this.write(pooled.subarray(0, size), pooled, true);
      } else if (bytes !== null && bytes.length > COPY_LIMIT) {
        // A large body goes as it is, after its head: no copy.
        this.write(encodeHead(head, null)).catch(noop);
        await this.write(bytes, null, true);
      } else {
        await this.write(encodeHead(head, bytes), null, true);
      }
      hooks.requestEnd();
      settle(ex);
      return !close;
    }

    this.flush();
    head += sized !== -1
      ? "content-length: " + sized + CRLF + CRLF
      : chunked
      ? "transfer-encoding: chunked\r\n\r\n"
      : CRLF;
    input.watch();
    try {
      let sent = 0;
      let chunk = first!;
      let headText: string | null = head;
      for (;;) {
        const over = sized !== -1 && sent + chunk.length > sized;
        if (over) chunk = chunk.subarray(0, sized - sent);
        if (headText !== null || chunk.length > 0) {
          await this.#send(headText, chunk, chunked);
          headText = null;
          sent += chunk.length;
        }
        if (over) {
          throw new BadLength(
            `The response body is longer than its Content-Length (${sized})`,
          );
        }
        if (c.phase >= CLOSING) break;
        const result = await (pending ?? reader!.read());
        pending = null;
        if (result.done || c.phase >= CLOSING) break;
        chunk = toBytes(result.value);
      }
      if (c.phase >= CLOSING) throw new Closed("The connection was closed");
      if (sized !== -1 && sent < sized) {
        throw new BadLength(
          `The response body is shorter than its Content-Length (${sized})`,
        );
      }
    } catch (error) {
      // Whatever ended it, the stream learns that nobody reads it.
      ex.reader = null;
      reader!.cancel(error).catch(noop);
      throw error;
    }
    ex.reader = null;
    if (chunked) await this.write(LAST_CHUNK, null, true);
    hooks.requestEnd();
    settle(ex);
    return !close;
  }

  /**
   * Writes one piece of a streamed body, after the response head when
   * `head` is given, framed as a chunk when `chunked`. A large piece is not
   * copied: it goes in a write of its own.
   */
  #send(
    head: string | null,
    chunk: Uint8Array,
    chunked: boolean,
  ): Promise<void> {
    if (chunk.length <= COPY_LIMIT) {
      const framed = chunked ? frameChunk(chunk) : chunk;
      return this.write(head === null ? framed : encodeHead(head, framed));
    }
    let prefix = head ?? "";
    if (chunked) prefix += chunk.length.toString(16) + CRLF;
    if (prefix !== "") this.write(encodeHead(prefix, null)).catch(noop);
    if (!chunked) return this.write(chunk);
    this.write(chunk).catch(noop);
    return this.write(CRLF_BYTES);
  }

  /**
   * The length of a body whose stream is done at once (a body made from a
   * string or bytes: its two reads settle within three microtask turns),
   * else `null`. For a `HEAD` answer, which must not wait for a stream.
   */
  static async #lengthAtOnce(
    ex: Exchange,
    reader: ReadableStreamDefaultReader<Uint8Array>,
  ): Promise<number | null> {
    let length = 0;
    for (let turns = 2;; turns = 1) {
      ex.next = null;
      reader.read().then((r) => ex.next = r, noop);
      for (let i = 0; i < turns && ex.next === null; i++) await undefined;
      const result = ex.next as ReadableStreamReadResult<Uint8Array> | null;
      ex.next = null;
      if (result === null) return null;
      if (result.done) return length;
      length += toBytes(result.value).length;
      if (turns === 1) return null; // More than one chunk: a stream.
    }
  }
}
