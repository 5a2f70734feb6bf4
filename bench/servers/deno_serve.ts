// Copyright 2026 the Reaper authors. MIT license.
/**
 * Benchmark server: raw `Deno.serve` answering `Hello, World!`.
 *
 * Usage: `deno run --allow-net bench/servers/deno_serve.ts [PORT]`. Listens
 * on 127.0.0.1 (PORT 0 = any free port) and prints
 * `Listening on http://127.0.0.1:PORT/` once ready.
 *
 * @module
 */

const port = Number(Deno.args[0] ?? "8000");

Deno.serve({
  port,
  hostname: "127.0.0.1",
  onListen({ hostname, port }) {
    console.log(`Listening on http://${hostname}:${port}/`);
  },
}, () => new Response("Hello, World!"));
