// Copyright 2026 the Reaper authors. MIT license.
/**
 * WebSockets (RFC 6455) on the portable engine: the handshake, the server
 * side of the protocol on the connection the engine owns, and
 * {@linkcode ServerWebSocket}, the `WebSocket`-compatible object a handler
 * gets from `upgradeWebSocket()` (`websocket.ts`).
 *
 * ## How a request becomes a WebSocket
 *
 * 1. The engine parses a head with `Connection: upgrade` and no body, and
 *    records its `Request` with {@linkcode allowUpgrade} (a `WeakMap` entry;
 *    other requests cost nothing).
 * 2. `upgradeWebSocket(req)` finds the request there, checks the handshake
 *    ({@linkcode upgradePortable}) and returns a socket in state
 *    `CONNECTING` and an {@linkcode UpgradeResponse} (status 101).
 * 3. The handler returns that response: the engine hands it to
 *    {@linkcode takeUpgrade}, which writes the 101 head, reports
 *    `setRequestTimeout(0)` and `responseStart()` (never `requestEnd()`),
 *    opens the socket and reads frames from the connection's reader (the
 *    bytes already buffered behind the head included). The engine's HTTP
 *    loop ends; its `closeIdle()` goes to {@linkcode Session.closeIdle}.
 *
 * ## The session's life
 *
 * | readyState   | what the session does                                                                |
 * | ------------ | ------------------------------------------------------------------------------------ |
 * | `CONNECTING` | waits for the handler to return the 101; `close()` now closes right after it         |
 * | `OPEN`       | reads frames, dispatches messages, answers pings, runs the heartbeat                 |
 * | `CLOSING`    | sent a close frame: waits for the peer's (at most `CLOSE_TIMEOUT`), drops messages   |
 * | `CLOSED`     | the connection is closed (or closing) and `close` was dispatched, once               |
 *
 * How it ends, and what the lifetime layer hears (`hooks.closed()`):
 *
 * | event                                   | frames sent            | `close` event              | reason     |
 * | --------------------------------------- | ---------------------- | -------------------------- | ---------- |
 * | the peer's close frame                  | echo of its code       | its code (1005 if none), clean | `"done"`   |
 * | `close()`, `closeIdle()` (1001), answered | ours, then the peer's  | the peer's code, clean     | `"done"`   |
 * | the same, unanswered for `CLOSE_TIMEOUT`  | ours                   | 1006, not clean            | `"client"` |
 * | a protocol fault (1002, 1007, 1009)     | close with that code   | `error`, then 1006         | `"error"`  |
 * | heartbeat: no frame after a ping        | close 1001             | `error`, then 1001         | `"idle"`   |
 * | the TCP connection ends or fails        | –                      | 1006, not clean            | `"client"` |
 * | `EngineConnection.close(reason)`        | –                      | 1006, not clean            | `reason`   |
 * | the send buffer overflows               | –                      | `error`, then 1006         | `"error"`  |
 *
 * @module
 */

import type { Connection } from "./_portable_internals.ts";
import { CLOSING, noop, whenSettledOrAfter } from "./_portable_internals.ts";
import type { Reader } from "./_portable_reader.ts";
import { type Exchange, settle } from "./_portable_request.ts";
import { encodeHead } from "./_http1.ts";
import {
  acceptKey,
  encodeClose,
  encodeFrame,
  encodeTextFrame,
  frameFault,
  type FrameHeader,
  isValidCloseCode,
  isValidKey,
  OP_BINARY,
  OP_CLOSE,
  OP_PING,
  OP_PONG,
  OP_TEXT,
  parseFrameHeader,
  unmask,
} from "./_websocket_wire.ts";

/** `readyState` values, as on `WebSocket`. */
const CONNECTING = 0, OPEN = 1, CLOSING_STATE = 2, CLOSED = 3;
type ReadyState = 0 | 1 | 2 | 3;

/** How long a close frame we sent waits for the peer's, in milliseconds. */
const CLOSE_TIMEOUT = 5000;
/** How long a last frame may delay closing the connection, in ms. */
const LAST_WRITE_MS = 1000;
/** The read buffer a large payload is read through, in bytes. */
const LARGE_BUFFER = 65536;
/** The close reason of a heartbeat timeout, Deno's wording. */
const PING_TIMEOUT = "No response from ping frame.";

/** The limits and choices of one upgrade (checked by `websocket.ts`). */
export interface SessionOptions {
  /** The subprotocol chosen, or `""`. */
  protocol: string;
  /** The heartbeat period basis, in milliseconds; 0 = none. */
  idleTimeout: number;
  /** The largest message received, in bytes. */
  maxMessageSize: number;
  /** The most bytes `send()` may have queued. */
  maxBufferedAmount: number;
}

const textDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const EMPTY = new Uint8Array(0);
const PING_FRAME = encodeFrame(OP_PING, EMPTY);
/** Frame headers are parsed synchronously: one for all sessions. */
const header: FrameHeader = {
  fin: false,
  rsv: 0,
  opcode: 0,
  masked: false,
  length: 0,
  mask: 0,
};

/**
 * The protocol state of one WebSocket on a portable connection. Its
 * helpers are module functions: a method would cost nothing more, but the
 * read loop reads best as one function.
 */
export class Session {
  state: ReadyState = CONNECTING;
  readonly socket: ServerWebSocket;
  /** The connection, from the handshake on. */
  readonly c: Connection;
  readonly options: SessionOptions;
  /** Bytes of application data queued by `send()` and not yet written. */
  buffered = 0;
  /** The opcode of the message being received, `0` between messages. */
  op = 0;
  /** Its size so far. */
  size = 0;
  /** Its pieces so far (binary), or `null`. */
  parts: Uint8Array[] | null = null;
  /** Its text so far (text). */
  text = "";
  /** How many payload pieces it has had. */
  pieces = 0;
  /** A streaming decoder for text that comes in pieces, made on first use. */
  decoder: TextDecoder | null = null;
  closeSent = false;
  /** What `close()` asked for while `CONNECTING`. */
  pendingClose: [number | undefined, string] | null = null;
  /** Whether a frame arrived since the last heartbeat tick. */
  heard = false;
  /** Whether the heartbeat sent a ping that no frame answered yet. */
  pinged = false;
  timer: ReturnType<typeof setTimeout> | undefined = undefined;
  /** Whether `close` was dispatched (the session is over). */
  ended = false;
  /** Sends that wait behind a `Blob`, to keep their order. */
  chain: Promise<void> | null = null;
  queued = 0;
  readonly onWriteError: () => void;
  readonly beat: () => void;

  constructor(c: Connection, options: SessionOptions) {
    this.c = c;
    this.options = options;
    this.socket = newSocket(this);
    this.onWriteError = () => lost(this);
    this.beat = () => heartbeat(this);
  }

  /**
   * The lifetime layer's `closeIdle()`: a closing handshake with `1001`
   * (going away), as the native engine does.
   */
  closeIdle(): void {
    if (this.state === CONNECTING) this.pendingClose ??= [1001, ""];
    else if (this.state === OPEN) startClose(this, 1001, "");
  }
}

// ------------------------------------------------------------ the handshake

/**
 * The portable connections whose current request may be upgraded; `null`
 * once it was.
 */
const upgradable = new WeakMap<Request, Connection | null>();

/**
 * Records that `request` may be upgraded on `c` (its head said
 * `Connection: upgrade` and it has no body).
 *
 * @param request The request the engine built.
 * @param c Its connection.
 */
export function allowUpgrade(request: Request, c: Connection): void {
  upgradable.set(request, c);
}

/** Whether a comma-separated field value holds `token` (any case). */
function hasToken(value: string | null, token: string): boolean {
  if (value === null) return false;
  for (const part of value.split(",")) {
    if (part.trim().toLowerCase() === token) return true;
  }
  return false;
}

let sessionOf: (response: UpgradeResponse) => Session;

/**
 * The `101` response of an upgrade on the portable engine. A `Response`
 * cannot be made with status 101, so this one is made with 200 and reports
 * 101; only the portable engine sends it.
 */
class UpgradeResponse extends Response {
  readonly #session: Session;

  static {
    sessionOf = (response) => response.#session;
  }

  /**
   * @param session The session it opens.
   * @param headers The 101's fields.
   */
  constructor(session: Session, headers: Headers) {
    super(null, { headers });
    this.#session = session;
  }
}
Object.defineProperties(UpgradeResponse.prototype, {
  status: { get: () => 101, configurable: true },
  statusText: { get: () => "Switching Protocols", configurable: true },
  ok: { get: () => false, configurable: true },
});

/**
 * Checks a handshake on a request of the portable engine and makes its
 * socket and response.
 *
 * @param request The handler's request.
 * @param options The checked options (the protocol as the caller asked).
 * @returns The socket and the 101, or `null` when `request` is not one the
 * portable engine may upgrade (the caller delegates to the runtime).
 * @throws {TypeError} For a bad handshake, in the runtime's words where it
 * has them.
 */
export function upgradePortable(
  request: Request,
  options: SessionOptions,
): { socket: WebSocket; response: Response } | null {
  const c = upgradable.get(request);
  if (c === undefined) return null;
  if (c === null) {
    throw new TypeError("Cannot upgrade the request: it was upgraded already");
  }
  const headers = request.headers;
  if (!hasToken(headers.get("upgrade"), "websocket")) {
    throw new TypeError(
      "Invalid Header: 'upgrade' header must contain 'websocket'",
    );
  }
  if (!hasToken(headers.get("connection"), "upgrade")) {
    throw new TypeError(
      "Invalid Header: 'connection' header must contain 'Upgrade'",
    );
  }
  if (request.method !== "GET") {
    throw new TypeError(
      `Invalid method: a WebSocket handshake must be a GET request, received '${request.method}'`,
    );
  }
  const key = headers.get("sec-websocket-key");
  if (key === null) {
    throw new TypeError(
      "Invalid Header: 'sec-websocket-key' header must be set",
    );
  }
  if (!isValidKey(key)) {
    throw new TypeError(
      `Invalid Header: 'sec-websocket-key' header must be 16 bytes in base64, received '${key}'`,
    );
  }
  const version = headers.get("sec-websocket-version");
  if (version !== "13") {
    throw new TypeError(
      `Invalid Header: 'sec-websocket-version' header must be '13', received '${version}'`,
    );
  }
  const protocol = options.protocol;
  if (protocol !== "") {
    const offered = (headers.get("sec-websocket-protocol") ?? "").split(",")
      .map((p) => p.trim());
    if (!offered.includes(protocol)) {
      throw new TypeError(
        `Protocol '${protocol}' not in the request's protocol list (non negotiable)`,
      );
    }
  }
  upgradable.set(request, null);
  const session = new Session(c, options);
  const fields = new Headers();
  fields.set("connection", "Upgrade");
  fields.set("sec-websocket-accept", acceptKey(key));
  if (protocol !== "") fields.set("sec-websocket-protocol", protocol);
  fields.set("upgrade", "websocket");
  return {
    socket: session.socket as unknown as WebSocket,
    response: new UpgradeResponse(session, fields),
  };
}

/**
 * The engine's handover: if `response` is an upgrade of `c`'s request,
 * writes its 101 and opens its socket; the connection's HTTP loop must end.
 *
 * @param c The connection.
 * @param ex The exchange of the upgraded request; it settles once the 101
 * is written.
 * @param response The handler's response, status 101.
 * @returns The session, which now owns the connection, or `null` when the
 * response is no upgrade of this connection (the engine refuses it).
 */
export function takeUpgrade(
  c: Connection,
  ex: Exchange,
  response: Response,
): Session | null {
  if (!(response instanceof UpgradeResponse)) return null;
  const s = sessionOf(response);
  if (s.c !== c) return null;
  if (c.phase >= CLOSING) {
    settle(ex);
    end(s, false, 1006, "");
    return s;
  }
  const hooks = c.hooks;
  hooks.setRequestTimeout(0);
  hooks.responseStart();
  hooks.upgraded?.();
  let head = "HTTP/1.1 101 Switching Protocols\r\n";
  response.headers.forEach((value, name) => {
    head += name + ": " + value + "\r\n";
  });
  c.writer.write(encodeHead(head + "\r\n", null)).then(() => {
    settle(ex);
    opened(s);
  }, () => {
    settle(ex);
    lost(s);
  });
  return s;
}

// ------------------------------------------------------------ the session

/** The 101 is written: open, and read frames. */
function opened(s: Session): void {
  if (s.ended) return;
  if (s.state === CONNECTING) {
    s.state = OPEN;
    s.socket.dispatchEvent(new Event("open"));
  } else if (s.pendingClose !== null) {
    s.state = OPEN;
    const [code, reason] = s.pendingClose;
    startClose(s, code, reason);
  }
  if (s.ended) return;
  if (s.options.idleTimeout > 0) arm(s);
  run(s);
}

/** Writes a frame; `payload` bytes of it count in `bufferedAmount`. */
function write(s: Session, frame: Uint8Array, payload = 0): void {
  const written = s.c.writer.write(frame);
  if (payload === 0) written.catch(s.onWriteError);
  else {
    s.buffered += payload;
    written.then(() => {
      s.buffered -= payload;
    }, s.onWriteError);
  }
}

/** Runs `fn` once the writes queued so far are done (or after a moment). */
function afterWrites(s: Session, fn: () => void): void {
  const tail = s.c.writer.tail;
  if (tail === null) return fn();
  whenSettledOrAfter(tail, LAST_WRITE_MS, fn);
}

/** Starts the closing handshake (state `OPEN`). */
function startClose(s: Session, code: number | undefined, reason: string) {
  s.state = CLOSING_STATE;
  s.closeSent = true;
  write(s, encodeClose(code, reason));
  clearTimeout(s.timer);
  const timer = setTimeout(() => {
    if (s.ended) return;
    s.c.terminate("client");
    end(s, false, 1006, "");
  }, CLOSE_TIMEOUT);
  Deno.unrefTimer(timer as unknown as number);
  s.timer = timer;
}

/**
 * Dispatches the end of the socket once: `error` first when `error` is
 * given, then `close`. Clears the timers; the connection is closed by the
 * caller.
 */
function end(
  s: Session,
  wasClean: boolean,
  code: number,
  reason: string,
  error?: string,
): void {
  if (s.ended) return;
  s.ended = true;
  s.state = CLOSED;
  clearTimeout(s.timer);
  s.timer = undefined;
  s.parts = null;
  s.text = "";
  const socket = s.socket;
  if (error !== undefined) {
    socket.dispatchEvent(new ErrorEvent("error", { message: error }));
  }
  socket.dispatchEvent(new CloseEvent("close", { wasClean, code, reason }));
}

/** The connection ended or failed without a closing handshake. */
function lost(s: Session): void {
  if (s.ended) return;
  s.c.terminate("client");
  end(s, false, 1006, "");
}

/**
 * Sends this side's close frame (`frame()`) unless it was sent already,
 * then runs `then` (which ends the connection) once it is written: the last
 * step of every close that does not wait for the peer's answer.
 */
function closeAfterWrites(
  s: Session,
  frame: () => Uint8Array,
  then: () => void,
): void {
  if (!s.closeSent) {
    s.closeSent = true;
    write(s, frame());
  }
  s.state = CLOSING_STATE;
  clearTimeout(s.timer);
  afterWrites(s, then);
}

/** Fails the WebSocket connection (RFC 6455 §7.1.7) with `code`. */
function fail(s: Session, code: number, message: string): void {
  if (s.ended) return;
  closeAfterWrites(s, () => encodeClose(code, message), () => {
    s.c.terminate("error");
    end(s, false, 1006, "", message);
  });
}

// -------------------------------------------------------------- heartbeat

function arm(s: Session): void {
  const timer = setTimeout(s.beat, s.options.idleTimeout / 2);
  Deno.unrefTimer(timer as unknown as number);
  s.timer = timer;
}

/**
 * A heartbeat tick, every `idleTimeout / 2`: a frame since the last tick
 * keeps the socket; silence sends a ping; silence after a ping closes with
 * `1001`, as `Deno.upgradeWebSocket()` does.
 */
function heartbeat(s: Session): void {
  if (s.ended || s.state !== OPEN) return;
  if (s.heard) {
    s.heard = false;
    s.pinged = false;
  } else if (!s.pinged) {
    s.pinged = true;
    write(s, PING_FRAME);
  } else {
    closeAfterWrites(s, () => encodeClose(1001, PING_TIMEOUT), () => {
      s.c.terminate("idle");
      end(s, false, 1001, PING_TIMEOUT, PING_TIMEOUT);
    });
    return;
  }
  arm(s);
}

// ------------------------------------------------------------- the reading

/**
 * Waits for more bytes. A large payload (`want` bytes) is read through a
 * 64 KiB buffer; between frames the buffer shrinks back.
 *
 * @returns Whether bytes came and the session goes on.
 */
async function more(s: Session, r: Reader, want: number): Promise<boolean> {
  if (r.start === r.end && r.reading === null) {
    if (want > r.buf.length) r.reserve(LARGE_BUFFER);
    else if (want <= 14) r.shrink();
  }
  if (await r.fill() === null) {
    lost(s);
    return false;
  }
  return !s.ended;
}

/** Reads and handles frames until the session ends. Never rejects. */
async function run(s: Session): Promise<void> {
  const r = s.c.reader;
  const max = s.options.maxMessageSize;
  try {
    for (;;) {
      let size = parseFrameHeader(r.buf, r.start, r.end, header);
      while (size === 0) {
        if (!await more(s, r, 14)) return;
        size = parseFrameHeader(r.buf, r.start, r.end, header);
      }
      if (size < 0) return fail(s, 1002, "Invalid frame length");
      const fault = frameFault(header, s.op !== 0);
      if (fault !== null) return fail(s, 1002, fault);
      const { opcode, fin, length, mask } = header;
      r.start += size;
      s.heard = true;
      if (opcode >= OP_CLOSE) {
        while (r.end - r.start < length) {
          if (!await more(s, r, length)) return;
        }
        const payload = new Uint8Array(length);
        unmask(r.buf, r.start, length, payload, 0, mask, 0);
        r.start += length;
        if (!control(s, opcode, payload)) return;
        continue;
      }
      if (s.size + length > max) return fail(s, 1009, "Message too big");
      if (opcode !== 0) s.op = opcode;
      s.size += length;
      if (length === 0 && !piece(s, EMPTY, fin)) return;
      let remaining = length;
      let phase = 0;
      while (remaining > 0) {
        if (r.end === r.start && !await more(s, r, remaining)) return;
        const n = Math.min(r.end - r.start, remaining);
        const chunk = new Uint8Array(n);
        unmask(r.buf, r.start, n, chunk, 0, mask, phase);
        phase = (phase + n) & 3;
        r.start += n;
        remaining -= n;
        if (!piece(s, chunk, fin && remaining === 0)) return;
      }
    }
  } catch {
    lost(s);
  }
}

/**
 * One piece of a data message's payload; `last` completes the message.
 *
 * @returns Whether the session goes on (invalid UTF-8 fails it with 1007).
 */
function piece(s: Session, chunk: Uint8Array, last: boolean): boolean {
  const first = s.pieces === 0;
  s.pieces++;
  if (s.op === OP_TEXT) {
    try {
      if (first && last) s.text = textDecoder.decode(chunk);
      else {
        const decoder = s.decoder ??= new TextDecoder("utf-8", {
          fatal: true,
          ignoreBOM: true,
        });
        s.text += decoder.decode(chunk, { stream: !last });
      }
    } catch {
      s.decoder = null;
      fail(s, 1007, "Invalid UTF-8 in a text message");
      return false;
    }
  } else if (chunk.length > 0) (s.parts ??= []).push(chunk);
  if (!last) return true;
  let data: string | Uint8Array;
  if (s.op === OP_TEXT) {
    data = s.text;
    s.text = "";
  } else {
    const parts = s.parts;
    s.parts = null;
    data = parts === null ? EMPTY : parts.length === 1 ? parts[0] : concat(
      parts,
      s.size,
    );
  }
  s.op = 0;
  s.size = 0;
  s.pieces = 0;
  if (s.state === OPEN) deliver(s, data);
  return !s.ended;
}

function concat(parts: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function deliver(s: Session, data: string | Uint8Array): void {
  let value: string | ArrayBuffer | Blob;
  if (typeof data === "string") value = data;
  else if (binaryTypeOf(s.socket) === "blob") {
    value = new Blob([data as Uint8Array<ArrayBuffer>]);
  } else {
    value = data.byteLength === data.buffer.byteLength
      ? data.buffer as ArrayBuffer
      : data.slice().buffer;
  }
  s.socket.dispatchEvent(new MessageEvent("message", { data: value }));
}

/**
 * A control frame.
 *
 * @returns Whether the read loop goes on.
 */
function control(s: Session, opcode: number, payload: Uint8Array): boolean {
  if (opcode === OP_PING) {
    if (!s.closeSent) write(s, encodeFrame(OP_PONG, payload));
    return true;
  }
  if (opcode === OP_PONG) return true;
  // A close frame.
  let code = 1005;
  let reason = "";
  if (payload.length === 1) {
    fail(s, 1002, "Invalid close frame");
    return false;
  }
  if (payload.length >= 2) {
    code = (payload[0] << 8) | payload[1];
    if (!isValidCloseCode(code)) {
      fail(s, 1002, "Invalid close code");
      return false;
    }
    try {
      reason = textDecoder.decode(payload.subarray(2));
    } catch {
      fail(s, 1007, "Invalid UTF-8 in a close reason");
      return false;
    }
  }
  // Echo it whole, as the runtime does.
  closeAfterWrites(s, () => encodeFrame(OP_CLOSE, payload), () => {
    s.c.terminate("done");
    end(s, true, code, reason);
  });
  return false;
}

// -------------------------------------------------------------- the sending

/**
 * Queues a frame of `payload` bytes, unless the send buffer overflows.
 * `queued`: the send waited behind a `Blob` and was made while `OPEN`.
 */
function sendFrame(
  s: Session,
  frame: Uint8Array,
  payload: number,
  queued = false,
): void {
  if ((s.state !== OPEN && !queued) || s.closeSent || s.ended) return;
  if (s.buffered > 0 && s.buffered + payload > s.options.maxBufferedAmount) {
    // The peer does not read: fail, without a close frame it would not see.
    s.closeSent = true;
    s.state = CLOSING_STATE;
    s.c.terminate("error");
    end(s, false, 1006, "", "Send buffer full");
    return;
  }
  write(s, frame, payload);
}

function sendBytes(s: Session, bytes: Uint8Array, queued = false): void {
  sendFrame(s, encodeFrame(OP_BINARY, bytes), bytes.length, queued);
}

/** Runs `fn` after the sends that wait behind a `Blob`. */
function enqueue(s: Session, fn: () => void | Promise<void>): void {
  s.queued++;
  s.chain = (s.chain ?? Promise.resolve()).then(fn).catch(noop).then(() => {
    if (--s.queued === 0) s.chain = null;
  });
}

function toBytes(data: BufferSource): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) {
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }
  return new Uint8Array(data);
}

// --------------------------------------------------------------- the socket

type Handler<E extends Event> = ((this: WebSocket, ev: E) => unknown) | null;

let binaryTypeOf: (socket: ServerWebSocket) => BinaryType;

function newSocket(s: Session): ServerWebSocket {
  return new ServerWebSocket(s);
}

/**
 * The server side of a WebSocket on the portable engine, with the members
 * and events of the standard `WebSocket` (`readyState`, `binaryType`,
 * `bufferedAmount`, `protocol`, `extensions`, `url`, `send()`, `close()`,
 * `open`/`message`/`error`/`close` with `MessageEvent`, `ErrorEvent` and
 * `CloseEvent`). It is not an `instanceof WebSocket`: the runtime's class
 * cannot be made over a connection it does not own.
 */
export class ServerWebSocket extends EventTarget {
  /** `readyState`: the 101 is not sent yet. */
  static readonly CONNECTING = 0;
  /** `readyState`: open. */
  static readonly OPEN = 1;
  /** `readyState`: the closing handshake has begun. */
  static readonly CLOSING = 2;
  /** `readyState`: closed. */
  static readonly CLOSED = 3;
  readonly #s: Session;
  #binaryType: BinaryType = "arraybuffer";
  #handlers: Record<string, Handler<Event>> | null = null;

  static {
    binaryTypeOf = (socket) => socket.#binaryType;
  }

  /** @param s The session behind the socket. */
  constructor(s: Session) {
    super();
    this.#s = s;
  }

  /** `readyState`: the 101 is not sent yet. */
  get CONNECTING(): 0 {
    return 0;
  }
  /** `readyState`: open. */
  get OPEN(): 1 {
    return 1;
  }
  /** `readyState`: the closing handshake has begun. */
  get CLOSING(): 2 {
    return 2;
  }
  /** `readyState`: closed. */
  get CLOSED(): 3 {
    return 3;
  }

  /** The state of the connection: 0–3. */
  get readyState(): number {
    return this.#s.state;
  }

  /** Bytes of data queued by `send()` and not yet written. */
  get bufferedAmount(): number {
    return this.#s.buffered;
  }

  /** The subprotocol chosen, or `""`. */
  get protocol(): string {
    return this.#s.options.protocol;
  }

  /** Always `""`: no extension (such as permessage-deflate) is offered. */
  get extensions(): string {
    return "";
  }

  /** `""`, as on the runtime's server sockets. */
  get url(): string {
    return "";
  }

  /** How binary messages are delivered: `"arraybuffer"` (the default) or `"blob"`. */
  get binaryType(): BinaryType {
    return this.#binaryType;
  }
  set binaryType(value: BinaryType) {
    if (value === "arraybuffer" || value === "blob") this.#binaryType = value;
  }

  /**
   * Sends a message: a string as text, bytes or a `Blob` as binary. Does
   * nothing once the socket is closing.
   *
   * @param data The message.
   * @throws {DOMException} `InvalidStateError` while `CONNECTING`.
   */
  send(data: string | ArrayBufferLike | Blob | ArrayBufferView): void {
    const s = this.#s;
    if (s.state === CONNECTING) {
      throw new DOMException("'readyState' not OPEN", "InvalidStateError");
    }
    if (s.state !== OPEN) return;
    if (typeof data === "string") {
      if (s.chain === null) {
        const [frame, n] = encodeTextFrame(data);
        return sendFrame(s, frame, n);
      }
      return enqueue(s, () => {
        const [frame, n] = encodeTextFrame(data);
        sendFrame(s, frame, n, true);
      });
    }
    if (data instanceof Blob) {
      const size = data.size;
      s.buffered += size;
      return enqueue(s, async () => {
        const bytes = new Uint8Array(await data.arrayBuffer());
        s.buffered -= size;
        sendBytes(s, bytes, true);
      });
    }
    const bytes = toBytes(data as BufferSource);
    if (s.chain === null) return sendBytes(s, bytes);
    const copy = bytes.slice();
    enqueue(s, () => sendBytes(s, copy, true));
  }

  /**
   * Starts the closing handshake: sends a close frame and waits for the
   * peer's (at most 5 s). Does nothing once closing.
   *
   * @param code The status code: 1000–1003, 1007–1014 or 3000–4999; none
   * by default (1000 when a reason is given).
   * @param reason The reason, at most 123 bytes of UTF-8.
   * @throws {DOMException} `InvalidAccessError` for another code,
   * `SyntaxError` for a longer reason.
   */
  close(code?: number, reason?: string): void {
    if (code !== undefined && !isValidCloseCode(code)) {
      throw new DOMException(
        `The close code must be 1000-1003, 1007-1014 or 3000-4999, received ${code}`,
        "InvalidAccessError",
      );
    }
    const text = reason === undefined ? "" : String(reason);
    if (new TextEncoder().encode(text).length > 123) {
      throw new DOMException(
        "The close reason may not be longer than 123 bytes",
        "SyntaxError",
      );
    }
    if (code === undefined && text !== "") code = 1000;
    const s = this.#s;
    if (s.state === CONNECTING) {
      s.state = CLOSING_STATE;
      s.pendingClose = [code, text];
    } else if (s.state === OPEN) {
      if (s.chain === null) return startClose(s, code, text);
      // After the sends that wait behind a Blob; later ones are dropped.
      s.state = CLOSING_STATE;
      enqueue(s, () => {
        if (!s.closeSent && !s.ended) startClose(s, code, text);
      });
    }
  }

  /** Called on `open`. */
  get onopen(): Handler<Event> {
    return ServerWebSocket.#get(this, "open");
  }
  set onopen(fn: Handler<Event>) {
    ServerWebSocket.#set(this, "open", fn);
  }
  /** Called on `message`. */
  get onmessage(): Handler<MessageEvent> {
    return ServerWebSocket.#get(this, "message");
  }
  set onmessage(fn: Handler<MessageEvent>) {
    ServerWebSocket.#set(this, "message", fn as Handler<Event>);
  }
  /** Called on `error`. */
  get onerror(): Handler<Event | ErrorEvent> {
    return ServerWebSocket.#get(this, "error");
  }
  set onerror(fn: Handler<Event | ErrorEvent>) {
    ServerWebSocket.#set(this, "error", fn as Handler<Event>);
  }
  /** Called on `close`. */
  get onclose(): Handler<CloseEvent> {
    return ServerWebSocket.#get(this, "close");
  }
  set onclose(fn: Handler<CloseEvent>) {
    ServerWebSocket.#set(this, "close", fn as Handler<Event>);
  }

  static #get<E extends Event>(w: ServerWebSocket, type: string): Handler<E> {
    return (w.#handlers?.[type] ?? null) as Handler<E>;
  }

  static #set(w: ServerWebSocket, type: string, fn: Handler<Event>): void {
    const handlers = w.#handlers ??= {};
    if (!(type in handlers)) {
      // One listener per type, added when the attribute is first set; it
      // calls whatever the attribute holds then.
      w.addEventListener(type, (event) => {
        const handler = w.#handlers![type];
        if (typeof handler === "function") {
          handler.call(w as unknown as WebSocket, event);
        }
      });
    }
    handlers[type] = typeof fn === "function" ? fn : null;
  }
}
