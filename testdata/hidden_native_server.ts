// Hides the runtime's internal HTTP entry point, then serves with
// engine "auto"; used by server_test.ts to prove the fallback.
// deno-lint-ignore no-explicit-any
const internal = (Deno as any)[(Deno as any).internal];
try {
  delete internal.serveHttpOnConnection;
} catch {
  // Frozen: replace it by a broken one instead.
}
if (internal.serveHttpOnConnection) {
  Object.defineProperty(internal, "serveHttpOnConnection", {
    value: undefined,
  });
}
const { serve } = await import("../server.ts");
const server = serve(
  { port: 0, hostname: "127.0.0.1", signals: false },
  () => new Response("ok"),
);
console.log(`engine ${await server.engine}`);
console.log(`why ${await server.engineReason}`);
const res = await fetch(`http://127.0.0.1:${server.addr.port}/`);
console.log(`answer ${await res.text()}`);
await server.shutdown();
