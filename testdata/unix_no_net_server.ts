// Serves on the Unix socket at Deno.args[0] with engine "auto", in a process
// run without net permission; used by server_unix_test.ts to show that the
// self-check falls back without asking for loopback access, and serves.
import { serve } from "../server.ts";

const path = Deno.args[0];
const server = serve(
  { path, signals: false, onListen() {} },
  () => new Response("ok"),
);
console.log(`engine ${await server.engine}`);
console.log(`why ${await server.engineReason}`);
const conn = await Deno.connect({ transport: "unix", path });
await conn.write(
  new TextEncoder().encode(
    "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
  ),
);
const answer = await new Response(conn.readable).text();
console.log(`answer ${answer.split("\r\n")[0]} ${answer.endsWith("ok")}`);
await server.shutdown();
