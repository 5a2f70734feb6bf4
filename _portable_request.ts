// Copyright 2026 the Reaper authors. MIT license.
/**
 * Building what a handler gets on a portable connection: the `Request`
 * (made from cached per-URL templates, with a `signal` made on first use),
 * the handler's `info` (with `completed` made on first use), and the
 * {@linkcode Exchange} that ties one request to its response.
 *
 * The lazy parts follow one rule: a signal or promise that costs more than
 * the rest of the request is made only if someone looks.
 *
 * @module
 */

import { type ConnectionHooks, formatHost, RequestInfo } from "./_engine.ts";
import type { RequestHead } from "./_http1.ts";
import type { RequestBody } from "./_portable_body.ts";

/** One request and its response. */
export interface Exchange {
  /** The request's abort controller, made when `request.signal` is read. */
  controller: AbortController | null;
  /** Why the request was aborted, once it was. */
  abortReason: unknown;
  /** `info.completed`, made on first use. */
  completed: Promise<void> | null;
  /** Resolves `completed`, once it is made. */
  resolve: (() => void) | null;
  /** The exchange has ended: its response was sent, or it failed. */
  ended: boolean;
  /**
   * `responseStart()` was reported and `requestEnd()` is still owed: a
   * response that fails reports it too, before `closed()`.
   */
  answered: boolean;
  /** The request's method is `HEAD`. */
  isHead: boolean;
  /** The request's minor HTTP version. */
  minor: number;
  /** The request asks to close the connection after the response. */
  close: boolean;
  /** The response's first byte was handed to the socket. */
  responding: boolean;
  /** The reader of the response body while it streams. */
  reader: ReadableStreamDefaultReader<Uint8Array> | null;
  /** The second read of a response body, if it settled at once. */
  next: unknown;
}

/**
 * A new exchange for a request head.
 *
 * @param head The parsed head.
 * @returns The exchange, open.
 */
export function newExchange(head: RequestHead): Exchange {
  return {
    controller: null,
    abortReason: undefined,
    completed: null,
    resolve: null,
    ended: false,
    answered: false,
    isHead: head.method === "HEAD",
    minor: head.minor,
    close: head.close || (head.minor === 0 && !head.keepAlive),
    responding: false,
    reader: null,
    next: null,
  };
}

/**
 * Aborts the request's signal (once), with the runtime's reason: an
 * `AbortError` `DOMException` saying "The request has been cancelled.",
 * whether the client went away or the connection was closed.
 *
 * @param ex The exchange.
 */
export function abortExchange(ex: Exchange): void {
  if (ex.abortReason !== undefined) return;
  const reason = new DOMException(
    "The request has been cancelled.",
    "AbortError",
  );
  ex.abortReason = reason;
  ex.controller?.abort(reason);
}

/**
 * Ends the exchange (once): `info.completed` resolves. As on the native
 * engine, it resolves also when the response failed (the client went away,
 * the body stream errored, the connection was closed): it says that the
 * request is over, not that it succeeded.
 *
 * @param ex The exchange.
 */
export function settle(ex: Exchange): void {
  if (ex.ended) return;
  ex.ended = true;
  ex.resolve?.();
}

/** The `info` a handler gets from the portable engine. */
export class HandlerInfo extends RequestInfo {
  #ex: Exchange;

  /**
   * @param hooks The connection's hooks.
   * @param ex The exchange.
   */
  constructor(hooks: ConnectionHooks, ex: Exchange) {
    super(hooks);
    this.#ex = ex;
  }

  /** Made on first use: most handlers never look. */
  get completed(): Promise<void> {
    const ex = this.#ex;
    if (ex.completed === null) {
      const { promise, resolve } = Promise.withResolvers<void>();
      ex.completed = promise;
      if (ex.ended) resolve();
      else ex.resolve = resolve;
    }
    return ex.completed;
  }
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/**
 * A copy of an ASCII string that shares no memory with it. Strings sliced
 * from a request head keep the whole head alive; kept strings are copied.
 */
function detach(s: string): string {
  return textDecoder.decode(textEncoder.encode(s));
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

/**
 * Builds the requests of one connection. It keeps the last request's
 * target, `Host`, URL and template: a connection often asks for the same URL
 * again, and this skips building and hashing it.
 */
export class RequestBuilder {
  #origin = "";
  #originHost = "";
  #lastTarget: string | null = null;
  #lastHost: string | null = null;
  #lastUrl = "";
  #lastTemplate: Request | null = null;

  /**
   * Builds the `Request` for a head.
   *
   * @param head The parsed head.
   * @param body The request's body, if its head announced one (a `GET` or
   * `HEAD` request gets none, and it is discarded).
   * @param ex The exchange the request belongs to.
   * @param conn The socket (its scheme, and its address for a request
   * without `Host`).
   * @returns The request, or the status to refuse it with: `501` for
   * `CONNECT`, `TRACE` and `TRACK`, which a `Request` cannot represent,
   * `400` for a target that makes no URL.
   */
  build(
    head: RequestHead,
    body: RequestBody | null,
    ex: Exchange,
    conn: Deno.Conn,
  ): Request | number {
    let url: string | null;
    let template: Request | null;
    if (head.target === this.#lastTarget && head.host === this.#lastHost) {
      url = this.#lastUrl;
      template = this.#lastTemplate;
    } else {
      url = head.method === "CONNECT"
        ? null
        : RequestBuilder.#url(this, head, conn);
      if (url === null) return head.method === "CONNECT" ? 501 : 400;
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
    const method = head.method;
    let request: Request;
    try {
      const stream = body !== null && !ex.isHead && method !== "GET"
        ? body.stream()
        : null;
      if (template !== null) {
        request = new PortableRequest(
          template,
          templateInit(method, stream),
          ex,
        );
      } else if (stream !== null) {
        request = new PortableRequest(url, {
          method,
          body: stream,
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
      return String(error).includes("forbidden") ? 501 : 400;
    }
    return request;
  }

  // Static: a private instance method would cost every connection's
  // builder a brand slot.
  static #url(
    b: RequestBuilder,
    head: RequestHead,
    conn: Deno.Conn,
  ): string | null {
    const target = head.target;
    if (target.charCodeAt(0) === 47) { // "/"
      const host = head.host || localHost(conn);
      if (host !== b.#originHost) {
        b.#originHost = detach(host);
        b.#origin = schemeOf(conn) + b.#originHost;
      }
      return b.#origin + target;
    }
    if (target === "*") {
      return schemeOf(conn) + (head.host || localHost(conn)) + "/*";
    }
    const lower = target.slice(0, 8).toLowerCase();
    if (lower.startsWith("http://") || lower.startsWith("https://")) {
      return target;
    }
    return null;
  }
}

/** The URL scheme of a request on `conn`, with its `://`. */
function schemeOf(conn: Deno.Conn): string {
  return "handshake" in conn
    ? "https://"
    : conn.localAddr.transport === "unix"
    ? "http+unix://"
    : "http://";
}

/**
 * The connection's local address, as a `Host` value: on a Unix domain
 * socket the listener's path with every byte but a letter or digit
 * percent-encoded, as `Deno.serve` makes it (`http+unix://%2Frun%2Fapp%2Esock/`).
 */
function localHost(conn: Deno.Conn): string {
  const addr = conn.localAddr;
  if ("path" in addr) return encodeSocketPath(addr.path);
  const { hostname, port } = addr as Deno.NetAddr;
  return `${formatHost(hostname)}:${port}`;
}

/** Percent-encodes every UTF-8 byte of `path` but ASCII letters and digits. */
function encodeSocketPath(path: string): string {
  let out = "";
  for (const byte of textEncoder.encode(path)) {
    out += (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) ||
        (byte >= 0x61 && byte <= 0x7a)
      ? String.fromCharCode(byte)
      : "%" + byte.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}
