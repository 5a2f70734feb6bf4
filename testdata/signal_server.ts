// A server that drains on SIGTERM; used by server_test.ts. With the argument
// `interval`, the program also keeps an interval running, which alone would
// keep the process alive.
import { serve } from "../server.ts";

if (Deno.args[0] === "interval") setInterval(() => {}, 1_000);

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
console.log("finished");
