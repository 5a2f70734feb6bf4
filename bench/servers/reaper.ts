// Copyright 2026 the Reaper authors. MIT license.
/**
 * Benchmark server: Reaper answering `Hello, World!`.
 *
 * Usage:
 * `deno run --allow-net bench/servers/reaper.ts [PORT] [ENGINE] [OPTIONS_JSON]`
 *
 * - `PORT`: 0 = any free port; default 8000.
 * - `ENGINE`: `portable`, `native` or `auto`; default `portable`.
 * - `OPTIONS_JSON`: more `ServeOptions` as JSON, merged over the defaults
 *   below (every timeout on: `idleTimeout` 65 s, `headerTimeout` 20 s,
 *   `requestTimeout` 60 s).
 * - `log-closes` (fourth argument): print `Closed CLIENT_PORT REASON` for every
 *   connection that closes (used by `bench/lifetime.ts`).
 *
 * Listens on 127.0.0.1, prints `Listening on http://127.0.0.1:PORT/` once
 * ready and `Engine: NAME` once the engine is chosen.
 *
 * @module
 */

import { serve, type ServeOptions } from "../../mod.ts";

const port = Number(Deno.args[0] ?? "8000");
const engine = (Deno.args[1] ?? "portable") as ServeOptions["engine"];
const extra = JSON.parse(Deno.args[2] ?? "{}") as ServeOptions;
const logCloses = Deno.args[3] === "log-closes";

const server = serve({
  port,
  hostname: "127.0.0.1",
  engine,
  idleTimeout: 65_000,
  headerTimeout: 20_000,
  requestTimeout: 60_000,
  ...extra,
  onListen({ hostname, port }) {
    console.log(`Listening on http://${hostname}:${port}/`);
  },
  ...(logCloses
    ? {
      onConnectionState({ remoteAddr, state, reason }) {
        if (state === "closed") {
          const client = "port" in remoteAddr
            ? remoteAddr.port
            : remoteAddr.path;
          console.log(`Closed ${client} ${reason}`);
        }
      },
    }
    : {}),
}, () => new Response("Hello, World!"));
server.engine.then((name) => console.log(`Engine: ${name}`));
