// Copyright 2026 the Reaper authors. MIT license.
/**
 * HTTP/1.1 wire helpers for the portable engine: a request-head parser that
 * scans bytes (RFC 9112 §2–§7, strict about framing), a chunk-size parser, a
 * cached `Date` value and the response-head encoder.
 *
 * @module
 */

const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;
const COLON = 58;

/** A byte table: 1 for ASCII letters, digits and the bytes of `extra`. */
function byteTable(extra: string): Uint8Array {
  const t = new Uint8Array(256);
  for (let c = 0x30; c <= 0x39; c++) t[c] = 1;
  for (let c = 0x41; c <= 0x5a; c++) t[c] = 1;
  for (let c = 0x61; c <= 0x7a; c++) t[c] = 1;
  for (const ch of extra) t[ch.charCodeAt(0)] = 1;
  return t;
}

/** Bytes allowed in a token (RFC 9110 §5.6.2). */
const TCHAR: Uint8Array = byteTable("!#$%&'*+-.^_`|~");

/** Bytes allowed in a Host value: unreserved, sub-delims, ":", "[", "]", "%". */
const HOSTCHAR: Uint8Array = byteTable("-._~!$&'()*+,;=:[]%");

/** Parse outcome: an HTTP/2 prior-knowledge preface; close without answer. */
export const H2_PREFACE = 1;

/** A parsed and validated request head. */
export interface RequestHead {
  /** The method, as sent. */
  method: string;
  /** The request-target, as sent. */
  target: string;
  /** The minor version: `0` for HTTP/1.0, `1` for HTTP/1.1. */
  minor: number;
  /** Field names and values, flat: `[name0, value0, name1, value1, …]`. */
  fields: string[];
  /** The Host value, or `null` when none was sent. */
  host: string | null;
  /** The Content-Length, or `-1` when none was sent. */
  contentLength: number;
  /** Whether the body is chunked. */
  chunked: boolean;
  /** `Connection: close` was sent. */
  close: boolean;
  /** `Connection: keep-alive` was sent. */
  keepAlive: boolean;
  /** `Connection: upgrade` was sent (a WebSocket handshake, perhaps). */
  upgrade: boolean;
  /** `Expect: 100-continue` was sent (HTTP/1.1 only). */
  expectContinue: boolean;
}

/**
 * Finds the end of a request head: the index just past the LF that ends the
 * empty line, or `-1`. Scans only `[from, end)` so that a head arriving a
 * byte at a time costs linear time; bare LF line ends are found too (and
 * rejected later by {@linkcode parseHead}).
 *
 * @param buf The buffer.
 * @param start Where the head starts.
 * @param from Where to resume scanning (`>= start`).
 * @param end The end of the buffered bytes.
 * @returns The end of the head, or `-1`.
 */
export function findHeadEnd(
  buf: Uint8Array,
  start: number,
  from: number,
  end: number,
): number {
  let p = from;
  while (p < end) {
    const lf = buf.indexOf(LF, p);
    if (lf === -1 || lf >= end) return -1;
    if (lf > start) {
      const b = buf[lf - 1];
      if (b === LF) return lf + 1;
      if (b === CR && lf - 2 >= start && buf[lf - 2] === LF) return lf + 1;
    }
    p = lf + 1;
  }
  return -1;
}

const asciiDecoder = new TextDecoder();

function latin1(buf: Uint8Array, start: number, end: number, ascii: boolean) {
  if (ascii) return asciiDecoder.decode(buf.subarray(start, end));
  let s = "";
  for (let i = start; i < end; i += 4096) {
    s += String.fromCharCode.apply(
      null,
      buf.subarray(i, Math.min(end, i + 4096)) as unknown as number[],
    );
  }
  return s;
}

// Offsets of the fields of the head being parsed (parsing is synchronous).
const offsets: number[] = [];

function isHttp2Preface(buf: Uint8Array, s: number, e: number): boolean {
  const want = "PRI * HTTP/2.0\r\n";
  if (e - s < want.length) return false;
  for (let i = 0; i < want.length; i++) {
    if (buf[s + i] !== want.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * Parses a complete request head `[start, end)` (as found by
 * {@linkcode findHeadEnd}).
 *
 * @param buf The buffer.
 * @param start The first byte of the request line.
 * @param end Just past the LF of the empty line.
 * @param targetLimit The longest request-target accepted, in bytes.
 * @returns The head, {@linkcode H2_PREFACE}, or an HTTP status code for the
 * error answer (400, 414, 501, 505).
 */
export function parseHead(
  buf: Uint8Array,
  start: number,
  end: number,
  targetLimit: number,
): RequestHead | number {
  let p = start;
  let ascii = true;
  // Method.
  while (TCHAR[buf[p]] === 1) p++;
  const methodEnd = p;
  if (p === start || buf[p] !== SP) return 400;
  // Request-target: visible ASCII.
  const targetStart = ++p;
  while (p < end) {
    const c = buf[p];
    if (c <= SP || c >= 0x7f) break;
    p++;
  }
  const targetEnd = p;
  if (p === targetStart || buf[p] !== SP) {
    return p - targetStart > targetLimit ? 414 : 400;
  }
  if (targetEnd - targetStart > targetLimit) return 414;
  p++;
  // HTTP-version = "HTTP/" DIGIT "." DIGIT, then CRLF.
  if (
    end - p < 10 || buf[p] !== 0x48 || buf[p + 1] !== 0x54 ||
    buf[p + 2] !== 0x54 || buf[p + 3] !== 0x50 || buf[p + 4] !== 0x2f ||
    buf[p + 6] !== 0x2e
  ) return 400;
  const major = buf[p + 5] - 0x30;
  const minorDigit = buf[p + 7] - 0x30;
  if (major < 0 || major > 9 || minorDigit < 0 || minorDigit > 9) return 400;
  if (buf[p + 8] !== CR || buf[p + 9] !== LF) return 400;
  if (major === 2 && minorDigit === 0 && isHttp2Preface(buf, start, end)) {
    return H2_PREFACE;
  }
  if (major !== 1 || minorDigit > 1) return 505;
  p += 10;
  // Fields.
  offsets.length = 0;
  for (;;) {
    if (p >= end) return 400;
    const c0 = buf[p];
    if (c0 === CR) {
      if (p + 2 === end && buf[p + 1] === LF) break;
      return 400;
    }
    // obs-fold, or whitespace before the first field.
    if (c0 === SP || c0 === HTAB) return 400;
    const nameStart = p;
    while (TCHAR[buf[p]] === 1) p++;
    if (p === nameStart || buf[p] !== COLON) return 400;
    const nameEnd = p++;
    while (buf[p] === SP || buf[p] === HTAB) p++;
    const valueStart = p;
    for (;;) {
      const c = buf[p];
      if (c === CR) break;
      if ((c < SP && c !== HTAB) || c === 0x7f) return 400;
      if (c > 0x7f) ascii = false;
      p++;
    }
    if (buf[p + 1] !== LF) return 400;
    let valueEnd = p;
    while (
      valueEnd > valueStart &&
      (buf[valueEnd - 1] === SP || buf[valueEnd - 1] === HTAB)
    ) valueEnd--;
    offsets.push(nameStart, nameEnd, valueStart, valueEnd);
    p += 2;
  }
  // Decode the head once; slicing it is cheap.
  const text = latin1(buf, start, end, ascii);
  const head: RequestHead = {
    method: text.slice(0, methodEnd - start),
    target: text.slice(targetStart - start, targetEnd - start),
    minor: minorDigit,
    fields: new Array(offsets.length >> 1),
    host: null,
    contentLength: -1,
    chunked: false,
    close: false,
    keepAlive: false,
    upgrade: false,
    expectContinue: false,
  };
  let hosts = 0;
  let te: string | null = null;
  for (let i = 0, j = 0; i < offsets.length; i += 4, j += 2) {
    const name = text.slice(offsets[i] - start, offsets[i + 1] - start);
    const value = text.slice(offsets[i + 2] - start, offsets[i + 3] - start);
    head.fields[j] = name;
    head.fields[j + 1] = value;
    switch (name.length) {
      case 4:
        if (name.toLowerCase() === "host") {
          if (++hosts > 1) return 400;
          for (let k = offsets[i + 2]; k < offsets[i + 3]; k++) {
            if (HOSTCHAR[buf[k]] !== 1) return 400;
          }
          head.host = value;
        }
        break;
      case 6:
        if (
          name.toLowerCase() === "expect" &&
          value.toLowerCase() === "100-continue" && minorDigit === 1
        ) head.expectContinue = true;
        break;
      case 10:
        if (name.toLowerCase() === "connection") {
          for (const token of value.toLowerCase().split(",")) {
            const t = token.trim();
            if (t === "close") head.close = true;
            else if (t === "keep-alive") head.keepAlive = true;
            else if (t === "upgrade") head.upgrade = true;
          }
        }
        break;
      case 14:
        if (name.toLowerCase() === "content-length") {
          const n = parseContentLength(value);
          if (n < 0) return 400;
          if (head.contentLength !== -1 && head.contentLength !== n) {
            return 400;
          }
          head.contentLength = n;
        }
        break;
      case 17:
        if (name.toLowerCase() === "transfer-encoding") {
          te = te === null ? value : te + "," + value;
        }
        break;
    }
  }
  if (te !== null) {
    // RFC 9112 §6.1, §6.3: TE with CL, or in HTTP/1.0, is faulty framing;
    // chunked must be last and appear once.
    if (head.contentLength !== -1 || minorDigit === 0) return 400;
    const codings = te.toLowerCase().split(",");
    for (let k = 0; k < codings.length; k++) {
      const c = codings[k].trim();
      if (c === "") return 400;
      if (c === "chunked" && k !== codings.length - 1) return 400;
      codings[k] = c;
    }
    if (codings[codings.length - 1] !== "chunked") return 400;
    if (codings.length !== 1) return 501;
    head.chunked = true;
  }
  if (minorDigit === 1 && hosts === 0) return 400;
  return head;
}

/**
 * Parses a Content-Length value: digits, or a list of identical digit
 * strings (RFC 9110 §8.6).
 *
 * @param value The field value.
 * @returns The length, or `-1` when invalid.
 */
export function parseContentLength(value: string): number {
  let result = -1;
  for (const part of value.split(",")) {
    const s = part.trim();
    if (s.length === 0 || s.length > 15) return -1;
    let n = 0;
    for (let i = 0; i < s.length; i++) {
      const d = s.charCodeAt(i) - 0x30;
      if (d < 0 || d > 9) return -1;
      n = n * 10 + d;
    }
    if (result !== -1 && result !== n) return -1;
    result = n;
  }
  return result;
}

/**
 * Parses a chunk-size line `[start, lf)` where `buf[lf]` is its LF: hex
 * digits, optional chunk extensions (ignored), CRLF.
 *
 * @param buf The buffer.
 * @param start The first byte of the line.
 * @param lf The index of the line's LF.
 * @returns The chunk size, or `-1` when the line is invalid.
 */
export function parseChunkSize(
  buf: Uint8Array,
  start: number,
  lf: number,
): number {
  if (lf - 1 < start || buf[lf - 1] !== CR) return -1;
  const end = lf - 1;
  let p = start;
  let n = 0;
  while (p < end) {
    const c = buf[p];
    let d: number;
    if (c >= 0x30 && c <= 0x39) d = c - 0x30;
    else if (c >= 0x61 && c <= 0x66) d = c - 0x57;
    else if (c >= 0x41 && c <= 0x46) d = c - 0x37;
    else break;
    n = n * 16 + d;
    p++;
  }
  // At least one digit; at most 13 (2^52) so the size stays exact.
  if (p === start || p - start > 13) return -1;
  if (p < end) {
    while (p < end && (buf[p] === SP || buf[p] === HTAB)) p++;
    if (buf[p] !== 0x3b) return -1; // ";"
    for (; p < end; p++) {
      const c = buf[p];
      if ((c < SP && c !== HTAB) || c === 0x7f) return -1;
    }
  }
  return n;
}

/**
 * Checks a trailer line `[start, lf)`: it must end with CRLF and hold no
 * control characters other than HTAB.
 *
 * @param buf The buffer.
 * @param start The first byte of the line.
 * @param lf The index of the line's LF.
 * @returns Whether the line is acceptable.
 */
export function isValidTrailerLine(
  buf: Uint8Array,
  start: number,
  lf: number,
): boolean {
  if (lf - 1 < start || buf[lf - 1] !== CR) return false;
  if (buf[start] === SP || buf[start] === HTAB) return false;
  for (let p = start; p < lf - 1; p++) {
    const c = buf[p];
    if ((c < SP && c !== HTAB) || c === 0x7f) return false;
  }
  return true;
}

let dateValue = "";
let dateExpires = 0;

/**
 * The current time as an IMF-fixdate, recomputed at most once a second.
 *
 * @returns The `Date` header value.
 */
export function httpDate(): string {
  const now = Date.now();
  if (now >= dateExpires) {
    dateValue = new Date(now).toUTCString();
    dateExpires = now - (now % 1000) + 1000;
  }
  return dateValue;
}

/** Reason phrases of the status codes a server commonly sends. */
export const STATUS_TEXT: Record<number, string> = {
  100: "Continue",
  101: "Switching Protocols",
  200: "OK",
  201: "Created",
  202: "Accepted",
  203: "Non-Authoritative Information",
  204: "No Content",
  205: "Reset Content",
  206: "Partial Content",
  300: "Multiple Choices",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  402: "Payment Required",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  407: "Proxy Authentication Required",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  411: "Length Required",
  412: "Precondition Failed",
  413: "Content Too Large",
  414: "URI Too Long",
  415: "Unsupported Media Type",
  416: "Range Not Satisfiable",
  417: "Expectation Failed",
  418: "I'm a teapot",
  421: "Misdirected Request",
  422: "Unprocessable Content",
  425: "Too Early",
  426: "Upgrade Required",
  428: "Precondition Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  451: "Unavailable For Legal Reasons",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
};

const encoder = new TextEncoder();

/**
 * Encodes a response head (a string of code units <= 0xff) followed by an
 * optional body into one new buffer, leaving `extra` spare bytes at the end.
 *
 * @param head The head, ending with the empty line.
 * @param body The body, or `null`.
 * @param extra Spare bytes to allocate after the body.
 * @returns The bytes.
 */
export function encodeHead(
  head: string,
  body: Uint8Array | null,
  extra = 0,
): Uint8Array {
  const bodyLength = body === null ? 0 : body.length;
  const out = new Uint8Array(head.length + bodyLength + extra);
  const { read, written } = encoder.encodeInto(head, out);
  if (read !== head.length || written !== head.length) {
    // Non-ASCII field values are bytes (latin-1), not UTF-8.
    for (let i = 0; i < head.length; i++) out[i] = head.charCodeAt(i);
  }
  if (body !== null) out.set(body, head.length);
  return out;
}

/**
 * Encodes a response head (a string of code units <= 0xff) followed by an
 * optional body into `target`, which must hold `head.length` plus the body.
 *
 * @param target Where to write.
 * @param head The head, ending with the empty line.
 * @param body The body, or `null`.
 * @returns The number of bytes written.
 */
export function encodeHeadInto(
  target: Uint8Array,
  head: string,
  body: Uint8Array | null,
): number {
  const { read, written } = encoder.encodeInto(head, target);
  if (read !== head.length || written !== head.length) {
    for (let i = 0; i < head.length; i++) target[i] = head.charCodeAt(i);
  }
  if (body === null) return head.length;
  target.set(body, head.length);
  return head.length + body.length;
}

/**
 * A complete, body-less error response that closes the connection.
 *
 * @param status The status code.
 * @returns The bytes.
 */
export function errorResponse(status: number): Uint8Array {
  return encodeHead(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? ""}\r\n` +
      `date: ${httpDate()}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`,
    null,
  );
}
