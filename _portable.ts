// Copyright 2026 the Reaper authors. MIT license.
/**
 * The portable engine: HTTP/1.1 (RFC 9112) spoken on an owned `Deno.Conn`
 * with public Deno APIs only, so it runs on every Deno 2 release and sees
 * every byte that crosses the connection.
 *
 * @module
 */

import {
  callHandler,
  type ConnectionHooks,
  type Engine,
  type EngineConnection,
  type ErrorHandler,
  formatHost,
  RequestInfo,
} from "./_engine.ts";
import type { CloseReason, ServeHandler } from "./types.ts";
import {
  encodeHead,
  encodeHeadInto,
  errorResponse,
  findHeadEnd,
  H2_PREFACE,
  httpDate,
  isValidTrailerLine,
  parseChunkSize,
  parseHead,
  type RequestHead,
  STATUS_TEXT,
} from "./_http1.ts";

/** Options of the portable engine. */
export interface PortableOptions {
  /**
   * The largest request head accepted, in bytes, request line included.
   * Larger heads are answered with `431`.
   *
   * @default {16384}
   */
  maxHeaderSize?: number;
  /**
   * How many bytes of a request body the handler did not read are read and
   * discarded so that the connection can serve its next request. A longer
   * unread body closes the connection.
   *
   * @default {65536}
   */
  maxBodyDrain?: number;
}

interface Config {
  maxHeaderSize: number;
  maxBodyDrain: number;
  targetLimit: number;
  bufferLimit: number;
}

const INITIAL_BUFFER = 1024;
const MAX_CHUNK_LINE = 4096;
const MAX_DIRECT_READ = 65536;
const MAX_BATCH = 65536;
/** Size of the pooled buffers that small responses are encoded into. */
const POOL_BUFFER = 16384;
const POOL_SIZE = 64;
const pool: Uint8Array[] = [];
const CLOSE_WRITE_MS = 100;

const BODY_NONE = 0;
const BODY_LENGTH = 1;
const BODY_CHUNKED = 2;

const CHUNK_SIZE = 0;
const CHUNK_DATA = 1;
const CHUNK_DATA_END = 2;
const CHUNK_TRAILER = 3;

const EMPTY = new Uint8Array(0);
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/**
 * A copy of an ASCII string that shares no memory with it. Strings sliced
 * from a request head keep the whole head alive; kept strings are copied.
 */
function detach(s: string): string {
  return textDecoder.decode(textEncoder.encode(s));
}
const CONTINUE = new TextEncoder().encode("HTTP/1.1 100 Continue\r\n\r\n");
const CRLF = "\r\n";
const LAST_CHUNK = new TextEncoder().encode("0\r\n\r\n");

// deno-lint-ignore no-explicit-any
const noop = (_?: any) => {};

/** The client closed or reset the connection. */
class ClientGone extends Error {}
/** The request body is malformed (its framing cannot be trusted). */
class BadBody extends Error {}
/** The connection was closed by the engine or the lifetime layer. */
class Closed extends Error {}

function validateOption(name: string, value: unknown, fallback: number) {
  if (value === undefined) return fallback;
  if (
    typeof value !== "number" || !Number.isInteger(value) || value < 0
  ) {
    throw new RangeError(
      `Cannot create the portable engine: ${name} must be an integer >= 0, received ${value}`,
    );
  }
  return value;
}

/**
 * Creates the portable HTTP/1.1 engine.
 *
 * @param options The engine's limits.
 * @returns The engine, named `"portable"`.
 * @throws {RangeError} If a limit is not an integer >= 0 (or `maxHeaderSize`
 * is below 256).
 */
export function createPortableEngine(options: PortableOptions = {}): Engine {
  const maxHeaderSize = validateOption(
    "maxHeaderSize",
    options.maxHeaderSize,
    16384,
  );
  if (maxHeaderSize < 256) {
    throw new RangeError(
      `Cannot create the portable engine: maxHeaderSize must be >= 256, received ${maxHeaderSize}`,
    );
  }
  const config: Config = {
    maxHeaderSize,
    maxBodyDrain: validateOption(
      "maxBodyDrain",
      options.maxBodyDrain,
      65536,
    ),
    targetLimit: maxHeaderSize - Math.min(1024, maxHeaderSize >> 2),
    bufferLimit: Math.max(maxHeaderSize, MAX_CHUNK_LINE) + 1024,
  };
  return {
    name: "portable",
    tracksBytes: true,
    serve(conn, hooks, handler, onError): EngineConnection {
      return new PortableConnection(conn, hooks, handler, onError, config);
    },
  };
}

class HandlerInfo extends RequestInfo {
  #ex: Exchange;
  constructor(hooks: ConnectionHooks, ex: Exchange) {
    super(hooks);
    this.#ex = ex;
  }
  /** Made on first use: most handlers never look. */
  get completed(): Promise<void> {
    const ex = this.#ex;
    if (ex.completed === null) {
      const { promise, resolve, reject } = Promise.withResolvers<void>();
      promise.catch(noop);
      ex.completed = promise;
      if (ex.outcome === undefined) {
        ex.resolve = resolve;
        ex.reject = reject;
      } else if (ex.outcome === null) resolve();
      else reject(ex.outcome);
    }
    return ex.completed;
  }
}

/** One request and its response. */
interface Exchange {
  /** The request's abort controller, made when `request.signal` is read. */
  controller: AbortController | null;
  /** Why the request was aborted, once it was. */
  abortReason: unknown;
  /** `info.completed`, made on first use. */
  completed: Promise<void> | null;
  resolve: (() => void) | null;
  reject: ((reason: unknown) => void) | null;
  /** `undefined` while open, `null` when sent, else the error. */
  outcome: unknown;
  isHead: boolean;
  minor: number;
  close: boolean;
  /** The response's first byte was handed to the socket. */
  responding: boolean;
  reader: ReadableStreamDefaultReader<Uint8Array> | null;
  /** The second read of a response body, if it settled at once. */
  next: unknown;
}

function abortExchange(ex: Exchange, reason: unknown): void {
  if (ex.abortReason !== undefined) return;
  ex.abortReason = reason;
  ex.controller?.abort(reason);
}

/**
 * Pristine `Request`s (no headers, no body, never given to a handler), one
 * per URL seen at least twice, that requests are built from.
 *
 * Why: in Deno 2.x, `new Request(url)` builds its inner state with an object
 * literal holding accessors, which gives every request its own hidden class
 * (map) and accessor closures; these live in the old generation, so every
 * request survives young-generation GC: ~13% of new space survived each
 * scavenge, pauses of 1–10 ms, ~4 µs a request (measured). A `Request` made
 * from another `Request` copies plain data instead: 0% survival, 0.1 ms
 * pauses, ~1.7 µs. `signal: null` is needed, else the copy gets a dependent
 * signal (weak references, which also survive scavenges).
 */
const templates = new Map<string, Request>();
/** URLs seen once: a URL gets a template the second time it is seen. */
const seenOnce = new Set<string>();
const MAX_TEMPLATES = 1024;
/** Longer URLs get no template (bounds the caches to about 1 MiB). */
const MAX_TEMPLATE_URL = 512;

/** The init of a request made from a template: never a dependent signal. */
function templateInit(
  method: string,
  body: ReadableStream<Uint8Array> | null,
): RequestInit {
  if (body !== null) {
    return { method, signal: null, body, duplex: "half" } as RequestInit;
  }
  return method === "GET" ? GET_INIT : { method, signal: null };
}
const GET_INIT: RequestInit = { method: "GET", signal: null };

/**
 * The URL's template, or `null` when the URL is new (or long).
 *
 * @param url The request URL (ASCII, as {@linkcode detach} needs).
 */
function templateFor(url: string): Request | null {
  const template = templates.get(url);
  if (template !== undefined) return template;
  if (url.length > MAX_TEMPLATE_URL) return null;
  if (!seenOnce.has(url)) {
    if (seenOnce.size >= MAX_TEMPLATES) seenOnce.clear();
    seenOnce.add(detach(url));
    return null;
  }
  seenOnce.delete(url);
  url = detach(url);
  if (templates.size >= MAX_TEMPLATES) templates.clear();
  const made = new Request(url);
  templates.set(url, made);
  return made;
}

/**
 * A `Request` whose `signal` is made on first use: an `AbortSignal` given to
 * the `Request` constructor costs more than the rest of the request.
 */
class PortableRequest extends Request {
  #ex: Exchange;
  constructor(
    input: string | Request,
    init: RequestInit | undefined,
    ex: Exchange,
  ) {
    super(input, init);
    this.#ex = ex;
  }
  override get signal(): AbortSignal {
    const ex = this.#ex;
    if (ex.controller === null) {
      ex.controller = new AbortController();
      if (ex.abortReason !== undefined) ex.controller.abort(ex.abortReason);
    }
    return ex.controller.signal;
  }
}

/** Collects a response's fields into its head, minus framing fields. */
class HeadFields {
  head = "";
  close = false;
  hasDate = false;
  length: string | null = null;
  reset(head: string): void {
    this.head = head;
    this.close = false;
    this.hasDate = false;
    this.length = null;
  }
  add = (value: string, name: string): void => {
    switch (name) {
      case "connection":
        if (/\bclose\b/i.test(value)) this.close = true;
        return;
      case "keep-alive":
      case "transfer-encoding":
        return;
      case "content-length":
        this.length = value;
        return;
      case "date":
        this.hasDate = true;
    }
    this.head += name + ": " + value + CRLF;
  };
}

// Heads are built synchronously, so one collector serves every connection.
const headFields = new HeadFields();

function settle(ex: Exchange, error?: unknown): void {
  if (ex.outcome !== undefined) return;
  ex.outcome = error === undefined ? null : error;
  if (error === undefined) ex.resolve?.();
  else ex.reject?.(error);
}

function isClientError(error: unknown): boolean {
  return error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.ConnectionAborted ||
    error instanceof Deno.errors.NotConnected ||
    error instanceof Deno.errors.UnexpectedEof ||
    error instanceof Deno.errors.BadResource ||
    error instanceof Deno.errors.Interrupted ||
    error instanceof ClientGone;
}

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

class PortableConnection implements EngineConnection {
  // `finished` is made on first use: most connections end unobserved.
  #finished: Promise<void> | null = null;
  #resolveFinished: (() => void) | null = null;
  #isFinished = false;
  #conn: Deno.Conn;
  #hooks: ConnectionHooks;
  #handler: ServeHandler;
  #onError: ErrorHandler;
  #config: Config;
  #origin = "";
  #originHost = "";
  // The last request's target, Host, URL and template: a connection often
  // asks for the same URL again, and this skips building and hashing it.
  #lastTarget: string | null = null;
  #lastHost: string | null = null;
  #lastUrl = "";
  #lastTemplate: Request | null = null;
  #scheme: string;

  // Read side.
  #buf: Uint8Array = new Uint8Array(INITIAL_BUFFER);
  #start = 0;
  #end = 0;
  #reading: Promise<number | null> | null = null;
  /** The pending read was started by {@linkcode #watch}. */
  #watching = false;
  #eof = false;

  // Write side: writes are chained so that they never interleave.
  #writeTail: Promise<void> | null = null;
  #writes = 0;
  // Responses to pipelined requests, sent in one write (made on first use).
  #batch: Uint8Array[] | null = null;
  #batchBytes = 0;
  #batchDone: Exchange[] | null = null;

  // The request in flight.
  #ex: Exchange | null = null;
  #between = true;
  #closeIdle = false;
  #closed = false;
  #socketClosed = false;
  #reason: CloseReason | null = null;

  // The request body.
  #bodyKind = BODY_NONE;
  #bodyRemaining = 0;
  #chunkPhase = CHUNK_SIZE;
  #trailerBytes = 0;
  #bodyBusy: Promise<unknown> | null = null;
  #bodyController: ReadableStreamDefaultController<Uint8Array> | null = null;
  #continuePending = false;
  #draining = false;
  /** A drain called `headStart()`: the next head needs no second call. */
  #headStarted = false;

  constructor(
    conn: Deno.Conn,
    hooks: ConnectionHooks,
    handler: ServeHandler,
    onError: ErrorHandler,
    config: Config,
  ) {
    this.#conn = conn;
    this.#hooks = hooks;
    this.#handler = handler;
    this.#onError = onError;
    this.#config = config;
    this.#scheme = "handshake" in conn ? "https://" : "http://";
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
      if (this.#isFinished) this.#finished = Promise.resolve();
      else {
        const { promise, resolve } = Promise.withResolvers<void>();
        this.#finished = promise;
        this.#resolveFinished = resolve;
      }
    }
    return this.#finished;
  }

  #finish(): void {
    this.#isFinished = true;
    this.#resolveFinished?.();
  }

  close(reason: CloseReason): void {
    if (this.#closed) return this.#closeSocket(reason);
    if (reason === "headerTimeout") this.#terminate(reason, 408);
    else this.#terminate(reason);
  }

  closeIdle(): void {
    if (this.#closed) return;
    this.#closeIdle = true;
    if (this.#between && this.#start === this.#end) {
      this.#terminate("shutdown");
    }
  }

  // ---------------------------------------------------------------- reading

  /**
   * Reads more bytes into the buffer (at most one read is pending). Resolves
   * with the count, or `null` at end of stream or on a read error.
   */
  #fill(): Promise<number | null> {
    if (this.#reading !== null) return this.#reading;
    if (this.#eof || this.#closed) return Promise.resolve(null);
    this.#flush();
    if (this.#start === this.#end) this.#start = this.#end = 0;
    if (this.#end === this.#buf.length) {
      if (this.#start > 0) {
        this.#buf.copyWithin(0, this.#start, this.#end);
        this.#end -= this.#start;
        this.#start = 0;
      } else {
        const size = Math.min(this.#buf.length * 2, this.#config.bufferLimit);
        if (size <= this.#buf.length) {
          return Promise.reject(new BadBody("Read buffer limit exceeded"));
        }
        const grown = new Uint8Array(size);
        grown.set(this.#buf.subarray(0, this.#end));
        this.#buf = grown;
      }
    }
    const p = this.#conn.read(
      this.#end === 0 ? this.#buf : this.#buf.subarray(this.#end),
    ).then(this.#onRead, this.#onReadError);
    this.#reading = p;
    return p;
  }

  // Made once a connection, not once a read.
  #onRead = (n: number | null): number | null => {
    this.#reading = null;
    if (n === null) this.#eof = true;
    else {
      this.#end += n;
      // Between requests, headStart() follows at once and stamps the time.
      if (!this.#between || this.#headStarted) this.#hooks.touch();
    }
    if (this.#watching) this.#watched(n);
    return n;
  };

  #onReadError = (): null => {
    this.#reading = null;
    this.#eof = true;
    if (this.#watching) this.#watched(null);
    return null;
  };

  /** Shrinks a grown buffer back when nothing is buffered. */
  #shrink(): void {
    if (
      this.#reading === null && this.#start === this.#end &&
      this.#buf.length > INITIAL_BUFFER
    ) {
      this.#buf = new Uint8Array(INITIAL_BUFFER);
      this.#start = this.#end = 0;
    }
  }

  /**
   * While a handler runs or a response streams, keeps one read pending so
   * that a client going away is noticed (its bytes stay buffered).
   */
  #watch(): void {
    if (
      this.#reading !== null || this.#closed || this.#eof ||
      this.#bodyKind !== BODY_NONE ||
      this.#end - this.#start >= INITIAL_BUFFER / 2 ||
      (this.#end === this.#buf.length && this.#start === 0)
    ) return;
    // The read's own callback goes on watching (no promise a watch); it runs
    // before anything else that awaits this read.
    this.#watching = true;
    const read = this.#fill();
    if (this.#reading === null) {
      // No read started after all.
      this.#watching = false;
      read.catch(noop);
    }
  }

  /** A read started by {@linkcode #watch} ended with `n`. */
  #watched(n: number | null): void {
    this.#watching = false;
    if (this.#ex === null || this.#closed) return;
    if (n === null) this.#peerGone();
    else this.#watch();
  }

  /** The client closed or reset the connection while a request was open. */
  #peerGone(): void {
    const ex = this.#ex;
    if (ex === null) return;
    abortExchange(ex, new ClientGone("The client closed the connection"));
    if (ex.reader !== null) this.#terminate("client");
  }

  // -------------------------------------------------------------- main loop

  /** Serves requests until the connection ends. Never rejects. */
  async #run(): Promise<void> {
    try {
      const hooks = this.#hooks;
      const config = this.#config;
      while (!this.#closed) {
        // Between requests: wait for the first byte of the next head.
        this.#between = true;
        if (this.#start === this.#end) {
          this.#shrink();
          if (this.#closeIdle) return this.#terminate("shutdown");
          if (await this.#fill() === null) return this.#terminate("client");
          if (this.#closed) return;
        }
        this.#between = false;
        // Whether nothing is awaited between headStart() and requestStart().
        let immediate = true;
        if (this.#headStarted) {
          this.#headStarted = false;
          immediate = false;
        } else hooks.headStart();
        // Skip empty lines before a request line (RFC 9112 §2.2).
        let headEnd = -1;
        let scanned = 0;
        for (;;) {
          const buf = this.#buf;
          while (
            this.#end - this.#start >= 2 && buf[this.#start] === 13 &&
            buf[this.#start + 1] === 10
          ) {
            this.#start += 2;
            scanned = 0;
          }
          headEnd = findHeadEnd(
            buf,
            this.#start,
            this.#start + scanned,
            this.#end,
          );
          if (headEnd !== -1) break;
          scanned = this.#end - this.#start;
          if (scanned > config.maxHeaderSize) {
            return this.#fail(this.#oversizeStatus());
          }
          immediate = false;
          if (await this.#fill() === null) return this.#terminate("client");
          if (this.#closed) return;
        }
        if (headEnd - this.#start > config.maxHeaderSize) {
          return this.#fail(this.#oversizeStatus());
        }
        const head = parseHead(
          this.#buf,
          this.#start,
          headEnd,
          config.targetLimit,
        );
        if (typeof head === "number") {
          if (head === H2_PREFACE) return this.#terminate("error");
          return this.#fail(head);
        }
        this.#start = headEnd;
        if (!await this.#exchange(head, immediate)) return;
      }
    } catch (error) {
      this.#terminate(isClientError(error) ? "client" : "error");
    }
  }

  /** The status for a head that outgrew `maxHeaderSize`: 414 or 431. */
  #oversizeStatus(): number {
    const buf = this.#buf;
    const lf = buf.indexOf(10, this.#start);
    if (lf !== -1 && lf < this.#end) {
      return lf - this.#start > this.#config.targetLimit ? 414 : 431;
    }
    const sp = buf.indexOf(32, this.#start);
    return sp !== -1 && sp < this.#start + 32 ? 414 : 431;
  }

  /** Answers a protocol error with `status` and closes. */
  #fail(status: number): void {
    this.#terminate("error", status);
  }

  #url(head: RequestHead): string | null {
    const target = head.target;
    const host = head.host || this.#localHost();
    if (target.charCodeAt(0) === 47) { // "/"
      if (host !== this.#originHost) {
        this.#originHost = detach(host);
        this.#origin = this.#scheme + this.#originHost;
      }
      return this.#origin + target;
    }
    if (target === "*") return this.#scheme + host + "/*";
    const lower = target.slice(0, 8).toLowerCase();
    if (lower.startsWith("http://") || lower.startsWith("https://")) {
      return target;
    }
    return null;
  }

  #localHost(): string {
    const addr = this.#conn.localAddr as Deno.NetAddr;
    return `${formatHost(addr.hostname)}:${addr.port}`;
  }

  /**
   * Serves one request. Resolves `true` when the connection stays open for
   * the next one. `immediate`: nothing was awaited since `headStart()`.
   */
  async #exchange(head: RequestHead, immediate: boolean): Promise<boolean> {
    const hooks = this.#hooks;
    let url: string | null;
    let template: Request | null;
    if (head.target === this.#lastTarget && head.host === this.#lastHost) {
      url = this.#lastUrl;
      template = this.#lastTemplate;
    } else {
      url = head.method === "CONNECT" ? null : this.#url(head);
      if (url === null) {
        if (head.method === "CONNECT") {
          this.#fail(501);
          return false;
        }
        this.#fail(400);
        return false;
      }
      template = templateFor(url);
      if (template !== null) {
        // Copies: slices of the head would keep the whole head alive.
        url = detach(url);
        this.#lastUrl = url;
        this.#lastTarget = url.slice(url.length - head.target.length);
        this.#lastHost = head.host === null ? null : detach(head.host);
        this.#lastTemplate = template;
      }
    }
    // Body framing.
    if (head.chunked) {
      this.#bodyKind = BODY_CHUNKED;
      this.#chunkPhase = CHUNK_SIZE;
      this.#trailerBytes = 0;
    } else if (head.contentLength > 0) {
      this.#bodyKind = BODY_LENGTH;
      this.#bodyRemaining = head.contentLength;
    } else {
      this.#bodyKind = BODY_NONE;
    }
    this.#continuePending = head.expectContinue && this.#bodyKind !== BODY_NONE;
    const method = head.method;
    const isHead = method === "HEAD";
    const ex: Exchange = {
      controller: null,
      abortReason: undefined,
      completed: null,
      resolve: null,
      reject: null,
      outcome: undefined,
      isHead,
      minor: head.minor,
      close: head.close || (head.minor === 0 && !head.keepAlive),
      responding: false,
      reader: null,
      next: null,
    };
    let request: Request;
    try {
      const body = this.#bodyKind !== BODY_NONE && !isHead && method !== "GET"
        ? this.#bodyStream()
        : null;
      if (template !== null) {
        request = new PortableRequest(
          template,
          templateInit(method, body),
          ex,
        );
      } else if (body !== null) {
        request = new PortableRequest(url, {
          method,
          body,
          duplex: "half",
        } as RequestInit, ex);
      } else {
        // An init dictionary costs, and GET is the default method.
        request = method === "GET"
          ? new PortableRequest(url, undefined, ex)
          : new PortableRequest(url, { method }, ex);
      }
      const headers = request.headers;
      const fields = head.fields;
      for (let i = 0; i < fields.length; i += 2) {
        headers.append(fields[i], fields[i + 1]);
      }
    } catch (error) {
      // CONNECT, TRACE and TRACK cannot be represented as a Request.
      this.#bodyKind = BODY_NONE;
      this.#fail(String(error).includes("forbidden") ? 501 : 400);
      return false;
    }
    this.#ex = ex;
    // Nothing was awaited since headStart() when the head came in one go.
    hooks.requestStart(immediate);
    if (this.#bodyKind === BODY_NONE) this.#watch();

    // Run the handler.
    let response = callHandler(
      this.#handler,
      request,
      new HandlerInfo(hooks, ex),
      this.#onError,
    );
    if (!(response instanceof Response)) {
      this.#flush();
      response = await response;
    }
    if (response.status === 101) {
      // A protocol switch (`Deno.upgradeWebSocket()` answers 101 for any
      // request) cannot happen on a connection this engine reads: refuse
      // it, and close, since the client may already speak the new protocol.
      response.body?.cancel().catch(noop);
      response = new Response("Upgrades are not supported by this engine", {
        status: 501,
      });
      ex.close = true;
    }
    if (this.#closed) {
      settle(ex, new Closed("The connection was closed"));
      response.body?.cancel().catch(noop);
      return false;
    }
    hooks.responseStart();
    let keep: boolean;
    try {
      keep = await this.#respond(ex, response as Response);
    } catch (error) {
      settle(ex, error);
      this.#ex = null;
      this.#terminate(isClientError(error) ? "client" : "error");
      return false;
    }
    this.#ex = null;
    if (!keep) {
      this.#terminate(this.#eof ? "client" : "done");
      return false;
    }
    // Drain what the handler left of the body.
    if (this.#bodyKind !== BODY_NONE) {
      try {
        if (!await this.#drain()) {
          this.#terminate("done");
          return false;
        }
      } catch (error) {
        this.#terminate(
          error instanceof BadBody ? "error" : this.#closed ? "done" : "client",
        );
        return false;
      }
    }
    if (this.#eof && this.#start === this.#end) {
      this.#flush();
      this.#terminate("client");
      return false;
    }
    return !this.#closed;
  }

  // ----------------------------------------------------------- request body

  #bodyStream(): ReadableStream<Uint8Array> {
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.#bodyController = controller;
      },
      pull: (controller) => {
        const p = this.#pullBody(controller);
        this.#bodyBusy = p;
        return p;
      },
      cancel: () => {
        this.#bodyController = null;
      },
    }, { highWaterMark: 0 });
  }

  async #pullBody(
    controller: ReadableStreamDefaultController<Uint8Array>,
  ): Promise<void> {
    try {
      if (this.#continuePending) {
        this.#continuePending = false;
        if (this.#start === this.#end) await this.#write(CONTINUE);
      }
      const chunk = await this.#readBody(true);
      if (this.#bodyController !== controller) return;
      if (chunk === null) {
        this.#bodyController = null;
        controller.close();
        if (this.#ex !== null && !this.#ex.responding) this.#watch();
      } else {
        controller.enqueue(chunk);
      }
    } catch (error) {
      if (this.#bodyController === controller) {
        this.#bodyController = null;
        controller.error(
          error instanceof BadBody
            ? new TypeError("Invalid request body framing")
            : new TypeError("The request body was cut short"),
        );
      }
      if (error instanceof BadBody) this.#fail(400);
      else if (!this.#closed) {
        this.#peerGone();
        this.#eof = true;
      }
    } finally {
      this.#bodyBusy = null;
    }
  }

  /** Waits for more body bytes from the client. */
  async #fillBody(): Promise<void> {
    // A drain runs after requestEnd(): the connection is idle then.
    const report = !this.#draining;
    if (report) this.#hooks.bodyWait(true);
    else if (!this.#headStarted) {
      // The connection is idle, and a body trickled 1 byte per idle
      // timeout would hold it forever: bytes of the drain count as the
      // next head's, so that headerTimeout bounds the drain.
      this.#headStarted = true;
      this.#hooks.headStart();
    }
    const n = await this.#fill();
    if (report) this.#hooks.bodyWait(false);
    if (this.#closed) throw new Closed("The connection was closed");
    if (n === null) throw new ClientGone("The request body was cut short");
  }

  /**
   * Returns the next piece of the request body (a copy when `copy`, else a
   * view valid until the next read), or `null` at its end.
   */
  async #readBody(copy: boolean): Promise<Uint8Array | null> {
    for (;;) {
      if (this.#bodyKind === BODY_NONE) return null;
      const available = this.#end - this.#start;
      if (this.#bodyKind === BODY_LENGTH) {
        const remaining = this.#bodyRemaining;
        if (available > 0) {
          const n = Math.min(available, remaining);
          const s = this.#start;
          this.#start += n;
          if ((this.#bodyRemaining -= n) === 0) this.#bodyKind = BODY_NONE;
          return copy
            ? this.#buf.slice(s, s + n)
            : this.#buf.subarray(s, s + n);
        }
        if (copy && this.#reading === null && remaining > INITIAL_BUFFER) {
          // Read a large body straight into its own chunk.
          const chunk = new Uint8Array(Math.min(remaining, MAX_DIRECT_READ));
          this.#hooks.bodyWait(true);
          let n: number | null;
          try {
            n = await this.#conn.read(chunk);
          } catch (error) {
            throw this.#closed ? new Closed("Closed") : error;
          } finally {
            this.#hooks.bodyWait(false);
          }
          if (this.#closed) throw new Closed("The connection was closed");
          if (n === null) {
            this.#eof = true;
            throw new ClientGone("The request body was cut short");
          }
          this.#hooks.touch();
          if ((this.#bodyRemaining -= n) === 0) this.#bodyKind = BODY_NONE;
          return chunk.subarray(0, n);
        }
        await this.#fillBody();
        continue;
      }
      // Chunked.
      const buf = this.#buf;
      switch (this.#chunkPhase) {
        case CHUNK_SIZE: {
          const lf = buf.indexOf(10, this.#start);
          if (lf === -1 || lf >= this.#end) {
            if (available > MAX_CHUNK_LINE) throw new BadBody("Chunk line");
            await this.#fillBody();
            continue;
          }
          if (lf - this.#start > MAX_CHUNK_LINE) throw new BadBody("Chunk");
          const size = parseChunkSize(buf, this.#start, lf);
          if (size < 0) throw new BadBody("Invalid chunk size");
          this.#start = lf + 1;
          if (size === 0) this.#chunkPhase = CHUNK_TRAILER;
          else {
            this.#chunkPhase = CHUNK_DATA;
            this.#bodyRemaining = size;
          }
          continue;
        }
        case CHUNK_DATA: {
          if (available === 0) {
            await this.#fillBody();
            continue;
          }
          const n = Math.min(available, this.#bodyRemaining);
          const s = this.#start;
          this.#start += n;
          if ((this.#bodyRemaining -= n) === 0) {
            this.#chunkPhase = CHUNK_DATA_END;
          }
          return copy ? buf.slice(s, s + n) : buf.subarray(s, s + n);
        }
        case CHUNK_DATA_END: {
          if (available < 2) {
            await this.#fillBody();
            continue;
          }
          if (buf[this.#start] !== 13 || buf[this.#start + 1] !== 10) {
            throw new BadBody("Missing CRLF after chunk data");
          }
          this.#start += 2;
          this.#chunkPhase = CHUNK_SIZE;
          continue;
        }
        default: { // CHUNK_TRAILER
          const lf = buf.indexOf(10, this.#start);
          if (lf === -1 || lf >= this.#end) {
            if (this.#trailerBytes + available > this.#config.maxHeaderSize) {
              throw new BadBody("Trailers too large");
            }
            await this.#fillBody();
            continue;
          }
          const length = lf + 1 - this.#start;
          if ((this.#trailerBytes += length) > this.#config.maxHeaderSize) {
            throw new BadBody("Trailers too large");
          }
          if (length === 2 && buf[this.#start] === 13) {
            this.#start = lf + 1;
            this.#bodyKind = BODY_NONE;
            return null;
          }
          if (!isValidTrailerLine(buf, this.#start, lf)) {
            throw new BadBody("Invalid trailer");
          }
          this.#start = lf + 1;
          continue;
        }
      }
    }
  }

  /**
   * Reads and discards the rest of the request body, up to `maxBodyDrain`.
   * Resolves `false` when the body is longer (the connection must close).
   */
  async #drain(): Promise<boolean> {
    if (this.#bodyBusy !== null) await this.#bodyBusy.catch(noop);
    const controller = this.#bodyController;
    if (controller !== null) {
      this.#bodyController = null;
      try {
        controller.error(new TypeError("The response was sent already"));
      } catch {
        // Already closed.
      }
    }
    if (this.#continuePending) return false;
    let left = this.#config.maxBodyDrain;
    if (
      this.#bodyKind === BODY_LENGTH &&
      this.#bodyRemaining - (this.#end - this.#start) > left
    ) return false;
    this.#draining = true;
    try {
      while (this.#bodyKind !== BODY_NONE) {
        const chunk = await this.#readBody(false);
        if (chunk === null) break;
        if ((left -= chunk.length) < 0) return false;
      }
    } finally {
      this.#draining = false;
    }
    return true;
  }

  // ---------------------------------------------------------------- writing

  /**
   * Writes `bytes` after the writes before it. `pooled`, when given, is the
   * pool buffer that `bytes` lives in; it goes back to the pool afterwards.
   */
  #write(
    bytes: Uint8Array,
    pooled: Uint8Array | null = null,
    last = false,
  ): Promise<void> {
    const prev = this.#writeTail;
    this.#writes++;
    const p = prev === null
      ? this.#writeAll(bytes, pooled, last)
      : prev.then(() => this.#writeAll(bytes, pooled, last), (error) => {
        if (--this.#writes === 0) this.#writeTail = null;
        throw error;
      });
    this.#writeTail = p;
    return p;
  }

  async #writeAll(
    bytes: Uint8Array,
    pooled: Uint8Array | null,
    last: boolean,
  ) {
    try {
      let offset = 0;
      while (offset < bytes.length) {
        offset += await this.#conn.write(
          offset === 0 ? bytes : bytes.subarray(offset),
        );
        // The last write of a response is followed by requestEnd(), which
        // stamps the time itself.
        if (!last || offset < bytes.length) this.#hooks.touch();
      }
    } finally {
      if (pooled !== null && pool.length < POOL_SIZE) pool.push(pooled);
      if (--this.#writes === 0) this.#writeTail = null;
    }
  }

  /** Sends the batched responses of pipelined requests. */
  #flush(): void {
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
    this.#write(bytes).then(() => {
      for (const ex of done) settle(ex);
    }, (error) => {
      for (const ex of done) settle(ex, error);
      this.#terminate(isClientError(error) ? "client" : "error");
    });
  }

  /**
   * Writes a response. Resolves whether the connection stays open.
   */
  async #respond(ex: Exchange, response: Response): Promise<boolean> {
    const hooks = this.#hooks;
    const status = response.status;
    let close = ex.close || this.#closeIdle || this.#eof;
    if (!close && this.#bodyKind !== BODY_NONE) {
      if (this.#continuePending) close = true;
      else if (
        this.#bodyKind === BODY_LENGTH &&
        this.#bodyRemaining - (this.#end - this.#start) >
          this.#config.maxBodyDrain
      ) close = true;
    }
    let bytes: Uint8Array | null = null;
    const fields = headFields;
    fields.reset(
      "HTTP/1.1 " + status + " " +
        (response.statusText || (STATUS_TEXT[status] ?? "")) + CRLF,
    );
    // forEach is several times cheaper than iterating Headers.
    response.headers.forEach(fields.add);
    let head = fields.head;
    fields.head = "";
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
      if (this.#closed) {
        reader.cancel().catch(noop);
        throw new Closed("The connection was closed");
      }
    }
    const chunked = reader !== null && bytes === null && ex.minor === 1;
    if (reader !== null && bytes === null && ex.minor === 0) close = true;
    if (hooks.mustClose) close = true;
    if (this.#closeIdle) close = true;
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
        !close && this.#end > this.#start && this.#bodyKind === BODY_NONE &&
        this.#batchBytes + size <= MAX_BATCH
      ) {
        const out = encodeHead(head, bytes);
        hooks.requestEnd();
        (this.#batch ??= []).push(out);
        this.#batchBytes += out.length;
        (this.#batchDone ??= []).push(ex);
        return true;
      }
      this.#flush();
      if (size <= POOL_BUFFER) {
        const pooled = pool.pop() ?? new Uint8Array(POOL_BUFFER);
        encodeHeadInto(pooled, head, bytes);
        await this.#write(pooled.subarray(0, size), pooled, true);
      } else {
        await this.#write(encodeHead(head, bytes), null, true);
      }
      hooks.requestEnd();
      settle(ex);
      return !close;
    }

    // A stream: chunked (HTTP/1.1) or close-delimited (HTTP/1.0).
    this.#flush();
    head += chunked ? "transfer-encoding: chunked\r\n\r\n" : CRLF;
    this.#watch();
    await this.#write(
      chunked ? encodeHead(head, frameChunk(first!)) : encodeHead(head, first),
    );
    let result = await pending;
    while (!result.done) {
      if (this.#closed) break;
      const chunk = toBytes(result.value);
      if (chunk.length > 0) {
        await this.#write(chunked ? frameChunk(chunk) : chunk);
      }
      if (this.#closed) break;
      result = await reader!.read();
    }
    if (this.#closed) {
      reader!.cancel().catch(noop);
      throw new Closed("The connection was closed");
    }
    ex.reader = null;
    if (chunked) await this.#write(LAST_CHUNK, null, true);
    hooks.requestEnd();
    settle(ex);
    return !close;
  }

  // ---------------------------------------------------------------- closing

  /**
   * Ends the connection once: aborts the request in flight, answers
   * `status` first when given and nothing of a response was sent (waiting
   * at most a moment), lets a pending write finish when the connection ends
   * normally (`"done"`, `"client"`), then closes the socket and reports
   * `reason`.
   */
  #terminate(reason: CloseReason, status?: number): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#reason = reason;
    const error = new Closed(`The connection was closed (${reason})`);
    const ex = this.#ex;
    if (ex !== null) {
      abortExchange(ex, error);
      ex.reader?.cancel().catch(noop);
      settle(ex, error);
    }
    this.#flush();
    const controller = this.#bodyController;
    if (controller !== null) {
      this.#bodyController = null;
      try {
        controller.error(new TypeError("The connection was closed"));
      } catch {
        // Already closed.
      }
    }
    const tail = this.#writeTail;
    let wait: Promise<unknown> | null = null;
    if (status !== undefined && (ex === null || !ex.responding)) {
      const answer = errorResponse(status);
      wait = this.#write(answer).catch(noop);
    } else if (tail !== null && (reason === "done" || reason === "client")) {
      wait = tail.catch(noop);
    }
    if (wait === null) {
      this.#closeSocket(reason);
      return;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, CLOSE_WRITE_MS);
    });
    Promise.race([wait, timeout]).then(() => {
      clearTimeout(timer);
      this.#closeSocket(reason);
    });
  }

  #closeSocket(reason: CloseReason): void {
    if (this.#socketClosed) return;
    this.#socketClosed = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
    this.#hooks.closed(this.#reason ?? reason);
    const pending: Promise<unknown>[] = [];
    if (this.#reading !== null) pending.push(this.#reading);
    if (this.#writeTail !== null) pending.push(this.#writeTail.catch(noop));
    if (this.#bodyBusy !== null) pending.push(this.#bodyBusy.catch(noop));
    if (pending.length === 0) this.#finish();
    else Promise.allSettled(pending).then(() => this.#finish());
  }
}
