// Serves one request, lets one connection idle out, and lets Deno's
// OpenTelemetry console exporter print Reaper's metrics; used by
// server_test.ts. With an argument, it serves on that Unix socket path
// instead of TCP.
import { serve } from "../server.ts";

const path = Deno.args[0];
const common = {
  engine: "portable",
  idleTimeout: 100,
  tickInterval: 20,
  signals: false,
  onListen() {},
} as const;
const handler = () => new Response("ok");
if (path === undefined) {
  const server = serve({ ...common, port: 0, hostname: "127.0.0.1" }, handler);
  const res = await fetch(`http://127.0.0.1:${server.addr.port}/`);
  await res.text();
  await new Promise((r) => setTimeout(r, 400)); // the exporter runs every 100 ms
  await server.shutdown();
} else {
  const server = serve({ ...common, path }, handler);
  const client = Deno.createHttpClient({ proxy: { transport: "unix", path } });
  const res = await fetch("http://localhost/", { client });
  await res.text();
  await new Promise((r) => setTimeout(r, 400));
  client.close();
  await server.shutdown();
}
