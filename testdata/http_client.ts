// Copyright 2026 the Reaper authors. MIT license.
// A raw HTTP/1.1 client's reads, shared by the server tests.

const decoder = new TextDecoder();

/**
 * Reads one HTTP response: its head, then as many body bytes as its
 * `Content-Length` says (none without one), or what came before EOF.
 */
export async function readResponse(conn: Deno.Conn): Promise<string> {
  let text = "";
  const buf = new Uint8Array(4096);
  while (true) {
    const end = text.indexOf("\r\n\r\n");
    if (end !== -1) {
      const length = Number(/content-length: *(\d+)/i.exec(text)?.[1] ?? 0);
      if (text.length >= end + 4 + length) return text;
    }
    const n = await conn.read(buf);
    if (n === null) return text;
    text += decoder.decode(buf.subarray(0, n));
  }
}

/** What a connection gave until its end. */
export interface ReadToEnd {
  /** Everything read, decoded as UTF-8. */
  text: string;
  /** How many bytes were read. */
  length: number;
  /** Whether the end was a reset (or another read error) rather than EOF. */
  reset: boolean;
}

/** Reads from `conn` until EOF or a reset. */
export async function readToEnd(conn: Deno.Conn): Promise<ReadToEnd> {
  const stream = new TextDecoder();
  const buf = new Uint8Array(65536);
  let text = "";
  let length = 0;
  let reset = false;
  while (true) {
    let n: number | null;
    try {
      n = await conn.read(buf);
    } catch {
      reset = true;
      break;
    }
    if (n === null) break;
    length += n;
    text += stream.decode(buf.subarray(0, n), { stream: true });
  }
  return { text: text + stream.decode(), length, reset };
}
