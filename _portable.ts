// Copyright 2026 the Reaper authors. MIT license.
/**
 * The portable engine: HTTP/1.1 (RFC 9112) spoken on an owned `Deno.Conn`
 * with public Deno APIs only, so it runs on every Deno 2 release and sees
 * every byte that crosses the connection.
 *
 * This module holds the engine and the connection's request loop; the
 * connection's other parts each have a module of their own:
 *
 * | module                   | owns                                                                   |
 * | ------------------------ | ---------------------------------------------------------------------- |
 * | `_portable.ts`           | the engine, the connection: its request loop, its phase, its closing   |
 * | `_portable_reader.ts`    | the read buffer, filling it, the peer-gone watch                       |
 * | `_portable_body.ts`      | the request body: length, chunked, `100 Continue`, discarding the rest |
 * | `_portable_writer.ts`    | the write chain, batching, head encoding, whole and streamed bodies    |
 * | `_portable_request.ts`   | `Request` templates, the `Request`, the handler's `info`, the exchange |
 * | `_portable_internals.ts` | the phases, the parts' typed view of the connection, shared errors     |
 * | `_http1.ts`              | the pure wire helpers: head parser, chunk sizes, head encoder          |
 *
 * A connection holds one {@linkcode Reader}, one {@linkcode Writer} and one
 * `RequestBuilder`; an {@linkcode Exchange} lives for one request, a
 * {@linkcode RequestBody} for one request that has a body. The parts reach
 * the connection only through the `Connection` interface of
 * `_portable_internals.ts`, which the connection implements, and what all
 * connections share (the handler, `onError`, the limits) is one `Context`
 * an engine makes once. The parts' private helpers are static or module
 * functions, since a private instance method costs every instance a slot.
 *
 * ## Phases
 *
 * A connection is in one phase at a time, its `phase` field. The phases are
 * ordered: `phase >= CLOSING` means that the connection has ended.
 *
 * | phase          | the connection                                  | lifetime state      | a read touches | `closeIdle()`                 |
 * | -------------- | ----------------------------------------------- | ------------------- | -------------- | ----------------------------- |
 * | `IDLE`         | waits for the first byte of a head              | `new`, `idle`       | no (1)         | closes if nothing is buffered |
 * | `IDLE_HEAD`    | the same, `headStart()` reported already (2)    | `reading`           | yes            | closes if nothing is buffered |
 * | `HEAD`         | reads and parses a head                         | `reading`           | yes            | marks (3)                     |
 * | `EXCHANGE`     | runs the handler and sends its response         | `active`, `writing` | yes            | marks                         |
 * | `DISCARD`      | discards the unread body, from buffered bytes   | `idle`              | yes            | marks                         |
 * | `DISCARD_HEAD` | discards the unread body, waiting for bytes (2) | `reading`           | yes            | marks                         |
 * | `CLOSING`      | has ended; a last write may still finish (4)    | any                 | yes            | nothing                       |
 * | `CLOSED`       | has closed its socket and reported `closed()`   | `closed`            | yes            | nothing                       |
 * | `FINISHED`     | holds nothing more: `finished` settles          | `closed`            | (no reads)     | nothing                       |
 *
 * 1. `headStart()` follows at once, and stamps the time itself.
 * 2. A discard that must wait for the client reports `headStart()`: the
 *    connection is idle then, and a body trickled a byte per idle timeout
 *    would hold it forever. The discard's bytes count as the next head's,
 *    so that `headerTimeout` bounds it, and the next head reports no
 *    `headStart()` of its own.
 * 3. The next response says `Connection: close` and the connection closes
 *    after it; one already sent closes it at the next idle point.
 * 4. A `408`, or the last response, for at most 100 ms.
 *
 * | from                 | to             | when                                                                   |
 * | -------------------- | -------------- | ---------------------------------------------------------------------- |
 * | `IDLE`               | `HEAD`         | bytes are buffered (`headStart()`)                                     |
 * | `IDLE_HEAD`          | `HEAD`         | bytes are buffered                                                     |
 * | `HEAD`               | `EXCHANGE`     | the head is parsed and its `Request` built (`requestStart()`)          |
 * | `EXCHANGE`           | `IDLE`         | the response is sent and the request body, if any, was read to its end |
 * | `EXCHANGE`           | `DISCARD`      | the response is sent and the body left unread (`MAX_DISCARD` at most)  |
 * | `DISCARD`            | `DISCARD_HEAD` | the discard must wait for the client (`headStart()`)                   |
 * | `DISCARD`            | `IDLE`         | the body is discarded                                                  |
 * | `DISCARD_HEAD`       | `IDLE_HEAD`    | the body is discarded                                                  |
 * | any before `CLOSING` | `CLOSING`      | it ends (5)                                                            |
 * | `CLOSING`            | `CLOSED`       | the last write finished or 100 ms passed, or `close()` again           |
 * | `CLOSED`             | `FINISHED`     | every pending read, write and body pull has settled                    |
 *
 * 5. On `close()`, on `closeIdle()` while idle, on a bad head (answered
 *    `400`, `414`, `431`, `501` or `505`) or an HTTP/2 preface, after a
 *    response that must close, when the client goes away, on an error.
 *
 * Three things are not phases, since they can change in any phase and the
 * phase then goes on: `reader.eof` (the client sent EOF or a read failed:
 * what is buffered is still answered, with `Connection: close`),
 * `closeRequested` (`closeIdle()`'s order, carried out at the next idle
 * point) and the state within a part: whether the reader's pending read is
 * the watch's, where the body's chunk parser is and whether its client
 * still waits for `100 Continue`, whether an exchange's response has begun.
 *
 * An upgraded connection (a WebSocket of `upgradeWebSocket()`) stays in
 * `EXCHANGE` with no exchange: its session (`_websocket.ts`) reads through
 * the reader and writes through the writer, `closeIdle()` goes to it (a
 * closing handshake with `1001`), and it ends through `terminate()`.
 *
 * ## Limits
 *
 * A head (request line and fields) longer than `maxHeaderSize` is answered
 * `431` (`414` when the request line alone is too long). A request body
 * that the handler did not read to the end is read and discarded after the
 * response, up to `MAX_DISCARD` bytes (64 KiB, a constant); a longer one
 * closes the connection, and its response says so.
 *
 * @module
 */

import { compressResponse } from "./_compression.ts";
import {
  callHandler,
  type ConnectionHooks,
  type Engine,
  type EngineConnection,
} from "./_engine.ts";
import {
  errorResponse,
  findHeadEnd,
  H2_PREFACE,
  parseHead,
  type RequestHead,
} from "./_http1.ts";
import { MAX_CHUNK_LINE, RequestBody } from "./_portable_body.ts";
import {
  BadBody,
  bodyUnavailable,
  CLOSED,
  CLOSING,
  type Connection,
  type Context,
  DISCARD_HEAD,
  EXCHANGE,
  FINISHED,
  HEAD,
  IDLE,
  IDLE_HEAD,
  isClientError,
  noop,
  type Phase,
  whenSettledOrAfter,
} from "./_portable_internals.ts";
import { Reader } from "./_portable_reader.ts";
import {
  abortExchange,
  type Exchange,
  HandlerInfo,
  newExchange,
  RequestBuilder,
  settle,
} from "./_portable_request.ts";
import { Writer } from "./_portable_writer.ts";
import { allowUpgrade, type Session, takeUpgrade } from "./_websocket.ts";
import type { CloseReason } from "./types.ts";

/** Options of the portable engine, checked by the server. */
export interface PortableOptions {
  /**
   * The largest request head accepted, in bytes, request line included.
   * Larger heads are answered with `431`. The server checks that it is an
   * integer >= 256; the engine trusts it.
   *
   * @default {16384}
   */
  maxHeaderSize?: number;
  /**
   * Whether response bodies are compressed (br or gzip, by the request's
   * `Accept-Encoding`) as `Deno.serve({ automaticCompression: true })` does
   * it; see `_compression.ts`.
   *
   * @default {false}
   */
  automaticCompression?: boolean;
}

/** The body of the `501` for a 101 that is no `upgradeWebSocket()` of Reaper. */
const UPGRADE_REFUSED =
  "Deno.upgradeWebSocket() is not supported by this engine: use upgradeWebSocket() from Reaper's mod.ts";

/** How long a last write may hold a closing connection, in milliseconds. */
const CLOSE_WRITE_MS = 100;

/**
 * Creates the portable HTTP/1.1 engine.
 *
 * @param options The engine's limits, as checked by the server.
 * @returns The engine, named `"portable"`.
 */
export function createPortableEngine(options: PortableOptions = {}): Engine {
  const maxHeaderSize = options.maxHeaderSize ?? 16384;
  const targetLimit = maxHeaderSize - Math.min(1024, maxHeaderSize >> 2);
  const bufferLimit = Math.max(maxHeaderSize, MAX_CHUNK_LINE) + 1024;
  const automaticCompression = options.automaticCompression ?? false;
  // A server serves every connection with one handler: one context for all.
  let context: Context | null = null;
  return {
    name: "portable",
    tracksBytes: true,
    serve(conn, hooks, handler, onError): EngineConnection {
      if (
        context === null || context.handler !== handler ||
        context.onError !== onError
      ) {
        context = {
          handler,
          onError,
          maxHeaderSize,
          targetLimit,
          bufferLimit,
          automaticCompression,
        };
      }
      return new PortableConnection(conn, hooks, context);
    },
  };
}

/** One connection: its request loop, and its parts' common state. */
class PortableConnection implements EngineConnection, Connection {
  phase: Phase = IDLE;
  readonly conn: Deno.Conn;
  readonly hooks: ConnectionHooks;
  readonly context: Context;
  readonly reader: Reader;
  readonly writer: Writer;
  ex: Exchange | null = null;
  body: RequestBody | null = null;
  closeRequested = false;
  /** The WebSocket that took the connection over, if any. */
  upgrade: Session | null = null;
  // `finished` is made on first use: most connections end unobserved.
  #finished: Promise<void> | null = null;
  #resolveFinished: (() => void) | null = null;
  #requests: RequestBuilder;
  #reason: CloseReason | null = null;
  /** Waits on the peer in progress (see `peerWait()`). */
  #waits = 0;

  constructor(conn: Deno.Conn, hooks: ConnectionHooks, context: Context) {
    this.conn = conn;
    this.hooks = hooks;
    this.context = context;
    this.reader = new Reader(this);
    this.writer = new Writer(this);
    this.#requests = new RequestBuilder();
    // Without TCP_NODELAY, a response written in more than one write (a
    // stream, chunked) stalls ~40 ms on each small write: Nagle's algorithm
    // waits for the client's delayed ACK. TLS conns may lack the method.
    if (typeof (conn as Deno.TcpConn).setNoDelay === "function") {
      try {
        (conn as Deno.TcpConn).setNoDelay(true);
      } catch {
        // The socket is gone already: the first read will tell.
      }
    }
    this.#run();
  }

  get finished(): Promise<void> {
    if (this.#finished === null) {
      if (this.phase === FINISHED) this.#finished = Promise.resolve();
      else {
        const { promise, resolve } = Promise.withResolvers<void>();
        this.#finished = promise;
        this.#resolveFinished = resolve;
      }
    }
    return this.#finished;
  }

  close(reason: CloseReason): void {
    if (this.phase >= CLOSING) return this.#closeSocket(reason);
    // The lifetime layer has let the connection go: no requestEnd() now.
    if (this.ex !== null) this.ex.answered = false;
    if (reason === "headerTimeout") this.terminate(reason, 408);
    else this.terminate(reason);
  }

  peerWait(waiting: boolean, quiet = false): void {
    // Once closed() is reported, no hook is called any more.
    if (waiting) {
      if (this.#waits++ === 0 && this.phase < CLOSED) {
        this.hooks.peerWait(true);
      }
    } else if (this.phase >= CLOSED) this.#waits--;
    else if (--this.#waits === 0) {
      if (!quiet) this.hooks.peerWait(false);
    } else this.hooks.touch();
  }

  closeIdle(): void {
    if (this.phase >= CLOSING) return;
    if (this.upgrade !== null) return this.upgrade.closeIdle();
    this.closeRequested = true;
    if (
      (this.phase === IDLE || this.phase === IDLE_HEAD) &&
      this.reader.start === this.reader.end
    ) {
      this.terminate("shutdown");
    }
  }

  // -------------------------------------------------------------- main loop

  /** Serves requests until the connection ends. Never rejects. */
  async #run(): Promise<void> {
    try {
      const hooks = this.hooks;
      const r = this.reader;
      while (this.phase < CLOSING) {
        // IDLE or IDLE_HEAD: wait for the first byte of the next head.
        if (r.start === r.end) {
          r.shrink();
          if (this.closeRequested) return this.terminate("shutdown");
          if (await r.fill() === null) return this.terminate("client");
          if (this.phase >= CLOSING) return;
        }
        // Whether nothing is awaited between headStart() and requestStart().
        let immediate = true;
        if (this.phase === IDLE_HEAD) immediate = false;
        else hooks.headStart();
        this.phase = HEAD;
        // Skip empty lines before a request line (RFC 9112 §2.2).
        let headEnd = -1;
        let scanned = 0;
        for (;;) {
          const buf = r.buf;
          while (
            r.end - r.start >= 2 && buf[r.start] === 13 &&
            buf[r.start + 1] === 10
          ) {
            r.start += 2;
            scanned = 0;
          }
          headEnd = findHeadEnd(buf, r.start, r.start + scanned, r.end);
          if (headEnd !== -1) break;
          scanned = r.end - r.start;
          if (scanned > this.context.maxHeaderSize) {
            return this.#fail(this.#oversizeStatus());
          }
          immediate = false;
          if (await r.fill() === null) return this.terminate("client");
          if (this.phase >= CLOSING) return;
        }
        if (headEnd - r.start > this.context.maxHeaderSize) {
          return this.#fail(this.#oversizeStatus());
        }
        const head = parseHead(
          r.buf,
          r.start,
          headEnd,
          this.context.targetLimit,
        );
        if (typeof head === "number") {
          if (head === H2_PREFACE) return this.terminate("error");
          return this.#fail(head);
        }
        r.start = headEnd;
        if (!await this.#exchange(head, immediate)) return;
      }
    } catch (error) {
      this.terminate(isClientError(error) ? "client" : "error");
    }
  }

  /** The status for a head that outgrew `maxHeaderSize`: 414 or 431. */
  #oversizeStatus(): number {
    const r = this.reader;
    const lf = r.buf.indexOf(10, r.start);
    if (lf !== -1 && lf < r.end) {
      return lf - r.start > this.context.targetLimit ? 414 : 431;
    }
    const sp = r.buf.indexOf(32, r.start);
    return sp !== -1 && sp < r.start + 32 ? 414 : 431;
  }

  /** Answers a protocol error with `status` and closes. */
  #fail(status: number): void {
    this.terminate("error", status);
  }

  /**
   * Serves one request (phase `EXCHANGE`, then `DISCARD` when its body is
   * left unread). Resolves `true` when the connection stays open for the
   * next one. `immediate`: nothing was awaited since `headStart()`.
   */
  async #exchange(head: RequestHead, immediate: boolean): Promise<boolean> {
    const hooks = this.hooks;
    const body = head.chunked || head.contentLength > 0
      ? new RequestBody(this, head)
      : null;
    this.body = body;
    const ex = newExchange(head);
    const request = this.#requests.build(head, body, ex, this.conn);
    if (typeof request === "number") {
      this.#fail(request);
      return false;
    }
    this.ex = ex;
    this.phase = EXCHANGE;
    if (head.upgrade && body === null) allowUpgrade(request, this);
    // Nothing was awaited since headStart() when the head came in one go.
    hooks.requestStart(immediate);
    if (body === null) this.reader.watch();

    // Run the handler.
    const context = this.context;
    let response = callHandler(
      context.handler,
      request,
      new HandlerInfo(hooks, ex),
      context.onError,
    );
    if (!(response instanceof Response)) {
      this.writer.flush();
      response = await response;
    }
    if (response.status === 101) {
      // A WebSocket of `upgradeWebSocket()` (`websocket.ts`) takes the
      // connection over; the HTTP loop ends here (`_websocket.ts`).
      const upgrade = takeUpgrade(this, ex, response);
      if (upgrade !== null) {
        this.ex = null;
        this.upgrade = upgrade;
        return false;
      }
      // Any other protocol switch (`Deno.upgradeWebSocket()` answers 101
      // for any request) cannot happen on a connection this engine reads:
      // refuse it, and close, since the client may speak the new protocol.
      response.body?.cancel().catch(noop);
      response = new Response(UPGRADE_REFUSED, { status: 501 });
      ex.close = true;
    } else if (context.automaticCompression) {
      response = compressResponse(
        request.headers.get("accept-encoding"),
        response,
      );
    }
    if (this.phase >= CLOSING) {
      settle(ex);
      response.body?.cancel().catch(noop);
      return false;
    }
    hooks.responseStart();
    ex.answered = true;
    let keep: boolean;
    try {
      keep = await this.writer.respond(ex, response);
    } catch (error) {
      // The client went away, the body stream failed or did not match its
      // Content-Length, or the connection was closed: terminate() reports
      // requestEnd() (as the native engine does) and settles the exchange.
      this.terminate(isClientError(error) ? "client" : "error");
      this.ex = null;
      return false;
    }
    this.ex = null;
    if (!keep) {
      this.terminate(this.reader.eof ? "client" : "done");
      return false;
    }
    // Discard what the handler left of the body.
    if (body !== null && !body.done) {
      try {
        if (!await body.discard()) {
          this.terminate("done");
          return false;
        }
      } catch (error) {
        this.terminate(
          error instanceof BadBody
            ? "error"
            : this.phase >= CLOSING
            ? "done"
            : "client",
        );
        return false;
      }
    }
    this.body = null;
    // The discard may have moved the phase on.
    const phase = this.phase as Phase;
    if (phase === DISCARD_HEAD) this.phase = IDLE_HEAD;
    else if (phase < CLOSING) this.phase = IDLE;
    const r = this.reader;
    if (r.eof && r.start === r.end) {
      this.writer.flush();
      this.terminate("client");
      return false;
    }
    return this.phase < CLOSING;
  }

  // ---------------------------------------------------------------- closing

  /**
   * Ends the connection once: aborts the request in flight, answers
   * `status` first when given and nothing of a response was sent (waiting
   * at most a moment), lets a pending write finish when the connection ends
   * normally (`"done"`, `"client"`), then closes the socket and reports
   * `reason`.
   */
  terminate(reason: CloseReason, status?: number): void {
    if (this.phase >= CLOSING) return;
    this.phase = CLOSING;
    this.#reason = reason;
    const ex = this.ex;
    if (ex !== null) {
      abortExchange(ex);
      ex.reader?.cancel().catch(noop);
      settle(ex);
      if (ex.answered) {
        ex.answered = false;
        this.hooks.requestEnd();
      }
    }
    const writer = this.writer;
    writer.flush();
    this.body?.endStream(bodyUnavailable());
    const tail = writer.tail;
    let wait: Promise<unknown> | null = null;
    if (status !== undefined && (ex === null || !ex.responding)) {
      const answer = errorResponse(status);
      wait = writer.write(answer).catch(noop);
    } else if (tail !== null && (reason === "done" || reason === "client")) {
      wait = tail.catch(noop);
    }
    if (wait === null) {
      this.#closeSocket(reason);
      return;
    }
    whenSettledOrAfter(wait, CLOSE_WRITE_MS, () => this.#closeSocket(reason));
  }

  #closeSocket(reason: CloseReason): void {
    if (this.phase >= CLOSED) return;
    this.phase = CLOSED;
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
    this.hooks.closed(this.#reason ?? reason);
    const pending: Promise<unknown>[] = [];
    const reading = this.reader.reading;
    if (reading !== null) pending.push(reading);
    const tail = this.writer.tail;
    if (tail !== null) pending.push(tail.catch(noop));
    const busy = this.body?.busy ?? null;
    if (busy !== null) pending.push(busy.catch(noop));
    if (pending.length === 0) this.#finish();
    else Promise.allSettled(pending).then(() => this.#finish());
  }

  #finish(): void {
    this.phase = FINISHED;
    this.#resolveFinished?.();
  }
}
