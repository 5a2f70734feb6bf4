// Copyright 2026 the Reaper authors. MIT license.
// The byte buffer under the tests' raw clients: what was read from a
// connection and not consumed yet, grown one read at a time.

/** A connection with a read buffer, for raw test clients to parse from. */
export class BufferedConn<C extends Deno.Conn = Deno.Conn> {
  readonly conn: C;
  /** What was read and not consumed yet. */
  buf: Uint8Array = new Uint8Array(0);
  /** Whether the stream ended (EOF, or a reset). */
  ended = false;

  constructor(conn: C) {
    this.conn = conn;
  }

  /** Writes all of `bytes`. */
  async write(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) {
      offset += await this.conn.write(bytes.subarray(offset));
    }
  }

  /** Reads more bytes into `buf`; `false` at the end of the stream. */
  async more(): Promise<boolean> {
    if (this.ended) return false;
    const chunk = new Uint8Array(65536);
    let n: number | null;
    try {
      n = await this.conn.read(chunk);
    } catch {
      n = null;
    }
    if (n === null) {
      this.ended = true;
      return false;
    }
    const grown = new Uint8Array(this.buf.length + n);
    grown.set(this.buf);
    grown.set(chunk.subarray(0, n), this.buf.length);
    this.buf = grown;
    return true;
  }

  /** Removes and returns the first `n` buffered bytes. */
  take(n: number): Uint8Array {
    const taken = this.buf.slice(0, n);
    this.buf = this.buf.slice(n);
    return taken;
  }

  /** Closes the connection; closing it twice is fine. */
  close(): void {
    try {
      this.conn.close();
    } catch {
      // Closed already.
    }
  }
}
