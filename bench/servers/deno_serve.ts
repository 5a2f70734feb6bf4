// Copyright 2026 the Reaper authors. MIT license.
/**
 * Benchmark server: raw `Deno.serve` answering `Hello, World!`.
 *
 * Usage: `deno run --allow-net bench/servers/deno_serve.ts [PORT] [request]`.
 * Listens on 127.0.0.1 (PORT 0 = any free port) and prints
 * `Listening on http://127.0.0.1:PORT/` once ready.
 *
 * The handler takes no parameter, so the runtime answers without building a
 * `Request` (`Deno.serve`'s path for a handler whose `length` is 0). With
 * `request`, the handler takes `(req)`, as any handler that reads its
 * request does, and the runtime builds one per request, as it does for
 * Reaper's native engine, which needs each request's `completed`.
 *
 * @module
 */

const port = Number(Deno.args[0] ?? "8000");
const withRequest = Deno.args[1] === "request";

const hello = (): Response => new Response("Hello, World!");
// `length` 1: the runtime builds the `Request` (and its info) it is given.
const helloFor = (_req: Request): Response => new Response("Hello, World!");

Deno.serve({
  port,
  hostname: "127.0.0.1",
  onListen({ hostname, port }) {
    console.log(`Listening on http://${hostname}:${port}/`);
  },
}, withRequest ? helloFor : hello);
