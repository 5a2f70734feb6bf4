// A server that drains on SIGTERM; used by server_test.ts.
import { serve } from "../server.ts";

const server = serve({
  port: 0,
  hostname: "127.0.0.1",
  shutdownGrace: 100,
  onListen: (addr) => console.log(`port ${addr.port}`),
}, async (req) => {
  const path = new URL(req.url).pathname;
  if (path === "/slow") await new Promise((r) => setTimeout(r, 400));
  if (path === "/hang") await new Promise(() => {});
  return new Response("done");
});
await server.finished;
