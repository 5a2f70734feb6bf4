// Copyright 2026 the Reaper authors. MIT license.
/**
 * Benchmark server for HTTP/2: raw `Deno.serve` or Reaper's native engine
 * answering `Hello, World!`, over TLS (ALPN h2) or h2c (prior knowledge).
 *
 * Usage:
 * `deno run --allow-net --allow-read bench/servers/h2.ts KIND PORT [CERT KEY]`
 *
 * - `KIND`: `raw` or `native`.
 * - `PORT`: 0 = any free port.
 * - `CERT`, `KEY`: PEM files; without them the server speaks h2c (and
 *   HTTP/1.1) on plain TCP.
 *
 * Reaper runs with every timeout on (`idleTimeout` 65 s, `headerTimeout`
 * 20 s, `requestTimeout` 60 s). Prints `Listening on http://127.0.0.1:PORT/`
 * once ready (also over TLS, so that `bench/h2load.sh` reads one form).
 *
 * @module
 */

import { serve } from "../../mod.ts";

const [kind, portText, certFile, keyFile] = Deno.args;
if (kind !== "raw" && kind !== "native") {
  throw new TypeError(
    `Cannot start: KIND must be raw or native, received ${
      JSON.stringify(kind)
    }`,
  );
}
const port = Number(portText ?? "0");
const tls = certFile !== undefined && keyFile !== undefined
  ? {
    cert: Deno.readTextFileSync(certFile),
    key: Deno.readTextFileSync(keyFile),
  }
  : {};
const onListen = ({ port }: Deno.NetAddr) =>
  console.log(`Listening on http://127.0.0.1:${port}/`);
const handler = () => new Response("Hello, World!");

if (kind === "raw") {
  Deno.serve({ port, hostname: "127.0.0.1", ...tls, onListen }, handler);
} else {
  serve({
    port,
    hostname: "127.0.0.1",
    ...tls,
    engine: "native",
    idleTimeout: 65_000,
    headerTimeout: 20_000,
    requestTimeout: 60_000,
    onListen,
  }, handler);
}
