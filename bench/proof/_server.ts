// Copyright 2026 the Reaper authors. MIT license.
/**
 * The server under test in the proof suite: Reaper or raw `Deno.serve`, with
 * one handler for both.
 *
 * Usage:
 * `deno run --allow-net [--unstable-net] bench/proof/_server.ts KIND PORT [ENGINE] [OPTIONS_JSON]`
 *
 * - `KIND`: `reaper` or `deno` (raw `Deno.serve`).
 * - `PORT`: 0 = any free port.
 * - `ENGINE`: Reaper's engine, `portable`, `native` or `auto`; default
 *   `portable`.
 * - `OPTIONS_JSON`: Reaper `ServeOptions` merged over its defaults; for
 *   `deno` only `reusePort` and `shutdownOnSigterm` are read. With
 *   `shutdownOnSigterm: true`, raw `Deno.serve` does what its documentation
 *   suggests for a graceful stop: on SIGTERM it calls `server.shutdown()`,
 *   then exits once that resolves; it also prints `Engine: raw` once
 *   listening, as Reaper prints its engine.
 *
 * The handler, the same on both servers (as in `bench/servers/*.ts`, plus
 * two things the attacks need): `GET /big` answers 1 MiB (a response larger
 * than the loopback socket buffers, for the slow-read attack); a request
 * with a body has it read to the end first (so a slow body holds the
 * handler, as in a real upload); anything else answers `Hello, World!`.
 *
 * It prints `Listening on http://127.0.0.1:PORT/` once ready (the line
 * `bench/_servers.ts` waits for). Reaper also prints `Engine: NAME`, one line
 * `Closed CLIENT_PORT REASON IDLE_MS EPOCH_MS` a closed connection (from
 * `onConnectionState`: the close reason, the milliseconds since the
 * connection's last activity, and the wall-clock time of the close), and on
 * SIGUSR2 one line `Stats JSON` with `server.stats()`. On SIGTERM Reaper
 * drains gracefully (its own signal handling) and exits.
 *
 * The `shutdownDelay` hook: an `OPTIONS_JSON` with `shutdownDelay` is passed
 * on only when this Reaper has that option (`DEFAULTS.shutdownDelay` in
 * `_options.ts`); otherwise the server prints
 * `Unsupported: shutdownDelay` and exits with code 3, so that no script
 * reports a delay it did not get.
 *
 * @module
 */

const kind = Deno.args[0];
const port = Number(Deno.args[1] ?? "0");
const engine = Deno.args[2] ?? "portable";
const extra = JSON.parse(Deno.args[3] ?? "{}") as Record<string, unknown>;

const BIG = new Uint8Array(1 << 20).fill(120);
const hello = (): Response => new Response("Hello, World!");

function handler(req: Request): Response | Promise<Response> {
  if (req.body === null) {
    return req.url.endsWith("/big") ? new Response(BIG) : hello();
  }
  return req.arrayBuffer().then(
    hello,
    () => new Response("Body not read", { status: 400 }),
  );
}

if (kind === "deno") {
  const server = Deno.serve({
    port,
    hostname: "127.0.0.1",
    reusePort: extra.reusePort === true ? true : undefined,
    onListen({ hostname, port }) {
      console.log(`Listening on http://${hostname}:${port}/`);
      if (extra.shutdownOnSigterm === true) console.log("Engine: raw");
    },
  }, handler);
  if (extra.shutdownOnSigterm === true) {
    Deno.addSignalListener("SIGTERM", () => {
      server.shutdown().then(() => Deno.exit(0));
    });
  }
} else if (kind === "reaper") {
  const { serve } = await import("../../mod.ts");
  if ("shutdownDelay" in extra) {
    const { DEFAULTS } = await import("../../_options.ts");
    if (!("shutdownDelay" in DEFAULTS)) {
      console.log("Unsupported: shutdownDelay");
      Deno.exit(3);
    }
  }
  const server = serve({
    port,
    hostname: "127.0.0.1",
    engine: engine as "portable" | "native" | "auto",
    ...extra,
    onListen({ hostname, port }) {
      console.log(`Listening on http://${hostname}:${port}/`);
    },
    onConnectionState({ remoteAddr, state, reason, idleMs }) {
      if (state !== "closed") return;
      const client = "port" in remoteAddr ? remoteAddr.port : 0;
      console.log(
        `Closed ${client} ${reason} ${Math.round(idleMs)} ${Date.now()}`,
      );
    },
  }, handler);
  server.engine.then((name) => console.log(`Engine: ${name}`));
  Deno.addSignalListener("SIGUSR2", () => {
    console.log(`Stats ${JSON.stringify(server.stats())}`);
  });
} else {
  console.error(`Unknown server kind: ${JSON.stringify(kind)}`);
  Deno.exit(2);
}
