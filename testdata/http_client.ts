// Copyright 2026 the Reaper authors. MIT license.
// A raw HTTP/1.1 client's reads, shared by the server tests.

const decoder = new TextDecoder();

/** Reads one HTTP response with a Content-Length body (or until EOF). */
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
