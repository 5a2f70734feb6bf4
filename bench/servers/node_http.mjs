// Copyright 2026 the Reaper authors. MIT license.
/**
 * Benchmark server: `node:http` answering `Hello, World!`, run by Node
 * (`node bench/servers/node_http.mjs [PORT] [KEEP_ALIVE_MS]`) or by Deno
 * (`deno run --allow-net --allow-env bench/servers/node_http.mjs ...`).
 *
 * Listens on 127.0.0.1 (PORT 0 = any free port) and prints its timeout
 * settings and then `Listening on http://127.0.0.1:PORT/` once ready. Node's own timeout
 * defaults apply unless KEEP_ALIVE_MS is given, which sets
 * `server.keepAliveTimeout` (the idle-memory benchmark raises it so that idle
 * connections stay open while it measures).
 *
 * @module
 */

import http from "node:http";
import process from "node:process";

const port = Number(process.argv[2] ?? "8000");
const keepAlive = process.argv[3];

const server = http.createServer((_req, res) => {
  res.writeHead(200, { "content-type": "text/plain;charset=UTF-8" });
  res.end("Hello, World!");
});
if (keepAlive !== undefined) server.keepAliveTimeout = Number(keepAlive);
server.listen(port, "127.0.0.1", () => {
  console.log(
    `Settings: keepAliveTimeout ${server.keepAliveTimeout} ms, headersTimeout ${server.headersTimeout} ms, requestTimeout ${server.requestTimeout} ms`,
  );
  console.log(`Listening on http://127.0.0.1:${server.address().port}/`);
});
