// Copyright 2026 the Reaper authors. MIT license.
// A raw WebSocket client over `Deno.connect`, for the tests that need what
// no real client sends: unmasked or malformed frames, a client that never
// answers a ping, one that never reads.

import { BufferedConn } from "./buffered_conn.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The key of RFC 6455 §1.3 and its accept value. */
export const SAMPLE_KEY = "dGhlIHNhbXBsZSBub25jZQ==";
/** The `Sec-WebSocket-Accept` for {@linkcode SAMPLE_KEY}. */
export const SAMPLE_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/** A frame as the server sent it. */
export interface Frame {
  fin: boolean;
  opcode: number;
  payload: Uint8Array;
}

/** How to send a frame. */
export interface SendOptions {
  fin?: boolean;
  rsv?: number;
  mask?: boolean;
}

/** The request head of a handshake, with `extra` fields. */
export function handshake(extra = "", key = SAMPLE_KEY): string {
  return "GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n" +
    "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
    `Sec-WebSocket-Key: ${key}\r\n${extra}\r\n`;
}

/** One raw client connection. */
export class RawClient extends BufferedConn<Deno.TcpConn>
  implements AsyncDisposable {
  /**
   * Connects and sends `head` (by default a valid handshake).
   *
   * @returns The client and the response head.
   */
  static async open(
    port: number,
    head: string = handshake(),
  ): Promise<{ client: RawClient; head: string }> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const client = new RawClient(conn);
    await client.write(encoder.encode(head));
    return { client, head: await client.readHead() };
  }

  /** Reads a response head; `""` at EOF. */
  async readHead(): Promise<string> {
    for (;;) {
      const text = decoder.decode(this.buf);
      const end = text.indexOf("\r\n\r\n");
      if (end !== -1) {
        this.buf = this.buf.subarray(end + 4);
        return text.slice(0, end + 4);
      }
      if (!await this.more()) return "";
    }
  }

  /** Reads the rest until EOF, as text. */
  async readToEnd(): Promise<string> {
    while (await this.more());
    return decoder.decode(this.buf);
  }

  /** Reads one frame from the server; `null` at EOF. */
  async readFrame(): Promise<Frame | null> {
    for (;;) {
      const b = this.buf;
      if (b.length >= 2) {
        let length = b[1] & 0x7f;
        let size = 2;
        if (length === 126 && b.length >= 4) {
          length = (b[2] << 8) | b[3];
          size = 4;
        } else if (length === 127 && b.length >= 10) {
          length = Number(new DataView(b.buffer, b.byteOffset + 2, 8)
            .getBigUint64(0));
          size = 10;
        } else if (length >= 126) size = -1;
        if (size > 0 && b.length >= size + length) {
          this.buf = b.subarray(size + length);
          return {
            fin: (b[0] & 0x80) !== 0,
            opcode: b[0] & 0x0f,
            payload: b.slice(size, size + length),
          };
        }
      }
      if (!await this.more()) return null;
    }
  }

  /** Reads frames until a close frame; its code (1005: none) and reason. */
  async readClose(): Promise<{ code: number; reason: string; seen: number[] }> {
    const seen: number[] = [];
    for (;;) {
      const frame = await this.readFrame();
      if (frame === null) return { code: 1006, reason: "", seen };
      seen.push(frame.opcode);
      if (frame.opcode === 8) {
        const p = frame.payload;
        return p.length < 2 ? { code: 1005, reason: "", seen } : {
          code: (p[0] << 8) | p[1],
          reason: decoder.decode(p.subarray(2)),
          seen,
        };
      }
    }
  }

  /** Whether the server closed the connection (EOF after what is buffered). */
  async eof(): Promise<boolean> {
    while (await this.more());
    return this.ended;
  }

  /** Sends a frame, masked unless told otherwise. */
  send(
    opcode: number,
    payload: Uint8Array | string,
    options: SendOptions = {},
  ): Promise<void> {
    return this.write(frame(opcode, payload, options));
  }

  /** Sends a close frame with `code` (none when `undefined`). */
  sendClose(code?: number, reason = ""): Promise<void> {
    if (code === undefined) return this.send(8, new Uint8Array(0));
    const text = encoder.encode(reason);
    const payload = new Uint8Array(2 + text.length);
    payload[0] = code >> 8;
    payload[1] = code & 0xff;
    payload.set(text, 2);
    return this.send(8, payload);
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}

/** A client frame. */
export function frame(
  opcode: number,
  payload: Uint8Array | string,
  { fin = true, rsv = 0, mask = true }: SendOptions = {},
): Uint8Array {
  const data = typeof payload === "string" ? encoder.encode(payload) : payload;
  const size = data.length < 126 ? 2 : data.length < 65536 ? 4 : 10;
  const out = new Uint8Array(size + (mask ? 4 : 0) + data.length);
  out[0] = (fin ? 0x80 : 0) | (rsv << 4) | opcode;
  const m = mask ? 0x80 : 0;
  if (size === 2) out[1] = m | data.length;
  else if (size === 4) {
    out[1] = m | 126;
    out[2] = data.length >> 8;
    out[3] = data.length & 0xff;
  } else {
    out[1] = m | 127;
    new DataView(out.buffer).setBigUint64(2, BigInt(data.length));
  }
  const key = [0x37, 0xfa, 0x21, 0x3d];
  let p = size;
  if (mask) {
    out.set(key, p);
    p += 4;
  }
  for (let i = 0; i < data.length; i++) {
    out[p + i] = mask ? data[i] ^ key[i & 3] : data[i];
  }
  return out;
}
