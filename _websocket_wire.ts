// Copyright 2026 the Reaper authors. MIT license.
/**
 * The pure wire helpers of the WebSocket protocol (RFC 6455), server side:
 * the handshake's accept key (SHA-1, computed here, synchronously, because
 * `upgradeWebSocket()` must return its response at once), the frame header
 * parser and its checks, unmasking, and the encoders of the frames a server
 * sends (unmasked, never fragmented). No I/O; `_websocket.ts` drives them.
 *
 * @module
 */

/** The GUID that RFC 6455 §1.3 appends to the key. */
const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** Continuation frame. */
export const OP_CONTINUATION = 0x0;
/** Text frame. */
export const OP_TEXT = 0x1;
/** Binary frame. */
export const OP_BINARY = 0x2;
/** Close frame. */
export const OP_CLOSE = 0x8;
/** Ping frame. */
export const OP_PING = 0x9;
/** Pong frame. */
export const OP_PONG = 0xa;

const sha1Words = new Int32Array(80);

/**
 * The SHA-1 digest of `data` (FIPS 180-4). Used for the handshake only,
 * where no secrecy is involved.
 *
 * @param data The message.
 * @returns The 20-byte digest.
 */
export function sha1(data: Uint8Array): Uint8Array {
  const length = data.length;
  const padded = ((length + 8) >> 6 << 6) + 64;
  const m = new Uint8Array(padded);
  m.set(data);
  m[length] = 0x80;
  const view = new DataView(m.buffer);
  view.setUint32(padded - 8, Math.floor(length / 0x20000000));
  view.setUint32(padded - 4, (length * 8) >>> 0);
  let h0 = 0x67452301, h1 = 0xefcdab89 | 0, h2 = 0x98badcfe | 0;
  let h3 = 0x10325476, h4 = 0xc3d2e1f0 | 0;
  const w = sha1Words;
  for (let offset = 0; offset < padded; offset += 64) {
    for (let i = 0; i < 16; i++) w[i] = view.getInt32(offset + i * 4);
    for (let i = 16; i < 80; i++) {
      const x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16];
      w[i] = (x << 1) | (x >>> 31);
    }
    let a = h0, b = h1, c = h2, d = h3, e = h4;
    for (let i = 0; i < 80; i++) {
      let f: number, k: number;
      if (i < 20) {
        f = (b & c) | (~b & d);
        k = 0x5a827999;
      } else if (i < 40) {
        f = b ^ c ^ d;
        k = 0x6ed9eba1;
      } else if (i < 60) {
        f = (b & c) | (b & d) | (c & d);
        k = 0x8f1bbcdc | 0;
      } else {
        f = b ^ c ^ d;
        k = 0xca62c1d6 | 0;
      }
      const t = (((a << 5) | (a >>> 27)) + f + e + k + w[i]) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = t;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
  }
  const out = new Uint8Array(20);
  const o = new DataView(out.buffer);
  o.setInt32(0, h0);
  o.setInt32(4, h1);
  o.setInt32(8, h2);
  o.setInt32(12, h3);
  o.setInt32(16, h4);
  return out;
}

const encoder = new TextEncoder();

/**
 * The `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key` (RFC 6455
 * §4.2.2): base64 of the SHA-1 of the key and the GUID.
 *
 * @param key The client's key, as sent.
 * @returns The accept value.
 */
export function acceptKey(key: string): string {
  return btoa(String.fromCharCode(...sha1(encoder.encode(key + GUID))));
}

/**
 * Whether `key` is a valid `Sec-WebSocket-Key`: base64 of 16 bytes
 * (RFC 6455 §4.1).
 *
 * @param key The field value.
 * @returns Whether it is 22 base64 characters and `==`.
 */
export function isValidKey(key: string): boolean {
  return /^[A-Za-z0-9+/]{22}==$/.test(key);
}

/** The parsed header of one frame; {@linkcode parseFrameHeader} fills it. */
export interface FrameHeader {
  /** The FIN bit. */
  fin: boolean;
  /** The RSV1–3 bits, as a number 0–7. */
  rsv: number;
  /** The opcode. */
  opcode: number;
  /** Whether the frame is masked. */
  masked: boolean;
  /** The payload length, in bytes. */
  length: number;
  /** The masking key as one big-endian 32-bit number. */
  mask: number;
}

/** {@linkcode parseFrameHeader}: the 64-bit length has its top bit set. */
export const BAD_LENGTH = -1;

/**
 * Parses a frame header from `buf[start, end)` into `out`.
 *
 * @param buf The buffer.
 * @param start Where the frame starts.
 * @param end The end of the buffered bytes.
 * @param out Where to store the header.
 * @returns The header's length in bytes (2 to 14), `0` when more bytes are
 * needed, or {@linkcode BAD_LENGTH}. A length beyond 2^53 is stored as
 * `Infinity` (no message is that large).
 */
export function parseFrameHeader(
  buf: Uint8Array,
  start: number,
  end: number,
  out: FrameHeader,
): number {
  if (end - start < 2) return 0;
  const b0 = buf[start];
  const b1 = buf[start + 1];
  const masked = (b1 & 0x80) !== 0;
  let length = b1 & 0x7f;
  let size = 2;
  if (length === 126) {
    if (end - start < 4) return 0;
    length = (buf[start + 2] << 8) | buf[start + 3];
    size = 4;
  } else if (length === 127) {
    if (end - start < 10) return 0;
    const high = (buf[start + 2] << 24 | buf[start + 3] << 16 |
      buf[start + 4] << 8 | buf[start + 5]) >>> 0;
    if (high >= 0x80000000) return BAD_LENGTH;
    const low = (buf[start + 6] << 24 | buf[start + 7] << 16 |
      buf[start + 8] << 8 | buf[start + 9]) >>> 0;
    length = high >= 0x200000 ? Infinity : high * 0x100000000 + low;
    size = 10;
  }
  if (masked) {
    if (end - start < size + 4) return 0;
    out.mask = (buf[start + size] << 24 | buf[start + size + 1] << 16 |
      buf[start + size + 2] << 8 | buf[start + size + 3]) >>> 0;
    size += 4;
  } else out.mask = 0;
  out.fin = (b0 & 0x80) !== 0;
  out.rsv = (b0 >> 4) & 7;
  out.opcode = b0 & 0x0f;
  out.masked = masked;
  out.length = length;
  return size;
}

/**
 * What is wrong with a client frame (RFC 6455 §5), in the words of the
 * close reason; `null` when nothing is. Every such fault closes with
 * `1002`. Message sizes are checked by the caller.
 *
 * @param h The frame's header.
 * @param inMessage Whether a fragmented message is in progress.
 * @returns The fault, or `null`.
 */
export function frameFault(h: FrameHeader, inMessage: boolean): string | null {
  if (h.rsv !== 0) return "Reserved bits set";
  if (!h.masked) return "Unmasked client frame";
  const op = h.opcode;
  if (op >= 8) {
    if (op > OP_PONG) return "Reserved opcode";
    if (!h.fin) return "Fragmented control frame";
    if (h.length > 125) return "Control frame too long";
    return null;
  }
  if (op > OP_BINARY) return "Reserved opcode";
  if (op === OP_CONTINUATION) {
    return inMessage ? null : "Continuation without a message";
  }
  return inMessage ? "Expected a continuation frame" : null;
}

/**
 * Copies `length` bytes from `src` at `from` into `dst` at `to`, unmasking
 * them with `mask` (a big-endian 32-bit key) starting at key byte `phase`.
 *
 * @param src The masked bytes.
 * @param from Where they start.
 * @param length How many.
 * @param dst Where to put the unmasked bytes.
 * @param to Where in `dst`.
 * @param mask The masking key.
 * @param phase The key byte the first byte is masked with (0–3).
 */
export function unmask(
  src: Uint8Array,
  from: number,
  length: number,
  dst: Uint8Array,
  to: number,
  mask: number,
  phase: number,
): void {
  const k0 = mask >>> 24, k1 = (mask >>> 16) & 0xff;
  const k2 = (mask >>> 8) & 0xff, k3 = mask & 0xff;
  const keys = [k0, k1, k2, k3];
  let i = 0;
  // Bring the key to phase 0, then four bytes a step.
  while (i < length && ((phase + i) & 3) !== 0) {
    dst[to + i] = src[from + i] ^ keys[(phase + i) & 3];
    i++;
  }
  for (; i + 4 <= length; i += 4) {
    dst[to + i] = src[from + i] ^ k0;
    dst[to + i + 1] = src[from + i + 1] ^ k1;
    dst[to + i + 2] = src[from + i + 2] ^ k2;
    dst[to + i + 3] = src[from + i + 3] ^ k3;
  }
  for (; i < length; i++) dst[to + i] = src[from + i] ^ keys[(phase + i) & 3];
}

/** The length of the header of an unmasked frame with `length` bytes. */
function headerSize(length: number): number {
  return length < 126 ? 2 : length < 0x10000 ? 4 : 10;
}

/** Writes an unmasked FIN frame header ending at `end`; returns its start. */
function putHeader(
  out: Uint8Array,
  end: number,
  opcode: number,
  length: number,
): number {
  const start = end - headerSize(length);
  out[start] = 0x80 | opcode;
  if (length < 126) out[start + 1] = length;
  else if (length < 0x10000) {
    out[start + 1] = 126;
    out[start + 2] = length >> 8;
    out[start + 3] = length & 0xff;
  } else {
    out[start + 1] = 127;
    const high = Math.floor(length / 0x100000000);
    const low = length >>> 0;
    out[start + 2] = high >>> 24;
    out[start + 3] = (high >>> 16) & 0xff;
    out[start + 4] = (high >>> 8) & 0xff;
    out[start + 5] = high & 0xff;
    out[start + 6] = low >>> 24;
    out[start + 7] = (low >>> 16) & 0xff;
    out[start + 8] = (low >>> 8) & 0xff;
    out[start + 9] = low & 0xff;
  }
  return start;
}

/**
 * An unmasked, unfragmented frame carrying `payload`.
 *
 * @param opcode The frame's opcode.
 * @param payload Its payload.
 * @returns The frame's bytes.
 */
export function encodeFrame(opcode: number, payload: Uint8Array): Uint8Array {
  const size = headerSize(payload.length);
  const out = new Uint8Array(size + payload.length);
  putHeader(out, size, opcode, payload.length);
  out.set(payload, size);
  return out;
}

/** Strings up to this many UTF-16 units are encoded straight into the frame. */
const DIRECT_TEXT = 8192;

/**
 * A text frame carrying `text`, encoded as UTF-8. Short strings are
 * encoded straight into the frame's buffer (one allocation, no copy).
 *
 * @param text The message.
 * @returns The frame's bytes, and the payload's length.
 */
export function encodeTextFrame(text: string): [Uint8Array, number] {
  if (text.length > DIRECT_TEXT) {
    const payload = encoder.encode(text);
    return [encodeFrame(OP_TEXT, payload), payload.length];
  }
  // The payload goes at offset 10; the header is put right before it.
  const out = new Uint8Array(10 + text.length * 3);
  const { written } = encoder.encodeInto(text, out.subarray(10));
  const start = putHeader(out, 10, OP_TEXT, written);
  return [out.subarray(start, 10 + written), written];
}

/**
 * A close frame (RFC 6455 §5.5.1).
 *
 * @param code The status code, or `undefined` for a close frame without
 * one.
 * @param reason The reason (at most 123 bytes of UTF-8).
 * @returns The frame's bytes.
 */
export function encodeClose(code?: number, reason = ""): Uint8Array {
  if (code === undefined) return encodeFrame(OP_CLOSE, new Uint8Array(0));
  const text = encoder.encode(reason);
  const payload = new Uint8Array(2 + text.length);
  payload[0] = code >> 8;
  payload[1] = code & 0xff;
  payload.set(text, 2);
  return encodeFrame(OP_CLOSE, payload);
}

/**
 * Whether a peer may send `code` in a close frame (RFC 6455 §7.4): the
 * defined codes other than 1004–1006 and 1015, and 3000–4999.
 *
 * @param code The status code received.
 * @returns Whether it is valid on the wire.
 */
export function isValidCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
    (code >= 3000 && code <= 4999);
}
