// Serves one request, lets one connection idle out, and lets Deno's
// OpenTelemetry console exporter print Reaper's metrics; used by
// server_test.ts.
import { serve } from "../server.ts";

const server = serve({
  port: 0,
  hostname: "127.0.0.1",
  engine: "portable",
  idleTimeout: 100,
  tickInterval: 20,
  signals: false,
  onListen() {},
}, () => new Response("ok"));
const res = await fetch(`http://127.0.0.1:${server.addr.port}/`);
await res.text();
await new Promise((r) => setTimeout(r, 400)); // the exporter runs every 100 ms
await server.shutdown();
