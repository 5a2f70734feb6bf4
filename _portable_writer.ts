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

const EMPTY = new Uint8Array(0);
const CRLF = "\r\n";
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
    try {
      let offset = 0;
      while (offset < bytes.length) {
        offset += await w.#c.conn.write(
          offset === 0 ? bytes : bytes.subarray(offset),
        );
        // The last write of a response is followed by requestEnd(), which
        // stamps the time itself.
        if (!last || offset < bytes.length) w.#c.hooks.touch();
      }
    } finally {
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
      for (const ex of done) settle(ex, error);
      this.#c.terminate(isClientError(error) ? "client" : "error");
    });
  }

  /**
   * Sends a response: the head (framing fields chosen here), then the body.
   * A response known whole goes in one write, or joins the batch when the
   * next pipelined request is buffered already; a stream is sent chunked
   * (HTTP/1.1) or close-delimited (HTTP/1.0).
   *
   * @param ex The exchange.
   * @param response The handler's response.
   * @returns Whether the connection stays open. Rejects when a write
   * fails, the body errors or the connection is closed meanwhile.
   */
  async respond(ex: Exchange, response: Response): Promise<boolean> {
    const c = this.#c;
    const hooks = c.hooks;
    const input = c.reader;
    const requestBody = c.body;
    const status = response.status;
    let close = ex.close || c.closeRequested || input.eof;
    if (
      !close && requestBody !== null && !requestBody.done &&
      !requestBody.discardable
    ) close = true;
    let bytes: Uint8Array | null = null;
    const fields = headFields;
    fields.reset(
      "HTTP/1.1 " + status + " " +
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
    const noBody = ex.isHead || status === 204 || status === 304;
    let reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
    let pending: Promise<ReadableStreamReadResult<Uint8Array>> | null = null;
    let first: Uint8Array | null = null;
    if (noBody) {
      bytes = null;
      if (body !== null) body.cancel().catch(noop);
      if (ex.isHead && length !== null) {
        head += "content-length: " + length + CRLF;
      } else if (
        status !== 204 && status !== 304 && length === null &&
        body === null
      ) {
        head += "content-length: 0\r\n";
      }
    } else if (body === null) {
      if (bytes === null) bytes = EMPTY;
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
    const chunked = reader !== null && bytes === null && ex.minor === 1;
    if (reader !== null && bytes === null && ex.minor === 0) close = true;
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
      } else {
        await this.write(encodeHead(head, bytes), null, true);
      }
      hooks.requestEnd();
      settle(ex);
      return !close;
    }

    // A stream: chunked (HTTP/1.1) or close-delimited (HTTP/1.0).
    this.flush();
    head += chunked ? "transfer-encoding: chunked\r\n\r\n" : CRLF;
    input.watch();
    await this.write(
      chunked ? encodeHead(head, frameChunk(first!)) : encodeHead(head, first),
    );
    let result = await pending;
    while (!result.done) {
      if (c.phase >= CLOSING) break;
      const chunk = toBytes(result.value);
      if (chunk.length > 0) {
        await this.write(chunked ? frameChunk(chunk) : chunk);
      }
      if (c.phase >= CLOSING) break;
      result = await reader!.read();
    }
    if (c.phase >= CLOSING) {
      reader!.cancel().catch(noop);
      throw new Closed("The connection was closed");
    }
    ex.reader = null;
    if (chunked) await this.write(LAST_CHUNK, null, true);
    hooks.requestEnd();
    settle(ex);
    return !close;
  }
}
