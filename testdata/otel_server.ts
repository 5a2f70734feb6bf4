// Serves one request, lets one connection idle out, and lets Deno's
// OpenTelemetry console exporter print Reaper's metrics until its standard
// input closes; used by server_test.ts, which closes it once it has read the
// metrics it waits for. With an argument, it serves on that Unix socket path
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
const server = path === undefined
  ? serve({ ...common, port: 0, hostname: "127.0.0.1" }, handler)
  : serve({ ...common, path }, handler);
const client = path === undefined
  ? undefined
  : Deno.createHttpClient({ proxy: { transport: "unix", path } });
const url = "port" in server.addr
  ? `http://127.0.0.1:${server.addr.port}/`
  : "http://localhost/";
const res = await fetch(url, { client });
await res.text();
// The exporter prints on its own period; the parent says when it has seen
// enough by closing standard input.
for await (const _ of Deno.stdin.readable) {
  // Nothing is sent: only the end matters.
}
client?.close();
await server.shutdown();
