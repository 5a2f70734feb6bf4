// Raw Deno.serve with an interval running; used by parity_test.ts to show
// how the process ends on SIGTERM without Reaper.
setInterval(() => {}, 1_000);
Deno.serve({
  port: 0,
  hostname: "127.0.0.1",
  onListen: (addr) => console.log(`port ${addr.port}`),
}, () => new Response("done"));
