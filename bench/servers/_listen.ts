// Copyright 2026 the Reaper authors. MIT license.
/**
 * The accept loop shared by the benchmark servers on `Deno.listen`.
 *
 * @module
 */

/**
 * Listens on 127.0.0.1, prints `Listening on http://127.0.0.1:PORT/` (the
 * line the benchmark scripts wait for) and serves each connection with
 * `serveConn`, closing it when `serveConn` ends or throws (a client that
 * went away).
 *
 * @param port The port; `0` picks a free one.
 * @param serveConn Serves one connection until it is done.
 */
export async function listenAndServe(
  port: number,
  serveConn: (conn: Deno.TcpConn) => Promise<void>,
): Promise<void> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  console.log(`Listening on http://127.0.0.1:${listener.addr.port}/`);
  for await (const conn of listener) {
    serveConn(conn).catch(() => {}).finally(() => {
      try {
        conn.close();
      } catch {
        // Closed already.
      }
    });
  }
}
